"""Which activation trains fastest? Each at its own best learning rate, steps to a training
error target, on a deep MLP and a small CNN."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import plots
from ..config import CNN_ACTIVATIONS
from ..models import cnn, mlp
from ..section import Context, Figure, Section, Table
from ..stats import HIGHER, LOWER, compare, last_mean, mean_curve, summarise
from ..training import steps_per_epoch, train_to_target
from ..verdicts import Verdict, combine, not_measured

NETS = ("mlp", "cnn")


@dataclass
class Run:
    seed: int
    steps_to_target: int | None
    steps: list[int]
    train_error: list[float]
    test_accuracy: list[float]
    sparsity_init: float | None = None  #: mean fraction of exact zeros over hidden layers
    sparsity_trained: float | None = None
    #: mean output of each hidden layer on the test data at init, and after each epoch
    layer_means_init: list[float] | None = None
    layer_means: list[list[float]] | None = None


@dataclass
class ConvergenceResult:
    target_error: float
    eval_every: int
    seeds: int
    lrs: list[float]
    max_steps: dict[str, int]  # net -> steps trained
    describe: dict[str, str]  # net -> architecture in words
    #: net -> activation -> lr (as "%g") -> runs, one per seed
    runs: dict[str, dict[str, dict[str, list[Run]]]] = field(default_factory=dict)
    best_lr: dict[str, dict[str, str]] = field(default_factory=dict)

    def steps(self, net: str, act: str, lr: str | None = None) -> list[float]:
        """Steps to target per seed; a seed that never got there counts as max_steps +
        eval_every (a lower bound, so a comparison with it is conservative)."""
        lr = lr or self.best_lr[net][act]
        cap = self.max_steps[net] + self.eval_every
        return [cap if r.steps_to_target is None else r.steps_to_target
                for r in self.runs[net][act][lr]]

    def reached(self, net: str, act: str, lr: str | None = None) -> int:
        lr = lr or self.best_lr[net][act]
        return sum(r.steps_to_target is not None for r in self.runs[net][act][lr])

    def best(self, net: str, act: str) -> list[Run]:
        return self.runs[net][act][self.best_lr[net][act]]


@torch.no_grad()
def layer_means(model, x) -> list[float]:
    """Mean output of each activation module ``act1, act2, ...`` on ``x`` (eval mode)."""
    outs: list[float] = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: outs.append(float(o.mean())))
             for name, m in model.named_children() if name.startswith("act")]
    was = model.training
    model.eval()
    try:
        model(x)
    finally:
        model.train(was)
        for h in hooks:
            h.remove()
    return outs


def _sparsity(model, x) -> float:
    from ...diagnostics import ActivationMonitor

    was = model.training
    model.eval()
    with ActivationMonitor(model, track_gradients=False) as monitor, torch.no_grad():
        model(x)
        layers = monitor.report().layers
    model.train(was)
    return sum(layer.sparsity for layer in layers) / len(layers) if layers else 0.0


class Convergence(Section):
    id = "convergence"
    title = "Training speed: ReLU against sigmoid and tanh"
    shows = ("How many SGD steps (batch 32, momentum 0.9) each activation needs before the "
             "training error falls to the target, on a deep MLP and on a small CNN. Every "
             "activation gets its own best learning rate from a small grid, so a slow one is "
             "not slow only because the shared rate suited another.")
    look_for = ("Where each curve crosses the dotted target line: further left is faster. "
                "The shaded band / error bars are the spread over seeds. The claim from the "
                "AlexNet paper is that ReLU nets train several times faster than tanh nets; on "
                "a small, well-initialised net on digits the gap may be absent or reversed — "
                "the verdict says which.")

    def _nets(self, cfg) -> dict[str, list[str]]:
        cnn_acts = [a for a in cfg.activations if a in CNN_ACTIVATIONS]
        return {"mlp": list(cfg.activations), **({"cnn": cnn_acts} if cnn_acts else {})}

    def steps(self, cfg) -> int:
        return sum(len(a) for a in self._nets(cfg).values()) * len(cfg.lrs) * cfg.seeds

    def run(self, ctx: Context, advance) -> ConvergenceResult:
        cfg, data = ctx.cfg, ctx.data
        per_epoch = steps_per_epoch(data, cfg.batch_size)
        epochs = {"mlp": cfg.epochs, "cnn": cfg.cnn_epochs}
        res = ConvergenceResult(
            cfg.target_error, cfg.eval_every, cfg.seeds, list(cfg.lrs),
            {n: epochs[n] * per_epoch for n in NETS},
            {"mlp": f"MLP, {cfg.depth} hidden layers of {cfg.width}",
             "cnn": f"CNN, 4 conv layers ({cfg.cnn_channels}-{2 * cfg.cnn_channels} channels)"})
        for net, acts in self._nets(cfg).items():
            res.runs[net] = {}
            for act in acts:
                res.runs[net][act] = {}
                for lr in cfg.lrs:
                    runs = []
                    for seed in range(cfg.seeds):
                        torch.manual_seed(seed)
                        gen = torch.Generator().manual_seed(seed)
                        if net == "mlp":
                            model = mlp(act, in_features=data.features, width=cfg.width,
                                        depth=cfg.depth, classes=data.classes, lean=False)
                        else:
                            model = cnn(act, channels=cfg.cnn_channels, classes=data.classes)
                        model.to(ctx.device)
                        sp0 = _sparsity(model, data.x_test) if net == "mlp" else None
                        means0 = layer_means(model, data.x_test) if net == "mlp" else None
                        means: list[list[float]] = []
                        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=cfg.momentum)
                        out = train_to_target(
                            model, opt, data, batch_size=cfg.batch_size, epochs=epochs[net],
                            eval_every=cfg.eval_every, target_error=cfg.target_error, gen=gen,
                            on_epoch=(lambda m, means=means: means.append(
                                layer_means(m, data.x_test))) if net == "mlp" else None)
                        sp1 = _sparsity(model, data.x_test) if net == "mlp" else None
                        runs.append(Run(seed, out["steps_to_target"], out["steps"],
                                        out["train_error"], out["test_accuracy"], sp0, sp1,
                                        means0, means if net == "mlp" else None))
                        advance()
                    res.runs[net][act][f"{lr:g}"] = runs
            res.best_lr[net] = {act: self._best(res, net, act) for act in acts}
        return res

    @staticmethod
    def _best(res: ConvergenceResult, net: str, act: str) -> str:
        """The lr with the fewest mean steps to target; ties broken by final accuracy."""
        def key(lr):
            acc = summarise([last_mean(r.test_accuracy) for r in res.runs[net][act][lr]]).mean
            return (summarise(res.steps(net, act, lr)).mean, -acc)
        return min(res.runs[net][act], key=key)

    def csv(self, r: ConvergenceResult) -> Table:
        rows = []
        for net, acts in r.runs.items():
            for act, by_lr in acts.items():
                for lr, runs in by_lr.items():
                    for run in runs:
                        rows.append([net, act, lr, lr == r.best_lr[net][act], run.seed,
                                     run.steps_to_target if run.steps_to_target is not None
                                     else "", last_mean(run.test_accuracy)])
        return Table(["net", "activation", "lr", "best lr", "seed",
                      f"steps to {r.target_error:.0%} training error (empty: not reached)",
                      "test accuracy (mean of last 3 epochs)"], rows)

    def figures(self, r: ConvergenceResult, out: Path) -> list[Figure]:
        figs = []
        for net in r.runs:
            series = {}
            for act in r.runs[net]:
                runs = r.best(net, act)
                mean, std = mean_curve([run.train_error for run in runs])
                series[f"{act} (lr {r.best_lr[net][act]})"] = (runs[0].steps, mean, std)
            path = out / f"convergence_{net}.png"
            spec = plots.lines_figure(
                path, series, logy=True, hline=r.target_error,
                hline_label=f"target {r.target_error:.0%}",
                title=f"Training error, {r.describe[net]} (each at its best lr, "
                      f"mean ± std of {r.seeds} seeds)",
                xlabel="SGD steps (batch 32)", ylabel="training error (log scale)")
            figs.append(Figure(f"fig-convergence-{net}", path,
                               f"Training error against steps, {r.describe[net]}.", spec))
        return figs

    def tables(self, r: ConvergenceResult) -> list[Table]:
        out = []
        for net in r.runs:
            rows = []
            for act in r.runs[net]:
                cells = []
                for lr in r.runs[net][act]:
                    s = summarise(r.steps(net, act, lr))
                    mark = " ★" if lr == r.best_lr[net][act] else ""
                    cells.append(f"{s.mean:.0f} ({r.reached(net, act, lr)}/{s.n}){mark}")
                acc = summarise([last_mean(x.test_accuracy) for x in r.best(net, act)])
                rows.append([act, *cells, acc.text(".3f")])
            out.append(Table(["activation", *[f"lr {lr}" for lr in r.runs[net][next(iter(
                r.runs[net]))]], "test accuracy at ★ (last 3 epochs)"], rows,
                f"{r.describe[net]}: mean steps to {r.target_error:.0%} training error "
                f"(seeds that reached it); ★ = best lr. A seed that never reached it counts "
                f"as {r.max_steps[net] + r.eval_every} steps."))
        return out

    def verdicts(self, r: ConvergenceResult) -> list[Verdict]:
        out = []
        for other in ("sigmoid", "tanh"):
            vid = f"relu_faster_than_{other}"
            claim = f"ReLU networks train faster than {other} networks."
            nets = [n for n in r.runs if "relu" in r.runs[n] and other in r.runs[n]]
            if not nets:
                out.append(not_measured(vid, claim, f"Needs relu and {other} in --activations.",
                                        "fig-convergence-mlp"))
                continue
            outcomes, parts, numbers = [], [], {}
            for net in nets:
                a, b = summarise(r.steps(net, "relu")), summarise(r.steps(net, other))
                c = compare(a, b, abs_margin=r.eval_every)
                outcomes.append(True if c.outcome == LOWER else None if c.outcome != HIGHER
                                else False)
                word = {LOWER: "ReLU faster", HIGHER: f"{other} faster",
                        "tie": "a tie"}[c.outcome]
                parts.append(
                    f"{r.describe[net]}: ReLU {a.text('.0f')} steps ({r.reached(net, 'relu')}"
                    f"/{a.n} seeds reached it, lr {r.best_lr[net]['relu']}), {other} "
                    f"{b.text('.0f')} ({r.reached(net, other)}/{b.n}, lr "
                    f"{r.best_lr[net][other]}): {word} (margin {c.margin:.0f} steps)")
                numbers[net] = {"relu": a.to_dict(), other: b.to_dict(),
                                "comparison": c.to_dict(),
                                "best_lr": {"relu": r.best_lr[net]["relu"],
                                            other: r.best_lr[net][other]}}
            sentence = (f"Steps to {r.target_error:.0%} training error, each activation at "
                        f"its best lr of {', '.join(f'{x:g}' for x in r.lrs)}: "
                        + "; ".join(parts) + ".")
            out.append(Verdict(vid, claim, combine(outcomes), sentence, r.seeds, numbers,
                               f"fig-convergence-{nets[0]}"))
        return out
