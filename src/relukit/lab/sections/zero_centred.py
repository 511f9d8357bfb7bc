"""Not zero-centred: ReLU's mean activation against tanh, ELU and SELU, through a deep net and
during training, and the ELU paper's claim that means near zero speed learning up."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import plots
from ..models import mlp
from ..section import Context, Figure, Section, Table
from ..stats import HIGHER, LOWER, compare, mean_curve, summarise
from ..verdicts import NOT_SUPPORTED, PARTLY, SUPPORTED, Verdict, combine, not_measured
from .convergence import layer_means

#: The activations compared with ReLU: the zero-centred (tanh) and the ones built to push the
#: mean towards zero (ELU, SELU).
CENTRED = ("tanh", "elu", "selu")
#: Means closer than this (absolute, in activation units) are a tie.
MEAN_MARGIN = 0.05


@dataclass
class ZeroCentredResult:
    seeds: int
    depth: int
    width: int
    net: str  #: the convergence MLP, in words
    target_error: float
    eval_every: int
    #: activation -> per seed, the mean output of each layer of a deep net at initialisation
    deep_init: dict[str, list[list[float]]] = field(default_factory=dict)
    #: activation -> per seed, per epoch, the mean over hidden layers (convergence MLP, best lr)
    training: dict[str, list[list[float]]] = field(default_factory=dict)
    steps: dict[str, list[float]] = field(default_factory=dict)  # steps to target, per seed
    best_lr: dict[str, str] = field(default_factory=dict)

    def mean_init(self, act: str):
        """Per seed, the mean over the deep net's layers of the mean output."""
        return summarise([statistics.fmean(row) for row in self.deep_init[act]])

    def mean_trained(self, act: str):
        return summarise([run[-1] for run in self.training[act] if run])


class ZeroCentred(Section):
    id = "zero_centred"
    title = "Not zero-centred: ReLU's mean activation"
    needs = ("convergence",)
    shows = ("The mean output of each layer: through a deep MLP at initialisation (one batch of "
             "digits), and averaged over the hidden layers of the convergence MLP after each "
             "training epoch (each activation at its best learning rate). Beside it, the steps "
             "each needed to reach the training-error target.")
    look_for = ("ReLU's outputs are never negative, so its mean is positive in every layer "
                "(for a unit-variance input about 0.4). tanh is symmetric about 0; ELU and SELU "
                "have a negative part that pulls the mean towards 0. Clevert, Unterthiner &amp; "
                "Hochreiter (2016) argue that means near zero speed learning up (a bias shift "
                "slows the gradient); compare the steps column: the mean is a fact of the "
                "function, the speed-up is a claim that may or may not hold on this data.")

    def steps(self, cfg) -> int:
        return 1

    def enabled(self, cfg) -> bool:
        return "relu" in cfg.activations

    def run(self, ctx: Context, advance) -> ZeroCentredResult:
        cfg, data = ctx.cfg, ctx.data
        conv = ctx.results["convergence"]
        acts = [a for a in ("relu", *CENTRED) if a in cfg.activations]
        res = ZeroCentredResult(cfg.seeds, cfg.flow_depth, cfg.flow_width,
                                conv.describe.get("mlp", ""), conv.target_error,
                                conv.eval_every)
        for act in acts:
            res.deep_init[act] = []
            for seed in range(cfg.seeds):
                torch.manual_seed(seed)
                model = mlp(act, in_features=data.features, width=cfg.flow_width,
                            depth=cfg.flow_depth, classes=data.classes,
                            lean=False).to(ctx.device)
                res.deep_init[act].append(layer_means(model, data.x_train[: cfg.flow_batch]))
            runs = conv.best("mlp", act)
            res.training[act] = [
                [statistics.fmean(r.layer_means_init or [0.0])]
                + [statistics.fmean(m) for m in (r.layer_means or [])] for r in runs]
            res.steps[act] = [float(s) for s in conv.steps("mlp", act)]
            res.best_lr[act] = conv.best_lr["mlp"][act]
        advance()
        return res

    def csv(self, r: ZeroCentredResult) -> Table:
        rows = []
        for act, per_seed in r.deep_init.items():
            for seed, row in enumerate(per_seed):
                rows += [[act, "deep net at init", seed, i + 1, v] for i, v in enumerate(row)]
        for act, per_seed in r.training.items():
            for seed, row in enumerate(per_seed):
                rows += [[act, "training (mean over layers)", seed, e, v]
                         for e, v in enumerate(row)]
        return Table(["activation", "measurement", "seed", "layer / epoch (0 = init)",
                      "mean activation"], rows)

    def figures(self, r: ZeroCentredResult, out: Path) -> list[Figure]:
        deep: dict[str, plots.Series] = {}
        for act, rows in r.deep_init.items():
            mean, std = mean_curve(rows)
            deep[act] = (list(range(1, len(mean) + 1)), mean, std)
        path = out / "zero_centred_depth.png"
        spec = plots.lines_figure(path, deep, hline=0.0, hline_label="zero",
                                  title=f"Mean activation per layer at initialisation "
                                        f"({r.depth} layers of {r.width}, {r.seeds} seeds)",
                                  xlabel="hidden layer (1 = input side)",
                                  ylabel="mean output of the layer")
        figs = [Figure("fig-zero-centred-depth", path, "Mean activation through a deep net.",
                       spec)]
        train: dict[str, plots.Series] = {}
        for act, rows in r.training.items():
            mean, std = mean_curve(rows)
            train[f"{act} (lr {r.best_lr[act]})"] = (list(range(len(mean))), mean, std)
        path = out / "zero_centred_training.png"
        spec = plots.lines_figure(path, train, hline=0.0, hline_label="zero",
                                  title=f"Mean activation during training, {r.net} "
                                        f"(mean over hidden layers, {r.seeds} seeds)",
                                  xlabel="epoch (0 = initialisation)",
                                  ylabel="mean output of the hidden layers")
        figs.append(Figure("fig-zero-centred-training", path,
                           "Mean activation over training.", spec))
        return figs

    def tables(self, r: ZeroCentredResult) -> list[Table]:
        rows = [[act, r.mean_init(act).text(".3f"), r.mean_trained(act).text(".3f"),
                 summarise(r.steps[act]).text(".0f"), r.best_lr[act]] for act in r.deep_init]
        return [Table(["activation", f"mean activation, {r.depth}-layer net at init",
                       "mean activation after training", f"steps to {r.target_error:.0%} "
                       "training error", "best lr"], rows,
                      "Means and speed side by side (mean ± std over seeds).")]

    def verdicts(self, r: ZeroCentredResult) -> list[Verdict]:
        others = [a for a in CENTRED if a in r.deep_init]
        claim = ("ReLU's outputs are not zero-centred: its mean activation is positive, while "
                 "tanh's, ELU's and SELU's are closer to zero.")
        if not others:
            return [not_measured("not_zero_centred", claim, "Needs tanh, elu or selu in "
                                 "--activations beside relu.", "fig-zero-centred-depth"),
                    not_measured("zero_centred_faster", "Means near zero speed learning up.",
                                 "Needs tanh, elu or selu in --activations.",
                                 "fig-zero-centred-training")]
        relu = r.mean_init("relu")
        zero = summarise([0.0] * relu.n)
        positive = compare(relu, zero, MEAN_MARGIN).outcome == HIGHER
        outcomes, parts, numbers = [positive], [], {"relu": relu.to_dict()}
        closer: list[str] = []
        for a in others:
            m = r.mean_init(a)
            # closer to zero: |mean| below ReLU's mean beyond the margin
            c = compare(summarise([abs(statistics.fmean(row)) for row in r.deep_init[a]]),
                        relu, MEAN_MARGIN)
            outcomes.append(c.outcome == LOWER)
            if c.outcome == LOWER:
                closer.append(a)
            parts.append(f"{a} {m.text('.3f')}")
            numbers[a] = {"mean": m.to_dict(), "closer_to_zero": c.to_dict()}
        status = (SUPPORTED if all(outcomes) else PARTLY if any(outcomes) else NOT_SUPPORTED)
        out = [Verdict(
            "not_zero_centred", claim, status,
            f"Mean activation over the layers of a {r.depth}-layer MLP at init ({r.seeds} "
            f"seeds): ReLU {relu.text('.3f')}, " + ", ".join(parts)
            + f"; after training ReLU {r.mean_trained('relu').text('.3f')}. Closer to zero "
            f"than ReLU (margin {MEAN_MARGIN:g}): {', '.join(closer) or 'none'}; not: "
            f"{', '.join(a for a in others if a not in closer) or 'none'}.", r.seeds, numbers,
            "fig-zero-centred-depth")]
        relu_steps = summarise(r.steps["relu"])
        outcomes2, parts2, numbers2 = [], [], {"relu": relu_steps.to_dict(), "closer": closer}
        if not closer:
            return out + [not_measured(
                "zero_centred_faster", "Activations whose mean is closer to zero learn faster "
                "than ReLU (Clevert et al. 2016).", "No activation run here had a mean closer "
                "to zero than ReLU's, so the claim has nothing to compare.",
                "fig-zero-centred-training")]
        for a in closer:
            s = summarise(r.steps[a])
            c = compare(s, relu_steps, r.eval_every)
            outcomes2.append(True if c.outcome == LOWER else False if c.outcome == HIGHER
                             else None)
            word = {LOWER: "faster", HIGHER: "slower"}.get(c.outcome, "a tie")
            parts2.append(f"{a} {s.text('.0f')} ({word}, margin {c.margin:.0f})")
            numbers2[a] = {"steps": s.to_dict(), "comparison": c.to_dict()}
        out.append(Verdict(
            "zero_centred_faster",
            "Activations whose mean is closer to zero learn faster than ReLU (Clevert et al. "
            "2016).", combine(outcomes2),
            f"Steps to {r.target_error:.0%} training error at each one's best lr, {r.net} "
            f"({r.seeds} seeds), for the activations whose mean is closer to zero: ReLU "
            f"{relu_steps.text('.0f')}; " + ", ".join(parts2) + ".",
            r.seeds, numbers2, "fig-zero-centred-training"))
        return out
