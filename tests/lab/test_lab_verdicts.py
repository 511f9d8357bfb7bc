"""The verdict sentences come from the run's numbers: move a number, the verdict moves."""

import copy

import pytest

from relukit.lab import verdicts as V


def _results():
    """A hand-written results dict shaped like run_lab's (test input, not code output)."""
    conv_summary = {
        a: {"epochs_to_target": e, "final_accuracy": acc, "accuracy_mean": [0.5] * 6}
        for a, e, acc in [("relu", [2, 2, 3], 0.95), ("sigmoid", [None, None, None], 0.10),
                          ("tanh", [3, 3, None], 0.94)]
    }
    dead = {"1": [0.0, 0.3], "3": [0.1, 0.4]}
    return {
        "gradient_flow": {"depth": 20, "vanishing_ratio": 1e-3,
                          "vanishing_layers": {"relu": 0, "sigmoid": 2},
                          "grad_norms": {"relu": [0.5, 1.0, 2.0], "sigmoid": [1e-9, 1e-4, 1.0]}},
        "convergence": {
            "target_accuracy": 0.9, "summary": conv_summary,
            "sparsity": {"relu": {"init": {"1": 0.5}, "trained": {"1": 0.6, "3": 0.5}},
                         "sigmoid": {"init": {"1": 0.0}, "trained": {"1": 0.0}}},
        },
        "dying": {
            "normal_lr": 1e-3, "high_lr": 3e-2, "negative_bias": -2.0,
            "runs": {
                "relu": {
                    "normal lr": {"final_dead_fraction": {"1": 0.0, "3": 0.02},
                                  "test_accuracy": [0.96]},
                    "high lr": {"final_dead_fraction": {"1": 0.3, "3": 0.4},
                                "test_accuracy": [0.80]},
                    "negative bias": {"dead_fraction": dead,
                                      "final_dead_fraction": {"1": 0.3, "3": 0.4},
                                      "test_accuracy": [0.5]},
                    "high lr + revive": {"final_dead_fraction": {"1": 0.05, "3": 0.1},
                                         "test_accuracy": [0.85], "revived_units": [10, 4]},
                },
                "leaky_relu": {"high lr": {"final_dead_fraction": {"1": 0.0, "3": 0.0},
                                           "test_accuracy": [0.88]}},
            },
        },
    }


@pytest.mark.parametrize("fn", V.ALL)
def test_each_verdict_is_supported_on_textbook_numbers(fn):
    v = fn(_results())
    assert v.status == V.SUPPORTED, v
    assert v.sentence and v.claim


def test_vanishing_flips_when_no_sigmoid_layer_is_vanishing():
    r = _results()
    r["gradient_flow"]["vanishing_layers"]["sigmoid"] = 0
    v = V.vanishing(r)
    assert v.status == V.PARTLY
    assert "0 of 3 layers" in v.sentence
    r["gradient_flow"]["vanishing_layers"]["relu"] = 1
    assert V.vanishing(r).status == V.NOT_SUPPORTED


def test_convergence_verdict_compares_median_epochs_and_counts_seeds():
    r = _results()
    assert "relu 3/3 seeds (median 2 epochs)" in V.convergence(r).sentence
    assert "sigmoid 0/3 seeds" in V.convergence(r).sentence
    r["convergence"]["summary"]["tanh"]["epochs_to_target"] = [1, 1, 2]
    assert V.convergence(r).status == V.PARTLY
    r["convergence"]["summary"]["sigmoid"]["epochs_to_target"] = [1, 1, 1]
    assert V.convergence(r).status == V.NOT_SUPPORTED


def test_relu_that_never_reaches_the_target_is_not_faster():
    r = _results()
    r["convergence"]["summary"]["relu"]["epochs_to_target"] = [6, None, None]
    assert V.convergence(r).status == V.NOT_SUPPORTED


def test_median_epochs_counts_missed_seeds_as_infinite():
    assert V.median_epochs([3, None, 1]) == 3
    assert V.median_epochs([3, None]) == float("inf")
    assert V.median_epochs([2, 4]) == 3


def test_sparsity_verdict_needs_exact_zeros():
    r = _results()
    r["convergence"]["sparsity"]["relu"]["trained"] = {"1": 0.01}
    v = V.sparsity(r)
    assert v.status == V.NOT_SUPPORTED and "1.0% after training" in v.sentence


def test_dying_verdicts_follow_dead_fractions():
    r = _results()
    assert "40.0% at lr=0.03" in V.dying_high_lr(r).sentence
    r2 = copy.deepcopy(r)
    r2["dying"]["runs"]["relu"]["high lr"]["final_dead_fraction"] = {"1": 0.0, "3": 0.05}
    assert V.dying_high_lr(r2).status == V.NOT_SUPPORTED
    r3 = copy.deepcopy(r)
    r3["dying"]["runs"]["relu"]["negative bias"]["dead_fraction"] = {"1": [0.0, 0.0]}
    r3["dying"]["runs"]["relu"]["negative bias"]["final_dead_fraction"] = {"1": 0.0}
    assert V.dying_negative_bias(r3).status == V.NOT_SUPPORTED


def test_lower_lr_must_actually_avoid_dying():
    r = _results()
    r["dying"]["runs"]["relu"]["normal lr"]["final_dead_fraction"] = {"1": 0.2}
    assert V.dying_high_lr(r).status == V.PARTLY


def test_leaky_fix_follows_accuracy_at_the_high_learning_rate():
    r = _results()
    r["dying"]["runs"]["leaky_relu"]["high lr"]["test_accuracy"] = [0.5]
    v = V.leaky_fix(r)
    assert v.status == V.NOT_SUPPORTED and "leaky_relu 0.500" in v.sentence
    r["dying"]["runs"]["relu"]["high lr"]["final_dead_fraction"] = {"1": 0.0}
    assert V.leaky_fix(r).status == V.NOT_MEASURED  # nothing died: nothing to fix


def test_revive_verdict_compares_dead_fraction_with_and_without():
    r = _results()
    r["dying"]["runs"]["relu"]["high lr + revive"]["final_dead_fraction"] = {"1": 0.5}
    assert V.revive(r).status == V.NOT_SUPPORTED
    r["dying"]["runs"]["relu"]["high lr + revive"]["revived_units"] = [0, 0]
    assert V.revive(r).status == V.NOT_MEASURED


def test_missing_experiments_are_not_measured():
    for fn in V.ALL:
        assert fn({}).status == V.NOT_MEASURED
