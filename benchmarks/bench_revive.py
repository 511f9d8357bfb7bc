"""Does ``revive()`` help in the lab's high-learning-rate setting? (issue 11)

The lab's dying-ReLU setup: a 4x64 ReLU MLP on scikit-learn's digits, Adam at lr 0.03,
batch 32, 8 epochs, an ``ActivationMonitor`` window per epoch. Configurations: no revive, and
``revive()`` after every epoch but the last (checked on the training set at the current
weights) with each Adam-state variant ("neutral": revived rows get the live rows' mean second
moment; "bias_correction": per-element step counts, a fresh Adam's bias correction). Per seed:
the mean test accuracy of the last 3 epochs, and the dead units at the final weights (never
positive on any training sample). Targets: reviving does not lower the accuracy and leaves
fewer dead units. Writes bench-results/revive.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

from relukit.diagnostics import ActivationMonitor, revive
from relukit.lab.data import digits
from relukit.lab.experiments import LabConfig, _train_epoch
from relukit.lab.models import accuracy, mlp

CONFIGS = ("no revive", "revive, neutral", "revive, bias_correction")


def dead_at_final_weights(model: torch.nn.Module, x: torch.Tensor) -> dict[str, int]:
    """Per activation layer: units never positive on any row of ``x`` at the current weights."""
    out: dict[str, int] = {}
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ReLU):
            hooks.append(module.register_forward_hook(
                lambda m, i, y, name=name: out.__setitem__(name, int((y <= 0).all(0).sum()))))
    model.eval()
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return out


def run(cfg: LabConfig, data, config: str, seed: int) -> dict:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = mlp("relu", in_features=data.features, width=cfg.width, depth=cfg.dying_depth,
                classes=data.classes, lean=False)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.high_lr)
    steps = -(-data.x_train.shape[0] // cfg.batch_size)
    accs, revived = [], 0
    with ActivationMonitor(model, optimizer=opt, window=steps) as monitor:
        for epoch in range(cfg.dying_epochs):
            _train_epoch(model, opt, data, cfg.batch_size, gen, after_step=monitor.step)
            with monitor.paused():
                accs.append(accuracy(model, data.x_test, data.y_test))
            if config != "no revive" and epoch < cfg.dying_epochs - 1:
                report = monitor.history[-1]
                if report.dead_units:
                    summary = revive(model, report, optimizer=opt, monitor=monitor,
                                     check_inputs=data.x_train,
                                     adam_state=config.split(", ")[1])
                    revived += summary.total
    dead = dead_at_final_weights(model, data.x_train)
    return {"seed": seed, "test_accuracy": accs, "last3": statistics.mean(accs[-3:]),
            "dead_at_final_weights": dead, "dead_total": sum(dead.values()),
            "worst_layer_dead_fraction": max(dead.values()) / cfg.width, "revived": revived}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", default="bench-results/revive.json")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(1)
    cfg = LabConfig()
    data = digits()
    results: dict[str, list[dict]] = {c: [] for c in CONFIGS}
    for seed in range(args.seeds):
        for config in CONFIGS:
            results[config].append(run(cfg, data, config, seed))
    summary = {}
    units = cfg.width * cfg.dying_depth
    print(f"{'configuration':<26} {'acc (last 3)':>13} {'dead units':>11} {'worst layer':>12} "
          f"{'revived':>8}")
    for config, runs in results.items():
        acc = statistics.mean(r["last3"] for r in runs)
        acc_sd = statistics.pstdev(r["last3"] for r in runs)
        dead = statistics.mean(r["dead_total"] for r in runs)
        worst = statistics.mean(r["worst_layer_dead_fraction"] for r in runs)
        rev = statistics.mean(r["revived"] for r in runs)
        summary[config] = {"accuracy_last3_mean": acc, "accuracy_last3_std": acc_sd,
                           "dead_units_at_final_weights_mean": dead,
                           "worst_layer_dead_fraction_mean": worst, "revived_mean": rev}
        print(f"{config:<26} {acc:>8.3f}±{acc_sd:.3f} {dead:>6.1f}/{units} {100 * worst:>11.1f}% "
              f"{rev:>8.1f}")
    base = summary["no revive"]
    verdict = {c: {"accuracy_not_lower": s["accuracy_last3_mean"] >= base["accuracy_last3_mean"],
                   "fewer_dead": s["dead_units_at_final_weights_mean"]
                   < base["dead_units_at_final_weights_mean"]}
               for c, s in summary.items() if c != "no revive"}
    print("verdict:", json.dumps(verdict))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "benchmark": "revive", "setting": {"optimizer": "Adam", "lr": cfg.high_lr,
                                           "width": cfg.width, "depth": cfg.dying_depth,
                                           "batch": cfg.batch_size, "epochs": cfg.dying_epochs},
        "seeds": args.seeds, "summary": summary, "verdict": verdict, "runs": results,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
