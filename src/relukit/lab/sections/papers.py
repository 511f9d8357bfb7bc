"""Published results reproduced: numbers from papers, expected against measured."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ... import catalogue
from .. import plots
from ..section import Context, Figure, Section, Table
from ..verdicts import AGREES, DISAGREES, Verdict

BORN_DEAD_WIDTHS = (2, 3, 4, 5, 10)
BORN_DEAD_DEPTHS = (10, 20, 50)
SELU_START_VARIANCES = (0.5, 1.0, 2.0)
#: Agreement: measured within this many standard errors (Monte Carlo) of the expected value.
AGREE_SE = 3.0


@dataclass
class PapersResult:
    gelu_tanh_error: dict = field(default_factory=dict)
    born_dead: dict = field(default_factory=dict)
    selu_fixed_point: dict = field(default_factory=dict)
    he_init: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- computations


def gelu_tanh_error(step: float = 1e-4, lim: float = 8.0) -> dict:
    """Max |GELU_tanh(x) - GELU(x)| on a grid: relukit's float64 catalogue, checked against an
    independent evaluation with the standard library's erf and tanh."""
    x = np.arange(-lim, lim + step / 2, step)
    diff = np.abs(catalogue.get("gelu")(x, approximate="tanh") - catalogue.get("gelu")(x))
    i = int(diff.argmax())
    c = math.sqrt(2 / math.pi)
    ref = np.abs(np.array([0.5 * v * (1 + math.tanh(c * (v + 0.044715 * v ** 3)))
                           - 0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x]))
    j = int(ref.argmax())
    agrees = abs(diff[i] - ref[j]) <= 1e-9 and abs(abs(x[i]) - abs(x[j])) <= 2 * step
    return {"source": "Hendrycks & Gimpel 2016 (the tanh form 0.5x(1+tanh(sqrt(2/pi)"
                      "(x+0.044715x^3)))",
            "grid": {"from": -lim, "to": lim, "step": step},
            "measured": {"max_abs_error": float(diff[i]), "at_x": float(abs(x[i]))},
            "expected": {"max_abs_error": float(ref[j]), "at_x": float(abs(x[j])),
                         "how": "the same grid evaluated with Python's math.erf and math.tanh"},
            "agrees": bool(agrees)}


def born_dead_bounds(width: int, depth: int) -> tuple[float, float]:
    """Bounds on P(born dead) for 1-D input, zero biases, symmetric weights.

    Upper: the net is dead at x = 1 (each layer independently all <= 0 with prob 2^-N).
    Lower: some layer after the first sends both x = 1 and x = -1 to 0; for two non-negative
    inputs each unit does so with probability at least 1/4.
    """
    upper = 1 - (1 - 2.0 ** -width) ** depth
    lower = 1 - (1 - 4.0 ** -width) ** (depth - 1)
    return lower, upper


def _born_dead_mc(width: int, depths, draws: int, grid: int, rai: bool,
                  gen: torch.Generator) -> dict[int, float]:
    """Monte Carlo: fraction of ``draws`` nets in which some layer is 0 on every input of a
    ``grid``-point grid on [-1, 1]."""
    x = torch.linspace(-1, 1, grid, dtype=torch.float32).expand(draws, grid).unsqueeze(-1)
    h, dead = x, torch.zeros(draws, dtype=torch.bool)
    out = {}
    for layer in range(1, max(depths) + 1):
        fan_in = h.shape[-1]
        if rai:
            # RAI (Lu et al.): per neuron, one of its weights or its bias, chosen at random,
            # is drawn from Beta(2, 1) (positive); the others from a normal distribution
            v = torch.randn(draws, width, fan_in + 1, generator=gen, dtype=torch.float32)
            v *= math.sqrt(2.0 / (fan_in + 1))
            k = torch.randint(0, fan_in + 1, (draws, width, 1), generator=gen)
            beta = torch.sqrt(torch.rand(draws, width, 1, generator=gen, dtype=torch.float32))
            v.scatter_(2, k, beta)  # Beta(2, 1) = sqrt(U)
            w, b = v[..., :fan_in], v[..., fan_in]
        else:
            w = torch.randn(draws, width, fan_in, generator=gen,
                            dtype=torch.float32) * math.sqrt(2.0 / fan_in)
            b = torch.zeros(draws, width, dtype=torch.float32)
        h = torch.relu(h @ w.transpose(1, 2) + b.unsqueeze(1))
        dead |= (h == 0).flatten(1).all(dim=1)
        if layer in depths:
            out[layer] = float(dead.double().mean())
    return out


def born_dead(draws: int, grid: int, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for width in BORN_DEAD_WIDTHS:
        he = _born_dead_mc(width, BORN_DEAD_DEPTHS, draws, grid, False, gen)
        rai = _born_dead_mc(width, BORN_DEAD_DEPTHS, draws, grid, True, gen)
        for depth in BORN_DEAD_DEPTHS:
            p, q = he[depth], rai[depth]
            se = math.sqrt(max(p * (1 - p), 1 / draws) / draws)
            lower, upper = born_dead_bounds(width, depth)
            rows.append({"width": width, "depth": depth, "probability": p, "draws": draws,
                         "se": se, "lower_bound": lower, "upper_bound": upper,
                         "rai_probability": q,
                         "rai_se": math.sqrt(max(q * (1 - q), 1 / draws) / draws),
                         "agrees": lower - AGREE_SE * se <= p <= upper + AGREE_SE * se})
    return {"source": "Lu, Shin, Su & Karniadakis 2020, Dying ReLU and Initialization",
            "setting": "input 1-D uniform on [-1, 1] (a grid of "
                       f"{grid} points), He-normal weights, zero biases; depth = hidden layers",
            "table": rows, "agrees": all(r["agrees"] for r in rows)}


def selu_fixed_point(width: int, layers: int, draws: int, batch: int = 128,
                     seed: int = 0) -> dict:
    """Mean and variance of SELU activations through ``layers`` LeCun-normal layers, from
    inputs of variance 0.5, 1 and 2 (Klambauer et al. 2017: the fixed point is (0, 1))."""
    gen = torch.Generator().manual_seed(seed)
    selu = torch.nn.functional.selu
    curves, finals = {}, {}
    for v in SELU_START_VARIANCES:
        means, vars_ = [], []
        for _ in range(draws):
            x = torch.randn(batch, width, generator=gen) * math.sqrt(v)
            m, s = [], []
            for _ in range(layers):
                w = torch.randn(width, width, generator=gen) / math.sqrt(width)
                x = selu(x @ w.T)
                m.append(float(x.mean()))
                s.append(float(x.var()))
            means.append(m)
            vars_.append(s)
        mm, vv = np.array(means), np.array(vars_)
        curves[f"{v:g}"] = {"mean": mm.mean(0).tolist(), "variance": vv.mean(0).tolist()}
        # the last 10 layers, per draw, then over draws
        fm, fv = mm[:, -10:].mean(1), vv[:, -10:].mean(1)
        se = lambda a: float(a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else 0.0  # noqa
        finals[f"{v:g}"] = {"mean": float(fm.mean()), "mean_se": se(fm),
                            "variance": float(fv.mean()), "variance_se": se(fv)}
    # finite width and batch: allow the Monte Carlo SE or 0.05, whichever is larger
    ok = all(abs(f["mean"]) <= max(AGREE_SE * f["mean_se"], 0.05)
             and abs(f["variance"] - 1) <= max(AGREE_SE * f["variance_se"], 0.05)
             for f in finals.values())
    return {"source": "Klambauer, Unterthiner, Mayr & Hochreiter 2017, Self-Normalizing "
                      "Neural Networks", "width": width, "layers": layers, "draws": draws,
            "expected": {"mean": 0.0, "variance": 1.0}, "final": finals, "curves": curves,
            "agrees": bool(ok)}


def he_init(width: int, layers: int, draws: int, batch: int = 64, seed: int = 0) -> dict:
    """Second moment of the pre-activations through ``layers`` ReLU layers: weight std
    sqrt(2/n) (He et al. 2015) keeps it, std sqrt(1/n) halves it per layer."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, gain in (("he", 2.0), ("lecun", 1.0)):
        ratios, curves = [], []
        for _ in range(draws):
            x = torch.randn(batch, width, generator=gen, dtype=torch.float32)
            q = []
            h = x
            for _ in range(layers):
                w = torch.randn(width, width, generator=gen, dtype=torch.float32)
                z = h @ (w * math.sqrt(gain / width)).T
                q.append(float(z.pow(2).mean()))
                h = torch.relu(z)
            curves.append([math.log2(v / q[0]) for v in q])
            ratios.append(q[-1] / q[0])
        expected = (gain / 2) ** (layers - 1)
        r = np.array(ratios) / expected
        se = float(r.std(ddof=1) / math.sqrt(len(r))) if len(r) > 1 else 0.0
        out[name] = {"weight_std": f"sqrt({gain:g}/n)",
                     "expected_ratio": expected, "measured_ratio": float(np.mean(ratios)),
                     "measured_over_expected": float(r.mean()), "se": se,
                     "log2_curve": np.mean(curves, 0).tolist(),
                     "agrees": bool(abs(r.mean() - 1) <= max(AGREE_SE * se, 0.05))}
    return {"source": "He, Zhang, Ren & Sun 2015, Delving Deep into Rectifiers", "width": width,
            "layers": layers, "draws": draws, **out,
            "agrees": out["he"]["agrees"] and out["lecun"]["agrees"]}


# ----------------------------------------------------------------------------- section


class Papers(Section):
    id = "papers"
    title = "Published results, reproduced"
    shows = ("Four numbers from papers, recomputed here: how far GELU's tanh form is from the "
             "exact GELU, how often a narrow deep ReLU net is born dead and how the randomized "
             "asymmetric initialization (RAI) cuts it, SELU's self-normalising fixed point, "
             "and the signal through He-initialised ReLU layers.")
    look_for = ("Expected against measured, with the Monte Carlo standard error: a measured "
                "value within 3 standard errors of the expected one agrees. Born dead: the "
                "probability grows with depth and shrinks fast with width; RAI lowers it.")

    def steps(self, cfg) -> int:
        return 4

    def run(self, ctx: Context, advance) -> PapersResult:
        cfg = ctx.cfg
        r = PapersResult()
        r.gelu_tanh_error = gelu_tanh_error()
        advance()
        r.born_dead = born_dead(cfg.born_dead_draws, cfg.born_dead_grid)
        advance()
        r.selu_fixed_point = selu_fixed_point(cfg.selu_width, cfg.selu_layers, cfg.paper_draws)
        advance()
        r.he_init = he_init(cfg.he_width, cfg.he_layers, 4 * cfg.paper_draws)
        advance()
        return r

    def csv(self, r: PapersResult) -> Table:
        keys = ["width", "depth", "probability", "se", "draws", "lower_bound", "upper_bound",
                "rai_probability", "rai_se"]
        return Table(["born dead: " + k for k in keys],
                     [[row[k] for k in keys] for row in r.born_dead["table"]])

    def figures(self, r: PapersResult, out: Path) -> list[Figure]:
        figs = []
        rows = r.born_dead["table"]
        series = {}
        for w in BORN_DEAD_WIDTHS:
            rs = [x for x in rows if x["width"] == w]
            series[f"width {w}, He"] = ([x["depth"] for x in rs], [x["probability"] for x in rs],
                                        [x["se"] for x in rs])
            series[f"width {w}, RAI"] = ([x["depth"] for x in rs],
                                         [x["rai_probability"] for x in rs],
                                         [x["rai_se"] for x in rs])
        path = out / "papers_born_dead.png"
        spec = plots.lines_figure(path, series, title="Probability that a ReLU net is born dead "
                                  f"({rows[0]['draws']} draws each, ± standard error)",
                                  xlabel="depth (hidden layers)", ylabel="P(born dead)",
                                  ylim=(-0.02, 1.02))
        figs.append(Figure("fig-papers-born-dead", path, "Born-dead probability.", spec))
        s = r.selu_fixed_point
        panels: dict[str, dict[str, plots.Series]] = {"mean of the activations": {},
                                                     "variance of the activations": {}}
        for v, c in s["curves"].items():
            xs = list(range(1, len(c["mean"]) + 1))
            panels["mean of the activations"][f"input variance {v}"] = (xs, c["mean"], None)
            panels["variance of the activations"][f"input variance {v}"] = (xs, c["variance"],
                                                                           None)
        path = out / "papers_selu.png"
        spec = plots.panels_figure(path, panels, title=f"SELU through {s['layers']} LeCun-normal "
                                   f"layers of {s['width']} (mean of {s['draws']} draws)",
                                   xlabel="layer", ylabel="value")
        figs.append(Figure("fig-papers-selu", path, "SELU's fixed point.", spec))
        h = r.he_init
        xs = list(range(1, h["layers"] + 1))
        he_series: dict[str, plots.Series] = {
            "std sqrt(2/n) (He)": (xs, h["he"]["log2_curve"], None),
            "std sqrt(1/n)": (xs, h["lecun"]["log2_curve"], None),
            "expected: 0": (xs, [0.0] * len(xs), None),
            "expected: -(layer - 1)": (xs, [-(i - 1.0) for i in xs], None)}
        path = out / "papers_he.png"
        spec = plots.lines_figure(path, he_series, title="Second moment through "
                                  f"{h['layers']} ReLU layers of {h['width']}, relative to layer 1",
                                  xlabel="layer", ylabel="log2(second moment / layer 1's)")
        figs.append(Figure("fig-papers-he", path, "He initialisation.", spec))
        return figs

    def tables(self, r: PapersResult) -> list[Table]:
        g = r.gelu_tanh_error
        s, h = r.selu_fixed_point, r.he_init
        summary = Table(["result", "expected", "measured", "agrees"], [
            ["GELU tanh form: max |error|", f"{g['expected']['max_abs_error']:.3e} at |x| = "
             f"{g['expected']['at_x']:.3f}", f"{g['measured']['max_abs_error']:.3e} at |x| = "
             f"{g['measured']['at_x']:.3f}", "yes" if g["agrees"] else "no"],
            *[[f"SELU, input variance {v}: mean, variance after {s['layers']} layers",
               "0, 1", f"{f['mean']:+.3f} ± {f['mean_se']:.3f}, {f['variance']:.3f} ± "
               f"{f['variance_se']:.3f}", ""] for v, f in s["final"].items()],
            *[[f"He: second moment after {h['layers']} layers / layer 1's, {h[k]['weight_std']}",
               f"{h[k]['expected_ratio']:.3g}", f"{h[k]['measured_ratio']:.3g} (ratio to "
               f"expected {h[k]['measured_over_expected']:.3f} ± {h[k]['se']:.3f})",
               "yes" if h[k]["agrees"] else "no"] for k in ("he", "lecun")],
        ], "Expected against measured.")
        born = Table(["width", "depth", "P(born dead), He", "± SE", "bounds", "P(born dead), RAI",
                      "draws"],
                     [[x["width"], x["depth"], f"{x['probability']:.3f}", f"{x['se']:.3f}",
                       f"[{x['lower_bound']:.3f}, {x['upper_bound']:.3f}]",
                       f"{x['rai_probability']:.3f} ± {x['rai_se']:.3f}", x["draws"]]
                      for x in r.born_dead["table"]],
                     "Born dead (Lu et al. 2020): Monte Carlo probability with its standard "
                     "error; the bounds hold for this setting (upper: dead at x = 1, "
                     "1-(1-2^-N)^L; lower: 1-(1-4^-N)^(L-1)).")
        return [summary, born]

    def verdicts(self, r: PapersResult) -> list[Verdict]:
        g, b, s, h = r.gelu_tanh_error, r.born_dead, r.selu_fixed_point, r.he_init
        st = lambda ok: AGREES if ok else DISAGREES  # noqa: E731
        worst = max(b["table"], key=lambda x: x["probability"])
        rai_cut = all(x["rai_probability"] <= x["probability"] + AGREE_SE * x["se"]
                      for x in b["table"])
        return [
            Verdict("papers.gelu_tanh_error", "GELU's tanh form is within about 5e-4 of the "
                    "exact GELU (Hendrycks & Gimpel).", st(g["agrees"]),
                    f"Max |difference| {g['measured']['max_abs_error']:.3e} at |x| = "
                    f"{g['measured']['at_x']:.3f}; an independent evaluation gives "
                    f"{g['expected']['max_abs_error']:.3e}.", 0, g["measured"], ""),
            Verdict("papers.born_dead", "Deep, narrow ReLU nets are born dead with high "
                    "probability; RAI lowers it (Lu et al. 2020).",
                    st(b["agrees"] and rai_cut),
                    f"Every Monte Carlo probability lies within its bounds ({AGREE_SE:g} SE); "
                    f"highest: width {worst['width']}, depth {worst['depth']}: "
                    f"{worst['probability']:.3f} ± {worst['se']:.3f} (RAI "
                    f"{worst['rai_probability']:.3f})." if b["agrees"] else
                    "Some probabilities fall outside their bounds.", 0,
                    {"table": b["table"]}, "fig-papers-born-dead"),
            Verdict("papers.selu_fixed_point", "SELU keeps mean 0 and variance 1 through deep "
                    "LeCun-normal nets and pulls other variances back (Klambauer et al.).",
                    st(s["agrees"]), "After " + str(s["layers"]) + " layers: " + "; ".join(
                        f"from variance {v}: mean {f['mean']:+.3f}, variance "
                        f"{f['variance']:.3f}" for v, f in s["final"].items()) + ".",
                    s["draws"], s["final"], "fig-papers-selu"),
            Verdict("papers.he_init", "He initialisation keeps the signal's second moment "
                    "through deep ReLU nets; std sqrt(1/n) halves it per layer (He et al.).",
                    st(h["agrees"]),
                    f"After {h['layers']} layers: {h['he']['measured_ratio']:.3f} of layer 1's "
                    f"with He (expected 1), {h['lecun']['measured_ratio']:.3g} with sqrt(1/n) "
                    f"(expected 2^-{h['layers'] - 1} = {h['lecun']['expected_ratio']:.3g}).",
                    h["draws"], {k: {kk: vv for kk, vv in h[k].items() if kk != "log2_curve"}
                                 for k in ("he", "lecun")}, "fig-papers-he"),
        ]
