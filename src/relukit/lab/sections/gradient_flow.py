"""Gradient norm of each layer at initialisation: does it vanish with depth?"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import plots
from ..models import linear_layers, mlp
from ..section import Context, Figure, Section, Table
from ..stats import HIGHER, LOWER, above, summarise
from ..verdicts import NOT_SUPPORTED, PARTLY, SUPPORTED, Verdict, not_measured


@dataclass
class GradientFlowResult:
    depth: int
    width: int
    seeds: int
    vanishing_ratio: float
    #: per activation: per seed, the gradient norm of each layer's weight (input side first)
    grad_norms: dict[str, list[list[float]]]
    #: per activation: per seed, how many layers the diagnostics call "vanishing"
    vanishing_layers: dict[str, list[int]]

    def mean_norms(self, act: str) -> list[float]:
        return [statistics.fmean(c) for c in zip(*self.grad_norms[act], strict=True)]


class GradientFlow(Section):
    id = "gradient_flow"
    title = "Gradient flow at initialisation"
    shows = ("The size of the gradient that reaches each layer's weights of a deep MLP right "
             "after initialisation (one batch of digits, cross-entropy), averaged over seeds. "
             "Layer 1 is next to the input, the last next to the output.")
    look_for = ("A line that falls steeply towards layer 1 is a <em>vanishing gradient</em>: "
                "the early layers hardly learn. Sigmoid's derivative is at most 0.25, so each "
                "layer scales the gradient down; ReLU's is 1 on its active side and He init "
                "keeps the lines flat. The y axis is logarithmic: one grid line is 10x.")

    def steps(self, cfg) -> int:
        return len(cfg.activations)

    def run(self, ctx: Context, advance) -> GradientFlowResult:
        from ...diagnostics import gradflow

        cfg, data = ctx.cfg, ctx.data
        norms: dict[str, list[list[float]]] = {}
        vanishing: dict[str, list[int]] = {}
        for act in cfg.activations:
            norms[act], vanishing[act] = [], []
            for seed in range(cfg.seeds):
                torch.manual_seed(seed)
                model = mlp(act, in_features=data.features, width=cfg.flow_width,
                            depth=cfg.flow_depth, classes=data.classes,
                            lean=False).to(ctx.device)
                x, y = data.x_train[: cfg.flow_batch], data.y_train[: cfg.flow_batch]
                F.cross_entropy(model(x), y).backward()
                layers = linear_layers(model)
                g = [float(lin.weight.grad.norm()) if lin.weight.grad is not None else 0.0
                     for lin in layers]
                w = [float(lin.weight.detach().norm()) for lin in layers]
                norms[act].append(g)
                # the diagnostics' own rule, so the lab and the monitor agree on "vanishing"
                stats = gradflow.verdicts([str(i) for i in range(len(g))], g, w)
                vanishing[act].append(sum(s.verdict == "vanishing" for s in stats))
            advance()
        return GradientFlowResult(cfg.flow_depth, cfg.flow_width, cfg.seeds,
                                  gradflow.DEFAULT_VANISHING_RATIO, norms, vanishing)

    def csv(self, r: GradientFlowResult) -> Table:
        rows = []
        for act, per_seed in r.grad_norms.items():
            for seed, g in enumerate(per_seed):
                rows += [[act, seed, i + 1, v] for i, v in enumerate(g)]
        return Table(["activation", "seed", "layer (1 = input side)", "weight gradient norm"],
                     rows)

    def figures(self, r: GradientFlowResult, out: Path) -> list[Figure]:
        n = len(next(iter(r.grad_norms.values()))[0])
        series = {}
        for act in r.grad_norms:
            spread = [statistics.stdev(c) if len(c) > 1 else 0.0
                      for c in zip(*r.grad_norms[act], strict=True)]
            series[act] = (list(range(1, n + 1)), r.mean_norms(act), spread)
        path = out / "gradient_flow.png"
        spec = plots.lines_figure(
            path, series, logy=True, title=f"Gradient norm per layer at initialisation "
            f"({r.depth} hidden layers, width {r.width}, mean of {r.seeds} seeds)",
            xlabel="layer (1 = input side, last = output head)", ylabel="‖∂loss/∂W‖ (log scale)")
        return [Figure("fig-gradient-flow", path, "Gradient norm per layer at initialisation.",
                       spec)]

    def tables(self, r: GradientFlowResult) -> list[Table]:
        rows = []
        for act in r.grad_norms:
            m = r.mean_norms(act)
            rows.append([act, summarise(r.vanishing_layers[act]).text(".1f"),
                         f"{m[0] / m[-1]:.2g}" if m[-1] > 0 else "-"])
        return [Table(["activation", f"vanishing layers (of {r.depth + 1}), mean ± std",
                       "first layer / last layer gradient"], rows)]

    def verdicts(self, r: GradientFlowResult) -> list[Verdict]:
        claim = "ReLU's gradient does not vanish in deep networks; sigmoid's does."
        if "relu" not in r.grad_norms or "sigmoid" not in r.grad_norms:
            return [not_measured("vanishing", claim, "Needs relu and sigmoid in --activations.",
                                 "fig-gradient-flow")]
        relu, sig = summarise(r.vanishing_layers["relu"]), summarise(r.vanishing_layers["sigmoid"])
        # at least one vanishing layer on average, beyond the standard error
        relu_ok = above(relu, 0.5) == LOWER
        sig_bad = above(sig, 0.5) == HIGHER
        status = (SUPPORTED if relu_ok and sig_bad else PARTLY if relu_ok or sig_bad
                  else NOT_SUPPORTED)
        ms, mr = r.mean_norms("sigmoid"), r.mean_norms("relu")
        sentence = (f"At initialisation of a {r.depth}-layer MLP ({r.seeds} seeds), sigmoid has "
                    f"{sig.text('.1f')} of {len(ms)} layers with a vanishing gradient (below "
                    f"{r.vanishing_ratio:g} of the largest layer's, the diagnostics' rule) and "
                    f"ReLU {relu.text('.1f')}; the first layer's gradient is "
                    f"{ms[0] / ms[-1]:.1e}x the last layer's with sigmoid and "
                    f"{mr[0] / mr[-1]:.2g}x with ReLU.")
        return [Verdict("vanishing", claim, status, sentence, r.seeds,
                        {"vanishing_layers": {"relu": relu.to_dict(), "sigmoid": sig.to_dict()},
                         "first_over_last": {"relu": mr[0] / mr[-1],
                                             "sigmoid": ms[0] / ms[-1]}},
                        "fig-gradient-flow")]
