"""The verdicts of the sections for issue 15 (not zero-centred, cheap to compute, exploding
gradients, ReLU on the output layer) flip when their numbers cross the stated margins.

The results here are hand-written typed results (test input, not code output)."""

import pytest

pytest.importorskip("torch")

from relukit.lab.sections.compute_cost import ComputeCost, ComputeCostResult  # noqa: E402
from relukit.lab.sections.exploding import ExplodeRun, Exploding, ExplodingResult  # noqa: E402
from relukit.lab.sections.output_relu import (  # noqa: E402
    ClassifierRun,
    OutputRelu,
    OutputReluResult,
    RegressionRun,
)
from relukit.lab.sections.zero_centred import ZeroCentred, ZeroCentredResult  # noqa: E402


def _ids(section, result):
    return {v.id: v for v in section.verdicts(result)}


# ----------------------------------------------------------------------------- zero-centred


def _zero(relu_mean, elu_mean, relu_steps, elu_steps):
    r = ZeroCentredResult(3, 4, 8, "MLP", 0.05, 10)
    r.deep_init = {"relu": [[relu_mean + d] * 4 for d in (-0.01, 0.0, 0.01)],
                   "elu": [[elu_mean + d] * 4 for d in (-0.01, 0.0, 0.01)]}
    r.training = {a: [[0.1, 0.2]] * 3 for a in r.deep_init}
    r.steps = {"relu": [s + d for s in [relu_steps] for d in (-5, 0, 5)],
               "elu": [s + d for s in [elu_steps] for d in (-5, 0, 5)]}
    r.best_lr = {"relu": "0.1", "elu": "0.1"}
    return _ids(ZeroCentred(), r)


def test_not_zero_centred_flips_with_the_means():
    assert _zero(0.5, 0.0, 100, 100)["not_zero_centred"].verdict == "supported"
    # ELU's mean as far from zero as ReLU's: only part of the claim holds
    assert _zero(0.5, 0.5, 100, 100)["not_zero_centred"].verdict == "partly supported"
    # ReLU's mean at zero (impossible for ReLU, but the rule must see it)
    assert _zero(0.0, 0.0, 100, 100)["not_zero_centred"].verdict == "not supported"


def test_zero_centred_speed_flips_with_the_steps():
    assert _zero(0.5, 0.0, 200, 100)["zero_centred_faster"].verdict == "supported"
    assert _zero(0.5, 0.0, 100, 102)["zero_centred_faster"].verdict == "tie"
    assert _zero(0.5, 0.0, 100, 200)["zero_centred_faster"].verdict == "not supported"
    # no activation closer to zero than ReLU: the speed claim is not measured
    assert _zero(0.5, 0.6, 200, 100)["zero_centred_faster"].verdict == "not measured"


# ----------------------------------------------------------------------------- compute cost


def _cost(gelu_ratio, step_ratio, cheap_ratio=1.0):
    r = ComputeCostResult("CPU", 1, 1000, 3, 3)
    base = [1e-9, 1.02e-9, 0.98e-9]
    r.forward = {"relu": base, "gelu": [b * gelu_ratio for b in base],
                 "leaky_relu": [b * cheap_ratio for b in base]}
    r.backward = dict(r.forward)
    step = [1e-3, 1.01e-3, 0.99e-3]
    r.step = {"mlp": {"none": [s * 0.9 for s in step], "relu": step,
                      "gelu": [s * step_ratio for s in step]}}
    r.describe = {"mlp": "MLP"}
    return _ids(ComputeCost(), r)


def test_relu_cheapest_flips_when_another_is_cheaper():
    assert _cost(3.0, 1.0)["relu_cheapest"].verdict == "supported"
    v = _cost(3.0, 1.0, cheap_ratio=0.7)["relu_cheapest"]
    assert v.verdict == "not supported" and "leaky_relu 0.70" in v.sentence
    assert _cost(3.0, 1.0, cheap_ratio=0.95)["relu_cheapest"].verdict == "supported"  # a tie


def test_cheap_trains_faster_flips_with_the_step_time():
    assert _cost(3.0, 1.5)["cheap_trains_faster"].verdict == "supported"
    assert _cost(3.0, 1.02)["cheap_trains_faster"].verdict == "tie"
    assert _cost(3.0, 0.8)["cheap_trains_faster"].verdict == "not supported"
    assert "10.0% ± 0.0% of the step;" in _cost(3.0, 1.02)["cheap_trains_faster"].sentence


# ----------------------------------------------------------------------------- exploding


def _explode(growth2=4.0, acc_bad=0.1, acc_clip=0.5, exploding_bad=10, acc_he=0.9):
    def runs(scale, growth, acc, clip_acc, exploding):
        out = []
        for seed, d in enumerate((-0.01, 0.0, 0.01)):
            moments = [growth ** (4 - i) for i in range(1, 5)]
            out.append(ExplodeRun(seed, moments, exploding, [acc + d] * 3, [clip_acc + d] * 3,
                                  True, True))
        return out

    r = ExplodingResult(4, 16, 3, 0.01, 1.0, 3)
    r.runs = {"1": runs(1, 1.0, acc_he, acc_he, 0), "2": runs(2, growth2, acc_bad, acc_clip,
                                                               exploding_bad)}
    return _ids(Exploding(), r)


def test_exploding_growth_agrees_with_the_theory_or_not():
    assert _explode()["exploding_growth"].verdict == "supported"
    assert _explode(growth2=2.0)["exploding_growth"].verdict == "partly supported"


def test_exploding_diverges_flips():
    assert _explode()["exploding_diverges"].verdict == "supported"
    # trains as well as He, no exploding layer: not supported
    v = _explode(acc_bad=0.9, exploding_bad=0)["exploding_diverges"]
    assert v.verdict == "not supported"
    assert _explode(acc_bad=0.5)["exploding_diverges"].verdict == "partly supported"


def test_clipping_rescue_flips():
    assert _explode(acc_clip=0.9)["clipping_rescues"].verdict == "supported"
    v = _explode(acc_clip=0.5)["clipping_rescues"]
    assert v.verdict == "partly supported" and "below He's init" in v.sentence
    assert _explode(acc_clip=0.1)["clipping_rescues"].verdict == "tie"


# ----------------------------------------------------------------------------- output ReLU


def _output(relu_mse=0.4, relu_min=0.0, relu_acc=0.6, dead=(1, 2, 1)):
    r = OutputReluResult(3, 16, 3, 100)
    r.classifier = {
        "linear": [ClassifierRun(i, [0.93 + d] * 3, 0, 0)
                   for i, d in enumerate((-0.01, 0, 0.01))],
        "relu": [ClassifierRun(i, [relu_acc + d] * 3, k, 0)
                 for i, (d, k) in enumerate(zip((-0.01, 0, 0.01), dead, strict=True))]}
    r.regression = {
        "linear": [RegressionRun(i, 0.001 + d, 0.001, -1.0, 1.0)
                   for i, d in enumerate((0, 1e-4, 2e-4))],
        "relu": [RegressionRun(i, relu_mse + d, relu_mse, relu_min, 0.0)
                 for i, d in enumerate((0, 1e-3, 2e-3))]}
    return _ids(OutputRelu(), r)


def test_output_relu_regression_flips():
    assert _output()["output_relu_regression"].verdict == "supported"
    assert _output(relu_mse=0.001)["output_relu_regression"].verdict == "partly supported"
    assert (_output(relu_mse=0.001, relu_min=-1.0)["output_relu_regression"].verdict
            == "not supported")


def test_output_relu_classifier_flips():
    assert _output()["output_relu_classifier"].verdict == "supported"
    assert _output(relu_acc=0.93, dead=(0, 0, 0))["output_relu_classifier"].verdict == (
        "not supported")
    assert _output(dead=(0, 0, 0))["output_relu_classifier"].verdict == "partly supported"
    # dead in one seed only, accuracy a tie: a tie
    assert _output(relu_acc=0.93, dead=(1, 0, 0))["output_relu_classifier"].verdict == "tie"
