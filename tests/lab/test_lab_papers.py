"""The published-results section against the papers' values, within standard errors."""

import math

import pytest

pytest.importorskip("torch")

from relukit.lab.sections import papers as P  # noqa: E402


def test_gelu_tanh_form_max_error():
    g = P.gelu_tanh_error(step=1e-3)
    assert g["agrees"]
    assert g["measured"]["max_abs_error"] == pytest.approx(4.73e-4, rel=0.01)
    assert g["measured"]["at_x"] == pytest.approx(2.70, abs=0.01)


def test_born_dead_within_the_bounds_and_rai_cuts_it():
    b = P.born_dead(draws=600, grid=5)
    assert b["agrees"]
    rows = {(r["width"], r["depth"]): r for r in b["table"]}
    # more depth, more dead; more width, fewer
    assert rows[(3, 50)]["probability"] > rows[(3, 10)]["probability"]
    assert rows[(10, 10)]["probability"] < rows[(2, 10)]["probability"]
    r = rows[(3, 20)]
    assert r["rai_probability"] < r["probability"] - 3 * math.hypot(r["se"], r["rai_se"])


def test_born_dead_one_sided_probability_is_exact():
    # dead at x = +1 alone has the closed form 1 - (1 - 2^-N)^L: the Monte Carlo machinery
    # must reproduce it within its standard error (1-point grid at x = 1)
    import torch

    n, depth, draws = 3, 10, 4000
    gen = torch.Generator().manual_seed(1)
    p = P._born_dead_mc(n, (depth,), draws, 1, False, gen)[depth]  # grid of 1 point: x = -1
    exact = 1 - (1 - 2.0 ** -n) ** depth
    se = math.sqrt(exact * (1 - exact) / draws)
    assert abs(p - exact) <= 4 * se


def test_selu_fixed_point():
    s = P.selu_fixed_point(width=128, layers=40, draws=2, batch=64)
    for f in s["final"].values():
        assert abs(f["mean"]) < 0.1
        assert abs(f["variance"] - 1) < 0.15


def test_he_init_second_moment():
    h = P.he_init(width=128, layers=20, draws=16, batch=32)
    assert h["he"]["expected_ratio"] == 1.0
    assert h["lecun"]["expected_ratio"] == 2.0 ** -19
    for k in ("he", "lecun"):
        assert abs(h[k]["measured_over_expected"] - 1) <= max(4 * h[k]["se"], 0.1), k
