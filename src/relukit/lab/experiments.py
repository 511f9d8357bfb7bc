"""The lab's experiments. Each takes a ``LabConfig``, the data and a progress callback, and
returns plain numbers (lists, dicts, floats) that the report, the verdicts and results.json
share. Same config and seed, same numbers: every run seeds torch itself.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from .. import catalogue
from .data import Split
from .models import accuracy, linear_layers, mlp

Advance = Callable[[], None]

#: Bits per element of the quantised derivative the memory experiment shows for gelu/silu/mish.
KBIT_BITS = 4

DEFAULT_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "selu", "gelu")
#: The dying experiment compares ReLU with the variants that are said to fix it.
DYING_ACTIVATIONS = ("relu", "leaky_relu", "prelu", "elu")


@dataclass(frozen=True)
class LabConfig:
    activations: tuple[str, ...] = DEFAULT_ACTIVATIONS
    seeds: int = 5
    # convergence: an SGD+momentum MLP on digits, deep enough for saturation to matter
    epochs: int = 20
    width: int = 64
    depth: int = 6
    lr: float = 0.01
    momentum: float = 0.9
    batch_size: int = 32
    target_accuracy: float = 0.90
    # gradient flow at initialisation
    flow_depth: int = 24
    flow_width: int = 128
    flow_batch: int = 256
    # dying ReLU: Adam at a normal and a too-high learning rate, and a negative bias init
    dying_activations: tuple[str, ...] = DYING_ACTIVATIONS
    dying_epochs: int = 8
    dying_depth: int = 4
    normal_lr: float = 1e-3
    high_lr: float = 3e-2
    negative_bias: float = -2.0
    # memory: the convergence MLP at a larger batch
    memory_batch: int = 256

    @classmethod
    def preset(cls, quick: bool, **overrides) -> LabConfig:
        base = cls(seeds=2, epochs=6, flow_depth=20, dying_epochs=4) if quick else cls()
        overrides = {k: v for k, v in overrides.items() if v is not None}
        return replace(base, **overrides)

    def to_dict(self) -> dict:
        return asdict(self)


def _train_epoch(model, opt, data: Split, batch_size: int, gen: torch.Generator, after_step=None):
    model.train()
    n = data.x_train.shape[0]
    perm = torch.randperm(n, generator=gen).to(data.x_train.device)
    total = torch.zeros((), dtype=torch.float64, device=data.x_train.device)
    for start in range(0, n, batch_size):
        idx = perm[start:start + batch_size]
        loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if after_step is not None:
            after_step()
        total += loss.detach() * len(idx)  # on the device: no host sync per step
    return float(total) / n


@torch.no_grad()
def _test_loss(model, data: Split) -> float:
    model.eval()
    return float(F.cross_entropy(model(data.x_test), data.y_test))


# ----------------------------------------------------------------------------- 2. gradient flow


def gradient_flow(cfg: LabConfig, data: Split, advance: Advance) -> dict:
    """Gradient norm of each layer's weight at initialisation, input layer first.

    One batch, cross-entropy loss, the usual init per activation; averaged over seeds.
    """
    from ..diagnostics import gradflow

    out: dict[str, list[float]] = {}
    vanishing: dict[str, int] = {}
    for act in cfg.activations:
        runs, weight_norms = [], []
        for seed in range(cfg.seeds):
            torch.manual_seed(seed)
            model = mlp(act, in_features=data.features, width=cfg.flow_width,
                        depth=cfg.flow_depth, classes=data.classes).to(data.x_train.device)
            x, y = data.x_train[: cfg.flow_batch], data.y_train[: cfg.flow_batch]
            F.cross_entropy(model(x), y).backward()
            layers = linear_layers(model)
            runs.append([float(lin.weight.grad.norm()) for lin in layers
                         if lin.weight.grad is not None])
            weight_norms.append([float(lin.weight.detach().norm()) for lin in layers])
        out[act] = [sum(col) / len(col) for col in zip(*runs, strict=True)]
        # the diagnostics' own rule, so the lab and the monitor agree on "vanishing"
        stats = gradflow.verdicts([str(i) for i in range(len(out[act]))], out[act],
                                  [sum(c) / len(c) for c in zip(*weight_norms, strict=True)])
        vanishing[act] = sum(g.verdict == "vanishing" for g in stats)
        advance()
    return {"depth": cfg.flow_depth, "width": cfg.flow_width, "grad_norms": out,
            "vanishing_layers": vanishing, "vanishing_ratio": gradflow.DEFAULT_VANISHING_RATIO}


# ----------------------------------------------------------------------------- 3. convergence


def _sparsity_by_layer(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    from ..diagnostics import ActivationMonitor

    model.eval()
    with ActivationMonitor(model) as monitor, torch.no_grad():
        model(x)
        report = monitor.report()
    return {layer.name: float(layer.sparsity) for layer in report.layers}


def convergence(cfg: LabConfig, data: Split, advance: Advance) -> dict:
    """Test accuracy and loss per epoch, per activation and seed; sparsity before/after."""
    runs: dict[str, list[dict]] = {}
    sparsity: dict[str, dict] = {}
    for act in cfg.activations:
        runs[act] = []
        for seed in range(cfg.seeds):
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            model = mlp(act, in_features=data.features, width=cfg.width, depth=cfg.depth,
                        classes=data.classes).to(data.x_train.device)
            if seed == 0:
                sparsity[act] = {"init": _sparsity_by_layer(model, data.x_test)}
            opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
            acc, test_loss, train_loss = [], [], []
            for _ in range(cfg.epochs):
                train_loss.append(_train_epoch(model, opt, data, cfg.batch_size, gen))
                acc.append(accuracy(model, data.x_test, data.y_test))
                test_loss.append(_test_loss(model, data))
                advance()
            if seed == 0:
                sparsity[act]["trained"] = _sparsity_by_layer(model, data.x_test)
            runs[act].append({"seed": seed, "test_accuracy": acc, "test_loss": test_loss,
                              "train_loss": train_loss})
    summary = {act: _convergence_summary(rs, cfg.target_accuracy) for act, rs in runs.items()}
    return {"runs": runs, "summary": summary, "sparsity": sparsity,
            "target_accuracy": cfg.target_accuracy}


def epochs_to_target(accuracies: list[float], target: float) -> int | None:
    """First epoch (1-based) whose test accuracy reaches ``target``; None if never."""
    for i, a in enumerate(accuracies):
        if a >= target:
            return i + 1
    return None


def _mean_std(rows: list[list[float]]) -> tuple[list[float], list[float]]:
    t = torch.tensor(rows, dtype=torch.float64)
    std = t.std(dim=0, unbiased=False) if t.shape[0] > 1 else torch.zeros(t.shape[1])
    return t.mean(dim=0).tolist(), std.tolist()


def _convergence_summary(runs: list[dict], target: float) -> dict:
    acc_mean, acc_std = _mean_std([r["test_accuracy"] for r in runs])
    loss_mean, loss_std = _mean_std([r["test_loss"] for r in runs])
    reached = [epochs_to_target(r["test_accuracy"], target) for r in runs]
    hit = [e for e in reached if e is not None]
    return {
        "accuracy_mean": acc_mean, "accuracy_std": acc_std,
        "loss_mean": loss_mean, "loss_std": loss_std,
        "final_accuracy": acc_mean[-1], "final_accuracy_std": acc_std[-1],
        "epochs_to_target": reached,
        "seeds_reaching_target": len(hit),
    }


# ----------------------------------------------------------------------------- 4. dying ReLU

REGIMES = ("normal lr", "high lr", "negative bias", "high lr + revive")


def _dying_run(cfg: LabConfig, data: Split, act: str, regime: str, seed: int) -> dict:
    from ..diagnostics import ActivationMonitor, revive

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    bias = cfg.negative_bias if regime == "negative bias" else 0.0
    lr = cfg.normal_lr if regime in ("normal lr", "negative bias") else cfg.high_lr
    model = mlp(act, in_features=data.features, width=cfg.width, depth=cfg.dying_depth,
                classes=data.classes, bias=bias).to(data.x_train.device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = -(-data.x_train.shape[0] // cfg.batch_size)
    accs, revived = [], []
    with ActivationMonitor(model, optimizer=opt, window=steps_per_epoch) as monitor:
        for epoch in range(cfg.dying_epochs):
            _train_epoch(model, opt, data, cfg.batch_size, gen, after_step=monitor.step)
            with monitor.paused():  # test data must not make a unit look alive
                accs.append(accuracy(model, data.x_test, data.y_test))
            # not after the last epoch: its window shows whether revived units stayed alive
            if regime == "high lr + revive" and epoch < cfg.dying_epochs - 1:
                report = monitor.history[-1]
                if report.dead_units:
                    # only units still dead at the current weights on the training data
                    revive(model, report, optimizer=opt, monitor=monitor,
                           check_inputs=data.x_train)
                revived.append(report.dead_units)
        history = monitor.dead_fraction_history()
        # each window explains its own deaths; keep every line once, in order
        causes = list(dict.fromkeys(c for rep in monitor.history for c in rep.causes))
        negative = {layer.name: layer.negative_fraction for layer in monitor.history[-1].layers
                    if layer.negative_fraction is not None}
    return {"lr": lr, "bias": bias, "test_accuracy": accs, "dead_fraction": history,
            "final_dead_fraction": {k: v[-1] for k, v in history.items()},
            "negative_fraction": negative, "causes": causes, "revived_units": revived}


def dying(cfg: LabConfig, data: Split, advance: Advance) -> dict:
    """Dead-unit fraction per layer over training at a normal and a too-high learning rate,
    with a negative bias init, and at the high rate with ``revive()`` after each epoch."""
    out: dict[str, dict] = {}
    acts = _dying_acts(cfg)
    for act in acts:
        out[act] = {}
        for regime in REGIMES:
            if regime == "high lr + revive" and act != "relu":
                continue
            out[act][regime] = _dying_run(cfg, data, act, regime, seed=0)
            advance()
    return {"runs": out, "normal_lr": cfg.normal_lr, "high_lr": cfg.high_lr,
            "negative_bias": cfg.negative_bias, "optimizer": "Adam"}


def _dying_acts(cfg: LabConfig) -> list[str]:
    return [a for a in cfg.dying_activations if a in cfg.activations]


def dying_steps(cfg: LabConfig) -> int:
    acts = _dying_acts(cfg)
    return len(acts) * (len(REGIMES) - 1) + (1 if "relu" in acts else 0)


# ----------------------------------------------------------------------------- 6. memory


def memory(cfg: LabConfig, data: Split, advance: Advance) -> dict:
    """Bytes saved for backward by one training step, torch.nn activations vs relukit's.

    Parameters are kept anyway and not counted; the Linear layers' saved inputs are.
    """
    from ..torch import convert, saved_tensor_bytes

    out = {}
    # a clone, not a view: a saved view would count the storage of the whole training set
    x = data.x_train[: cfg.memory_batch].clone()
    y = data.y_train[: cfg.memory_batch].clone()
    for act in cfg.activations:
        torch.manual_seed(0)
        reference = mlp(act, in_features=data.features, width=cfg.width, depth=cfg.depth,
                        classes=data.classes, lean=False).to(x.device)
        lean = copy.deepcopy(reference)
        summary = convert(lean)

        def step(model):
            return F.cross_entropy(model(x), y)

        before = saved_tensor_bytes(step, reference, exclude=list(reference.parameters()))
        after = saved_tensor_bytes(step, lean, exclude=list(lean.parameters()))
        reference.eval()  # rrelu's random slopes would make two train-mode forwards differ
        lean.eval()
        with torch.no_grad():
            same = bool(torch.equal(reference(x), lean(x)))
        row = {"torch_bytes": int(before), "relukit_bytes": int(after),
               "saving": 1.0 - after / before if before else 0.0,
               "outputs_identical": same, "replaced": summary.num_replaced}
        if catalogue.get(act).backward_needs == "input":
            # exact mode keeps the input as torch does; k bits keep a k-bit derivative code
            quantised = copy.deepcopy(reference)
            convert(quantised, bits=KBIT_BITS)
            row["relukit_kbit_bytes"] = int(
                saved_tensor_bytes(step, quantised, exclude=list(quantised.parameters())))
        out[act] = row
        advance()
    return {"batch": cfg.memory_batch, "width": cfg.width, "depth": cfg.depth,
            "kbit_bits": KBIT_BITS, "models": out}
