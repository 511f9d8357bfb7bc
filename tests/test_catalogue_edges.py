"""Edge behaviour: kink conventions, NaN, +-inf limits, monotonicity and finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_catalogue_reference import SELU_A, SELU_L, limits

import relukit

FLOATS = [np.float16, np.float32, np.float64]
# activation name -> reference key for limits (gelu's tanh form is a parameter)
LIMIT_CASES = [(n, n, {}) for n in relukit.names() if n != "crelu"] + [
    ("gelu", "gelu_tanh", {"approximate": "tanh"}),
    ("celu", "celu", {"alpha": -0.5}),
    ("leaky_relu", "leaky_relu", {"negative_slope": -0.2}),
    ("hardtanh", "hardtanh", {"min_val": -0.5, "max_val": 2.0}),
]


def test_kink_conventions():
    """PyTorch's side at every kink; elu/celu/selu take the x <= 0 branch at 0."""
    z = np.array([0.0, -0.0])
    assert (relukit.relu.derivative(z) == 0).all()
    assert (relukit.relu6.derivative(np.array([0.0, -0.0, 6.0])) == 0).all()
    assert relukit.relu6.derivative(np.nextafter(6.0, 0)) == 1
    assert relukit.relu6.derivative(np.nextafter(0.0, 1)) == 1
    assert (relukit.hardtanh.derivative(np.array([-1.0, 1.0])) == 0).all()
    assert (relukit.leaky_relu.derivative(z, negative_slope=0.3) == 0.3).all()
    assert (relukit.leaky_relu.derivative(z, negative_slope=1.5) == 1.5).all()
    assert (relukit.prelu.derivative(z, weight=0.4) == 0.4).all()
    assert (relukit.rrelu.derivative(z) == (1 / 8 + 1 / 3) / 2).all()
    assert (relukit.elu.derivative(z, alpha=0.5) == 0.5).all()
    assert (relukit.celu.derivative(z, alpha=0.5) == 1.0).all()  # e^{0/alpha}: both sides 1
    assert (relukit.selu.derivative(z) == float(SELU_L * SELU_A)).all()
    np.testing.assert_array_equal(relukit.crelu.derivative(z), [0, 0, 0, 0])
    assert not np.signbit(relukit.crelu.derivative(z)).any()


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", relukit.names())
def test_nan_propagates_through_value_and_derivative(name, dtype):
    act = relukit.get(name)
    x = np.array([np.nan, -1.0, np.nan, 2.0, -np.nan], dtype)
    nan = np.isnan(x)
    for fn in (act, act.derivative):
        y = fn(x)
        if name == "crelu":
            assert np.isnan(y[:5][nan]).all() and np.isnan(y[5:][nan]).all()
            assert not np.isnan(y[:5][~nan]).any()
        else:
            assert np.isnan(y[nan]).all() and not np.isnan(y[~nan]).any()
    if name == "prelu":
        assert np.isnan(act.param_derivative(x, "weight")[nan]).all()
    if name == "rrelu":
        y = act(x, training=True, rng=0)
        assert np.isnan(y[nan]).all() and not np.isnan(y[~nan]).any()


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name,key,params", LIMIT_CASES,
                         ids=[f"{n}-{k}-{p}" for n, k, p in LIMIT_CASES])
def test_infinities_give_the_limits(name, key, params, dtype):
    act = relukit.get(name)
    x = np.array([-np.inf, np.inf], dtype)
    lo, hi, dlo, dhi = limits(key, {k: v for k, v in params.items() if k != "approximate"})
    with np.errstate(over="ignore"):
        expected_v = np.array([lo, hi]).astype(dtype)
        expected_d = np.array([dlo, dhi]).astype(dtype)
    np.testing.assert_array_equal(act(x, **params), expected_v)  # never NaN from inf*0
    np.testing.assert_array_equal(act.derivative(x, **params), expected_d)


def test_the_largest_finite_inputs_do_not_overflow_to_nan():
    for act in relukit.all_activations():
        for dt in FLOATS:
            x = np.array([np.finfo(dt).max, -np.finfo(dt).max], dt)
            assert not np.isnan(act(x)).any(), act.name
            assert not np.isnan(act.derivative(x)).any(), act.name


# ----------------------------------------------------------------------------- hypothesis

MONOTONE = [
    ("relu", {}), ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 2.5}),
    ("prelu", {"weight": 0.25}), ("rrelu", {}), ("relu6", {}), ("hardtanh", {}),
    ("hardtanh", {"min_val": -0.3, "max_val": 4.0}), ("elu", {}), ("celu", {"alpha": 0.4}),
    ("selu", {}), ("softplus", {}), ("softplus", {"beta": 0.3, "threshold": 4.0}),
    ("sigmoid", {}), ("tanh", {}),
]
finite64 = st.floats(allow_nan=False, allow_infinity=True, width=64)


@settings(max_examples=80, deadline=None)
@given(xs=st.lists(finite64, min_size=2, max_size=40),
       dtype=st.sampled_from([np.float32, np.float64]))
@pytest.mark.parametrize("name,params", MONOTONE, ids=[f"{n}-{p}" for n, p in MONOTONE])
def test_relu_family_is_monotone(name, params, xs, dtype):
    act = relukit.get(name)
    with np.errstate(over="ignore"):
        x = np.sort(np.array(xs).astype(dtype))
    y = act(x, **params)
    assert (y[1:] >= y[:-1]).all()
    d = act.derivative(x, **params)
    assert (d >= 0).all()


SMOOTH = [("elu", {"alpha": 0.7}), ("celu", {"alpha": 1.3}), ("celu", {"alpha": -0.6}),
          ("selu", {}), ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("sigmoid", {}),
          ("tanh", {}), ("silu", {}), ("mish", {}), ("softplus", {"beta": 0.7})]


@settings(max_examples=150, deadline=None)
@given(x=st.floats(-20, 20))
@pytest.mark.parametrize("name,params", SMOOTH, ids=[f"{n}-{p}" for n, p in SMOOTH])
def test_derivative_matches_central_differences(name, params, x):
    """float64, 4th-order central differences: truncation ~ h^4 f^(5), rounding ~ eps |f|/h.

    h shrinks like 1/|x|: in the Gaussian tails f varies on that scale (f^(5) ~ x^5 f)."""
    act = relukit.get(name)
    h = 1e-3 / max(1.0, abs(x))
    if name in ("elu", "celu", "selu") and abs(x) <= 2.5 * h:
        return  # the stencil x +- 2h would straddle 0, where their f' has a kink
    xs = x + h * np.array([-2.0, -1.0, 1.0, 2.0])
    f = act(xs, **params)
    fd = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h)
    d = float(act.derivative(x, **params))
    scale = max(abs(d), float(np.max(np.abs(f))) * max(1.0, abs(x)), 1e-300)
    assert math.isclose(fd, d, rel_tol=1e-7, abs_tol=1e-8 * scale), (fd, d)


@settings(max_examples=100, deadline=None)
@given(x=st.floats(-1e6, 1e6), a=st.floats(-3, 3))
def test_piecewise_derivative_matches_differences_away_from_kinks(x, a):
    if abs(x) < 1e-6 or abs(x - 6) < 1e-6 or abs(abs(x) - 1) < 1e-6:
        return
    h = 1e-7 * max(1.0, abs(x))
    for name, params in [("relu", {}), ("leaky_relu", {"negative_slope": a}),
                         ("prelu", {"weight": a}), ("relu6", {}), ("hardtanh", {})]:
        act = relukit.get(name)
        f = act(np.array([x - h, x + h]), **params)
        fd = (f[1] - f[0]) / (2 * h)
        assert math.isclose(fd, float(act.derivative(x, **params)), rel_tol=1e-6, abs_tol=1e-9)
