"""Sparsity: exact zeros in ReLU's outputs, at initialisation and after training."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import plots
from ..section import Context, Figure, Section, Table
from ..stats import HIGHER, LOWER, compare, summarise
from ..verdicts import NOT_SUPPORTED, PARTLY, SUPPORTED, TIE, Verdict, not_measured

#: A change of sparsity smaller than this (absolute fraction) is no change.
SPARSITY_MARGIN = 0.02
#: "Sparse": at least this fraction of a layer's outputs are exact zeros.
SPARSE_FRACTION = 0.3


@dataclass
class SparsityResult:
    seeds: int
    net: str
    #: activation -> per seed, the mean fraction of exact zeros over hidden layers (test data)
    init: dict[str, list[float]]
    trained: dict[str, list[float]]


class Sparsity(Section):
    id = "sparsity"
    title = "Sparsity: exact zeros"
    needs = ("convergence",)
    shows = ("The fraction of hidden-unit outputs that are exactly 0 on the test images, "
             "before and after training (the convergence MLPs at their best learning rate).")
    look_for = ("ReLU outputs 0 for every negative input, so about half its outputs are 0 "
                "already at initialisation, by symmetry: that half is a fact of the function, "
                "not something learned. Glorot, Bordes &amp; Bengio (2011) report that "
                "training makes ReLU representations <em>sparser</em>; compare the two bars of "
                "ReLU. Sigmoid and tanh are never exactly 0.")

    def run(self, ctx: Context, advance) -> SparsityResult:
        conv = ctx.results["convergence"]
        best = {a: conv.best("mlp", a) for a in conv.runs.get("mlp", {})}
        advance()
        return SparsityResult(conv.seeds, conv.describe.get("mlp", ""),
                              {a: [r.sparsity_init for r in runs] for a, runs in best.items()},
                              {a: [r.sparsity_trained for r in runs] for a, runs in best.items()})

    def csv(self, r: SparsityResult) -> Table:
        rows = [[a, seed, i, t] for a in r.init
                for seed, (i, t) in enumerate(zip(r.init[a], r.trained[a], strict=True))]
        return Table(["activation", "seed", "zeros at init", "zeros after training"], rows)

    def figures(self, r: SparsityResult, out: Path) -> list[Figure]:
        groups = {a: {"at initialisation": (summarise(r.init[a]).mean, summarise(r.init[a]).std),
                      "after training": (summarise(r.trained[a]).mean,
                                         summarise(r.trained[a]).std)} for a in r.init}
        path = out / "sparsity.png"
        spec = plots.bars_figure(path, groups, title="Fraction of exact zeros in the hidden "
                                 f"layers (test data, mean ± std of {r.seeds} seeds)",
                                 ylabel="fraction of outputs exactly 0")
        return [Figure("fig-sparsity", path, "Exact zeros before and after training.", spec)]

    def tables(self, r: SparsityResult) -> list[Table]:
        return [Table(["activation", "zeros at init", "zeros after training"],
                      [[a, f"{summarise(r.init[a]).mean:.1%}",
                        f"{summarise(r.trained[a]).mean:.1%} ± {summarise(r.trained[a]).std:.1%}"]
                       for a in r.init])]

    def verdicts(self, r: SparsityResult) -> list[Verdict]:
        out = []
        claim = "ReLU gives sparse activations (exact zeros); sigmoid and tanh do not."
        others = [a for a in ("sigmoid", "tanh") if a in r.trained]
        if "relu" not in r.trained or not others:
            out.append(not_measured("sparse_outputs", claim, "Needs relu and sigmoid or tanh in "
                                    "--activations: a claim with nothing to compare against is "
                                    "not measured.", "fig-sparsity"))
        else:
            relu = summarise(r.trained["relu"])
            dense = {a: summarise(r.trained[a]) for a in others}
            ok_relu = relu.mean - 2 * relu.se >= SPARSE_FRACTION
            ok_others = all(s.mean < 0.01 for s in dense.values())
            status = (SUPPORTED if ok_relu and ok_others else PARTLY if ok_relu or ok_others
                      else NOT_SUPPORTED)
            rest = ", ".join(f"{a} {s.mean:.1%}" for a, s in dense.items())
            out.append(Verdict(
                "sparse_outputs", claim, status,
                f"After training, {relu.mean:.1%} ± {relu.std:.1%} of ReLU's hidden outputs on "
                f"test data are exactly 0 ({r.seeds} seeds); {rest}. ReLU's zeros are a fact "
                f"of the function: {summarise(r.init['relu']).mean:.1%} at initialisation.",
                r.seeds, {"relu": relu.to_dict(), **{a: s.to_dict() for a, s in dense.items()},
                          "sparse_fraction": SPARSE_FRACTION}, "fig-sparsity"))
        claim = "Training makes ReLU representations sparser (Glorot et al. 2011)."
        if "relu" not in r.trained:
            out.append(not_measured("learned_sparsity", claim, "Needs relu in --activations.",
                                    "fig-sparsity"))
            return out
        init, trained = summarise(r.init["relu"]), summarise(r.trained["relu"])
        c = compare(trained, init, SPARSITY_MARGIN)
        status = {HIGHER: SUPPORTED, LOWER: NOT_SUPPORTED}.get(c.outcome, TIE)
        word = {HIGHER: "sparser", LOWER: "denser"}.get(c.outcome, "no sparser (a tie)")
        out.append(Verdict(
            "learned_sparsity", claim, status,
            f"ReLU's zeros go from {init.text('.3f')} at initialisation to {trained.text('.3f')} "
            f"after training ({r.net}, {r.seeds} seeds): {word}; change {c.difference:+.3f}, "
            f"margin {c.margin:.3f}.", r.seeds,
            {"init": init.to_dict(), "trained": trained.to_dict(), "comparison": c.to_dict()},
            "fig-sparsity"))
        return out
