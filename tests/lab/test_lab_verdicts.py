"""Each verdict rule flips when its numbers move across the stated margin.

The results here are hand-written typed results (test input, not code output)."""

import pytest

pytest.importorskip("torch")

from relukit.lab import stats  # noqa: E402
from relukit.lab.sections.convergence import Convergence, ConvergenceResult, Run  # noqa: E402
from relukit.lab.sections.dying import (  # noqa: E402
    HIGH_LR,
    NARROW,
    NEG_BIAS,
    NORMAL_LR,
    REVIVE,
    Dying,
    DyingResult,
    DyingRun,
)
from relukit.lab.sections.gradient_flow import GradientFlow, GradientFlowResult  # noqa: E402
from relukit.lab.sections.sparsity import Sparsity, SparsityResult  # noqa: E402


def test_compare_needs_the_margin():
    a, b = stats.summarise([0.90, 0.91, 0.92]), stats.summarise([0.80, 0.81, 0.82])
    assert stats.compare(a, b, 0.02).outcome == stats.HIGHER
    assert stats.compare(b, a, 0.02).outcome == stats.LOWER
    assert stats.compare(a, b, 0.2).outcome == stats.TIE  # absolute margin larger
    noisy = stats.summarise([0.5, 0.95, 0.99])  # same-ish mean, wide spread
    assert stats.compare(noisy, b, 0.0).outcome == stats.TIE  # 2 SE larger than the gap


def test_last_mean_uses_three_epochs():
    assert stats.last_mean([0.1, 0.9, 0.3, 0.6]) == pytest.approx(0.6)


# ----------------------------------------------------------------------------- convergence


def _conv(relu_steps, tanh_steps, sigmoid_steps=(None, None, None)):
    def runs(steps):
        return [Run(i, s, [0, 10], [1.0, 0.5], [0.9, 0.9, 0.9]) for i, s in enumerate(steps)]

    r = ConvergenceResult(0.05, 10, 3, [0.1], {"mlp": 300}, {"mlp": "MLP"})
    r.runs = {"mlp": {"relu": {"0.1": runs(relu_steps)}, "tanh": {"0.1": runs(tanh_steps)},
                      "sigmoid": {"0.1": runs(sigmoid_steps)}}}
    r.best_lr = {"mlp": {"relu": "0.1", "tanh": "0.1", "sigmoid": "0.1"}}
    return {v.id: v for v in Convergence().verdicts(r)}


def test_convergence_verdict_flips_with_the_steps():
    assert _conv([100, 110, 120], [300, 310, 320])["relu_faster_than_tanh"].verdict == "supported"
    v = _conv([300, 310, 320], [100, 110, 120])["relu_faster_than_tanh"]
    assert v.verdict == "not supported" and "tanh faster" in v.sentence
    assert _conv([100, 110, 120], [105, 112, 118])["relu_faster_than_tanh"].verdict == "tie"
    # sigmoid never reached the target: counted as max_steps + eval_every, ReLU faster
    assert _conv([100, 110, 120], [1, 1, 1])["relu_faster_than_sigmoid"].verdict == "supported"


# ----------------------------------------------------------------------------- gradient flow


def _flow(relu_vanishing, sigmoid_vanishing):
    r = GradientFlowResult(4, 8, 3, 1e-3, {"relu": [[1.0, 1.0]] * 3,
                                           "sigmoid": [[1e-6, 1.0]] * 3},
                           {"relu": relu_vanishing, "sigmoid": sigmoid_vanishing})
    return GradientFlow().verdicts(r)[0].verdict


def test_vanishing_verdict_flips():
    assert _flow([0, 0, 0], [3, 4, 3]) == "supported"
    assert _flow([0, 0, 0], [0, 0, 0]) == "partly supported"
    assert _flow([3, 3, 3], [0, 0, 0]) == "not supported"


# ----------------------------------------------------------------------------- sparsity


def test_learned_sparsity_flips_with_the_change_from_init():
    def verdict(trained):
        r = SparsityResult(3, "MLP", {"relu": [0.50, 0.49, 0.51], "tanh": [0.0] * 3},
                           {"relu": trained, "tanh": [0.0] * 3})
        return {v.id: v.verdict for v in Sparsity().verdicts(r)}

    assert verdict([0.70, 0.71, 0.69])["learned_sparsity"] == "supported"
    assert verdict([0.50, 0.51, 0.50])["learned_sparsity"] == "tie"
    assert verdict([0.30, 0.31, 0.29])["learned_sparsity"] == "not supported"
    assert verdict([0.70, 0.71, 0.69])["sparse_outputs"] == "supported"
    # 48.7% zeros at init by symmetry must not pass for "learned"
    assert verdict([0.50, 0.49, 0.51])["sparse_outputs"] == "supported"
    assert verdict([0.50, 0.49, 0.51])["learned_sparsity"] == "tie"


def test_sparsity_without_sigmoid_or_tanh_is_not_measured():
    r = SparsityResult(3, "MLP", {"relu": [0.5] * 3}, {"relu": [0.7] * 3})
    assert {v.id: v.verdict for v in Sparsity().verdicts(r)}["sparse_outputs"] == "not measured"


# ----------------------------------------------------------------------------- dying


def _runs(acc, dead, units=64, born=False, revived=0):
    return [DyingRun(i, [a] * 3, [d / units] * 3, d, d, units, born, revived)
            for i, (a, d) in enumerate(zip(acc, dead, strict=True))]


def _dying(over=None):
    s = {"lr": 1e-3, "bias": 0.0, "width": 16, "depth": 4}
    r = DyingResult(3, 8, {g: dict(s) for g in (HIGH_LR, NORMAL_LR, NEG_BIAS, NARROW, REVIVE)})
    base = {
        (HIGH_LR, "relu"): _runs([0.93, 0.92, 0.94], [20, 22, 18]),
        (HIGH_LR, "elu"): _runs([0.60, 0.70, 0.65], [0, 0, 0]),
        (NORMAL_LR, "relu"): _runs([0.96, 0.96, 0.96], [0, 1, 0]),
        (NEG_BIAS, "relu"): _runs([0.10, 0.10, 0.10], [50, 52, 54]),
        (NEG_BIAS, "elu"): _runs([0.95, 0.95, 0.96], [0, 0, 0]),
        (NARROW, "relu"): _runs([0.10, 0.12, 0.50], [16, 16, 2], units=64, born=True),
        (NARROW, "elu"): _runs([0.70, 0.72, 0.69], [0, 0, 0]),
        (REVIVE, "relu"): _runs([0.93, 0.93, 0.92], [4, 5, 3], revived=30),
    }
    base.update(over or {})
    for (g, label), runs in base.items():
        r.runs.setdefault(g, {})[label] = runs
    return {v.id: v for v in Dying().verdicts(r)}


def test_dying_verdicts_from_the_base_numbers():
    v = _dying()
    assert v["dying_high_lr"].verdict == "supported"
    assert v["dying_negative_bias"].verdict == "supported"
    assert v["born_dead_narrow"].verdict == "supported"
    assert v["fix_negative_bias"].verdict == "supported"
    assert v["fix_narrow_deep"].verdict == "supported"
    assert v["fix_high_lr"].verdict == "not supported"  # ELU worse than ReLU at the high lr
    assert v["fixes_cannot_die"].verdict == "supported"
    assert v["revive"].verdict == "supported"


def test_dying_verdicts_flip_with_their_numbers():
    # as many dead at the normal lr as at the high one: no longer supported
    same = _runs([0.9] * 3, [20, 22, 18])
    assert _dying({(NORMAL_LR, "relu"): same})["dying_high_lr"].verdict == "tie"
    # few dead units with the negative bias
    assert _dying({(NEG_BIAS, "relu"): _runs([0.9] * 3, [0, 1, 0])})[
        "dying_negative_bias"].verdict == "not supported"
    # ELU as good as ReLU at the negative bias: a tie, not a fix
    assert _dying({(NEG_BIAS, "elu"): _runs([0.10, 0.11, 0.10], [0] * 3)})[
        "fix_negative_bias"].verdict == "tie"
    # ELU better at the high lr
    assert _dying({(HIGH_LR, "elu"): _runs([0.97, 0.97, 0.98], [0] * 3)})[
        "fix_high_lr"].verdict == "supported"
    # not born dead
    assert _dying({(NARROW, "relu"): _runs([0.5] * 3, [0] * 3)})[
        "born_dead_narrow"].verdict == "not supported"
    # a fix with a dead unit
    assert _dying({(NEG_BIAS, "elu"): _runs([0.95] * 3, [0, 1, 0])})[
        "fixes_cannot_die"].verdict == "not supported"


def test_revive_needs_fewer_dead_and_accuracy_not_lower():
    # fewer dead but accuracy falls 0.93 -> 0.58: not supported
    lower = _runs([0.58, 0.60, 0.56], [4, 5, 3], revived=30)
    assert _dying({(REVIVE, "relu"): lower})["revive"].verdict == "not supported"
    # accuracy kept but as many dead: not supported
    same_dead = _runs([0.93, 0.93, 0.92], [20, 22, 18], revived=30)
    assert _dying({(REVIVE, "relu"): same_dead})["revive"].verdict == "not supported"
    # nothing revived: not measured
    none = _runs([0.93] * 3, [4, 5, 3], revived=0)
    assert _dying({(REVIVE, "relu"): none})["revive"].verdict == "not measured"


def test_fix_without_fixes_is_not_measured():
    r = DyingResult(2, 2, {g: {"lr": 1e-3, "bias": 0.0, "width": 8, "depth": 2}
                           for g in (HIGH_LR, NORMAL_LR, NEG_BIAS, NARROW, REVIVE)})
    for g in (HIGH_LR, NORMAL_LR, NEG_BIAS, NARROW, REVIVE):
        r.runs[g] = {"relu": _runs([0.5, 0.5], [1, 1], revived=1)}
    v = {x.id: x.verdict for x in Dying().verdicts(r)}
    assert v["fix_high_lr"] == "not measured" and v["fixes_cannot_die"] == "not measured"
