"""Exploding gradients: a deep ReLU MLP initialised above He's scale, against the theory, the
diagnostics' exploding rule, training with and without gradient clipping."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import plots
from ..models import linear_layers, mlp
from ..section import Context, Figure, Section, Table
from ..stats import HIGHER, LOWER, above, compare, last_mean, mean_curve, summarise
from ..verdicts import NOT_SUPPORTED, PARTLY, SUPPORTED, TIE, Verdict, not_measured

#: Measured growth factor within this relative distance of the theory (or 2 standard errors)
#: agrees with it.
GROWTH_TOLERANCE = 0.15
#: Accuracies closer than this (or 2 standard errors) are a tie.
ACC_MARGIN = 0.05
#: A run "diverged" when its final test accuracy is below this (chance is 0.1) or its loss is
#: not finite.
DIVERGED_ACCURACY = 0.2


@dataclass
class ExplodeRun:
    seed: int
    #: second moment of d loss / d (hidden layer output), layer 1 = input side
    grad_second_moment: list[float]
    exploding_layers: int  #: layers the diagnostics' rule calls exploding, at init
    test_accuracy: list[float]  #: per epoch, without clipping
    clipped_accuracy: list[float]  #: per epoch, with the gradient norm clipped
    finite_loss: bool
    clipped_finite_loss: bool

    @property
    def growth(self) -> float:
        """Geometric mean factor of the second moment per layer, from the output side back."""
        m = self.grad_second_moment
        logs = [math.log(m[i] / m[i + 1]) for i in range(len(m) - 1)
                if m[i] > 0 and m[i + 1] > 0 and math.isfinite(m[i] / m[i + 1])]
        return math.exp(sum(logs) / len(logs)) if logs else math.nan


def _final(run_acc: list[float], finite: bool) -> float:
    return last_mean(run_acc) if finite else 0.1


@dataclass
class ExplodingResult:
    depth: int
    width: int
    seeds: int
    lr: float
    clip_norm: float
    epochs: int
    runs: dict[str, list[ExplodeRun]] = field(default_factory=dict)  # scale (as "%g") -> runs

    def growth(self, scale: str):
        return summarise([r.growth for r in self.runs[scale]])

    def acc(self, scale: str, clipped: bool = False):
        return summarise([_final(r.clipped_accuracy, r.clipped_finite_loss) if clipped
                          else _final(r.test_accuracy, r.finite_loss) for r in self.runs[scale]])

    def diverged(self, scale: str) -> int:
        return sum((not r.finite_loss) or r.test_accuracy[-1] < DIVERGED_ACCURACY
                   for r in self.runs[scale])


def _train(model, data, *, lr: float, epochs: int, clip: float | None, seed: int,
           batch_size: int) -> tuple[list[float], bool]:
    from ..models import accuracy

    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    gen = torch.Generator().manual_seed(seed)
    n = data.x_train.shape[0]
    accs, finite = [], True
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen).to(data.x_train.device)
        total = torch.zeros((), device=data.x_train.device)
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            total += loss.detach()
        finite = finite and bool(torch.isfinite(total))
        accs.append(accuracy(model, data.x_test, data.y_test))
    return accs, finite


class Exploding(Section):
    id = "exploding"
    title = "Exploding gradients: ReLU above He's scale"
    shows = ("A deep ReLU MLP with its weights drawn at He's standard deviation sqrt(2/n) times "
             "1, 1.5 and 2. The first plot shows, at initialisation, the second moment of the "
             "gradient reaching each hidden layer (relative to the output-side layer); the "
             "second, training with SGD with and without clipping the gradient norm.")
    look_for = ("On the log scale a geometric growth is a straight line. For ReLU with weights "
                "of std s·sqrt(2/n), each layer multiplies the backward signal's second moment "
                "by s² (half the units pass it, each with variance s²·2/n, summed over n): flat "
                "for He (s = 1), x2.25 per layer at 1.5x, x4 at 2x. The dotted lines are that "
                "theory. At 2x the gradient explodes, SGD diverges (accuracy at chance, 0.1); "
                "clipping the gradient norm keeps the steps bounded, so the same net trains, "
                "though a bad init still costs accuracy.")

    def steps(self, cfg) -> int:
        return len(cfg.explode_scales) * cfg.seeds

    def enabled(self, cfg) -> bool:
        return "relu" in cfg.activations

    def run(self, ctx: Context, advance) -> ExplodingResult:
        from ...diagnostics import gradflow

        cfg, data = ctx.cfg, ctx.data
        res = ExplodingResult(cfg.explode_depth, cfg.explode_width, cfg.seeds, cfg.explode_lr,
                              cfg.clip_norm, cfg.explode_epochs)

        def build(scale: float, seed: int):
            torch.manual_seed(seed)
            model = mlp("relu", in_features=data.features, width=cfg.explode_width,
                        depth=cfg.explode_depth, classes=data.classes, lean=False)
            with torch.no_grad():
                for lin in linear_layers(model)[:-1]:  # the hidden layers; the head as usual
                    lin.weight.mul_(scale)
            return model.to(ctx.device)

        for scale in cfg.explode_scales:
            runs = []
            for seed in range(cfg.seeds):
                model = build(scale, seed)
                outs: list[torch.Tensor] = []

                def keep(_m, _i, o, outs=outs):
                    o.retain_grad()
                    outs.append(o)

                hooks = [getattr(model, f"act{i}").register_forward_hook(keep)
                         for i in range(1, cfg.explode_depth + 1)]
                x, y = data.x_train[: cfg.flow_batch], data.y_train[: cfg.flow_batch]
                F.cross_entropy(model(x), y).backward()
                for h in hooks:
                    h.remove()
                moments = [float((o.grad.double() ** 2).mean()) if o.grad is not None else 0.0
                           for o in outs]
                layers = linear_layers(model)
                g = [float(lin.weight.grad.norm()) if lin.weight.grad is not None else 0.0
                     for lin in layers]
                w = [float(lin.weight.detach().norm()) for lin in layers]
                stats = gradflow.verdicts([str(i) for i in range(len(g))], g, w)
                exploding = sum(s.verdict == "exploding" for s in stats)
                acc, finite = _train(model, data, lr=cfg.explode_lr, epochs=cfg.explode_epochs,
                                     clip=None, seed=seed, batch_size=cfg.batch_size)
                clipped, cfinite = _train(build(scale, seed), data, lr=cfg.explode_lr,
                                          epochs=cfg.explode_epochs, clip=cfg.clip_norm,
                                          seed=seed, batch_size=cfg.batch_size)
                runs.append(ExplodeRun(seed, moments, exploding, acc, clipped, finite, cfinite))
                advance()
            res.runs[f"{scale:g}"] = runs
        return res

    def csv(self, r: ExplodingResult) -> Table:
        rows = [[scale, run.seed, i + 1, m, run.exploding_layers,
                 _final(run.test_accuracy, run.finite_loss),
                 _final(run.clipped_accuracy, run.clipped_finite_loss)]
                for scale, runs in r.runs.items() for run in runs
                for i, m in enumerate(run.grad_second_moment)]
        return Table(["scale of He's std", "seed", "hidden layer (1 = input side)",
                      "gradient second moment at init", "exploding layers (diagnostics)",
                      "test accuracy, last 3 epochs", "same, gradient clipped"], rows)

    def figures(self, r: ExplodingResult, out: Path) -> list[Figure]:
        series: dict[str, plots.Series] = {}
        for scale, runs in r.runs.items():
            rel = [[m / run.grad_second_moment[-1] if run.grad_second_moment[-1] > 0 else math.nan
                    for m in run.grad_second_moment] for run in runs]
            logs = [[math.log10(v) if v > 0 else math.nan for v in row] for row in rel]
            mean, std = mean_curve(logs)
            xs = list(range(1, len(mean) + 1))
            series[f"{scale}x He: measured"] = (xs, [10 ** v for v in mean], None)
        n = r.depth
        for scale in r.runs:
            s2 = float(scale) ** 2
            series[f"{scale}x He: theory ({s2:g}x per layer)"] = (
                list(range(1, n + 1)), [s2 ** (n - i) for i in range(1, n + 1)], None)
        path = out / "exploding_growth.png"
        spec = plots.lines_figure(
            path, series, logy=True,
            title=f"Gradient² per layer at init, {r.depth}x{r.width} ReLU MLP "
                  f"({r.seeds} seeds), relative to the output side",
            xlabel="hidden layer (1 = input side)", ylabel="E[(∂loss/∂h)²] / last layer's (log)")
        figs = [Figure("fig-exploding-growth", path,
                       "Backward second moment per layer against the theory s² per layer.",
                       spec)]
        acc_series: dict[str, plots.Series] = {}
        for scale, runs in r.runs.items():
            for clipped in (False, True):
                rows = [(run.clipped_accuracy if clipped else run.test_accuracy) for run in runs]
                mean, std = mean_curve(rows)
                label = f"{scale}x He" + (f", clipped at {r.clip_norm:g}" if clipped else "")
                acc_series[label] = (list(range(1, len(mean) + 1)), mean, std)
        path = out / "exploding_training.png"
        spec = plots.lines_figure(
            path, acc_series, ylim=(0.0, 1.0), hline=0.1, hline_label="chance (0.1)",
            title=f"Test accuracy, SGD lr {r.lr:g} momentum 0.9 (mean ± std of {r.seeds} seeds)",
            xlabel="epoch", ylabel="test accuracy")
        figs.append(Figure("fig-exploding-training", path,
                           "Training at each init scale, with and without gradient clipping.",
                           spec))
        return figs

    def tables(self, r: ExplodingResult) -> list[Table]:
        rows = []
        for scale in r.runs:
            g = r.growth(scale)
            rows.append([f"{scale}x", f"{float(scale) ** 2:g}", g.text(".2f"),
                         summarise([x.exploding_layers for x in r.runs[scale]]).text(".1f"),
                         r.acc(scale).text(".3f"), f"{r.diverged(scale)}/{len(r.runs[scale])}",
                         r.acc(scale, clipped=True).text(".3f")])
        return [Table(["init (x He's std)", "theory: growth per layer", "measured growth",
                       f"exploding layers of {r.depth + 1} (diagnostics)", "test accuracy",
                       "diverged seeds", f"accuracy, clipped at {r.clip_norm:g}"], rows,
                      "Growth: factor of the gradient's second moment per layer, from the output "
                      "side back (geometric mean, mean ± std over seeds). Accuracies: mean of "
                      "the last 3 epochs; a diverged run (non-finite loss) counts as 0.1.")]

    def verdicts(self, r: ExplodingResult) -> list[Verdict]:
        out = []
        claim = ("Above He's scale, ReLU gradients grow geometrically with depth: the second "
                 "moment by the square of the scale per layer (He et al. 2015).")
        outcomes, parts, numbers = [], [], {}
        for scale in r.runs:
            g, theory = r.growth(scale), float(scale) ** 2
            margin = max(2 * g.se, GROWTH_TOLERANCE * theory)
            ok = abs(g.mean - theory) <= margin
            outcomes.append(ok)
            parts.append(f"{scale}x: {g.text('.2f')} per layer (theory {theory:g})")
            numbers[scale] = {"growth": g.to_dict(), "theory": theory, "margin": margin,
                              "agrees": ok}
        status = SUPPORTED if all(outcomes) else PARTLY if any(outcomes) else NOT_SUPPORTED
        out.append(Verdict("exploding_growth", claim, status,
                           f"{r.depth}-layer ReLU MLP at init ({r.seeds} seeds): "
                           + "; ".join(parts) + f" (agreement: within {GROWTH_TOLERANCE:.0%} "
                           "or 2 standard errors).", r.seeds, numbers, "fig-exploding-growth"))
        big = max(r.runs, key=float)
        if "1" not in r.runs or float(big) <= 1:
            return out + [not_measured("exploding_diverges", "Too-large init explodes.",
                                       "Needs scale 1 and a scale above 1.", "")]
        he, bad = r.acc("1"), r.acc(big)
        ex_he = summarise([x.exploding_layers for x in r.runs["1"]])
        ex_bad = summarise([x.exploding_layers for x in r.runs[big]])
        fires = above(ex_bad, 0.5) == HIGHER and ex_he.mean == 0
        c = compare(he, bad, ACC_MARGIN)
        diverged = r.diverged(big) == len(r.runs[big]) and r.diverged("1") == 0
        cases = [fires, c.outcome == HIGHER, diverged]
        status = SUPPORTED if all(cases) else PARTLY if any(cases) else NOT_SUPPORTED
        out.append(Verdict(
            "exploding_diverges",
            f"A ReLU net initialised at {big}x He's std has exploding gradients and its training "
            "diverges; He's init trains.", status,
            f"Exploding layers (diagnostics' rule: gradient > 100x the weights' norm): "
            f"{ex_bad.text('.1f')} at {big}x, {ex_he.text('.1f')} with He. Test accuracy "
            f"{bad.text('.3f')} at {big}x ({r.diverged(big)}/{bad.n} seeds diverged) vs "
            f"{he.text('.3f')} with He ({r.diverged('1')}/{he.n}); difference "
            f"{c.difference:+.3f}, margin {c.margin:.3f}.", r.seeds,
            {"exploding_layers": {big: ex_bad.to_dict(), "1": ex_he.to_dict()},
             "accuracy": {big: bad.to_dict(), "1": he.to_dict()}, "comparison": c.to_dict(),
             "diverged": {big: r.diverged(big), "1": r.diverged("1")}},
            "fig-exploding-training"))
        clipped = r.acc(big, clipped=True)
        rescue = compare(clipped, bad, ACC_MARGIN)
        vs_he = compare(clipped, he, ACC_MARGIN)
        if rescue.outcome == HIGHER:
            status = SUPPORTED if vs_he.outcome != LOWER else PARTLY
        else:
            status = TIE if rescue.outcome != LOWER else NOT_SUPPORTED
        tail = ("as good as He's init" if vs_he.outcome != LOWER
                else "but below He's init: clipping bounds the steps, it does not fix the scale")
        out.append(Verdict(
            "clipping_rescues",
            f"Gradient clipping rescues training from the too-large init ({big}x He).", status,
            f"Clipping the gradient norm at {r.clip_norm:g}: test accuracy {clipped.text('.3f')} "
            f"against {bad.text('.3f')} unclipped (difference {rescue.difference:+.3f}, margin "
            f"{rescue.margin:.3f}) and {he.text('.3f')} with He unclipped: {tail}.", r.seeds,
            {"clipped": clipped.to_dict(), "unclipped": bad.to_dict(), "he": he.to_dict(),
             "rescue": rescue.to_dict(), "against_he": vs_he.to_dict()},
            "fig-exploding-training"))
        return out
