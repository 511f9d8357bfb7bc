"""The catalogue's public API: dtypes, out=, parameter validation, lookup and metadata."""

from __future__ import annotations

import numpy as np
import pytest

import relukit
from relukit import _numpy_impl

NAMES = relukit.names()
ELEMENTWISE = [n for n in NAMES if n != "crelu"]  # crelu's output doubles along an axis
FLOATS = [np.float16, np.float32, np.float64]


def _x(dtype=np.float64, n=64):
    return np.linspace(-8, 8, n).astype(dtype)


# ----------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", NAMES)
def test_dtype_in_is_dtype_out(name, dtype):
    act = relukit.get(name)
    x = _x(dtype).reshape(8, 8)
    for fn in (act, act.derivative):
        y = fn(x)
        assert y.dtype == dtype
        assert y.shape == (x.shape if name != "crelu" else (8, 16))
        s = fn(dtype(-1.5))
        assert np.asarray(s).dtype == dtype
    assert isinstance(act(dtype(0.5)), np.generic) or name == "crelu"


@pytest.mark.parametrize("name", NAMES)
def test_lists_and_python_floats_are_accepted(name):
    act = relukit.get(name)
    np.testing.assert_array_equal(act([-1.0, 0.5, 2.0]), act(np.array([-1.0, 0.5, 2.0])))
    assert np.asarray(act(0.5)).dtype == np.float64


@pytest.mark.parametrize("bad", [np.arange(3), np.array([True, False]), [1, 2], 3,
                                 np.arange(3, dtype=np.uint8)], ids=repr)
@pytest.mark.parametrize("name", ["relu", "gelu", "crelu", "prelu"])
def test_integer_and_bool_input_raise_type_error_saying_to_cast(name, bad):
    act = relukit.get(name)
    for fn in (act, act.derivative):
        with pytest.raises(TypeError, match=r"(?i)cast"):
            fn(bad)
    if name == "prelu":
        with pytest.raises(TypeError, match=r"(?i)cast"):
            act.param_derivative(bad, "weight")


@pytest.mark.parametrize("bad", [np.array([1j]), np.array([1.0], dtype=object),
                                 np.array(["a"]), np.array([1.0], dtype=np.longdouble)],
                         ids=lambda a: str(a.dtype))
def test_other_dtypes_raise_type_error_listing_the_accepted_ones(bad):
    if bad.dtype == np.float64:  # longdouble is float64 on some platforms
        pytest.skip("longdouble is float64 here")
    with pytest.raises(TypeError, match="float16, float32, float64"):
        relukit.relu(bad)


# ----------------------------------------------------------------------------- out=


@pytest.mark.parametrize("n", [7, _numpy_impl.WIDE_BLOCK * 3 + 5, _numpy_impl.BLOCK * 2 + 3],
                         ids=["small", "blocked-wide", "blocked"])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_out_in_place_non_contiguous_and_overlapping(name, n):
    act = relukit.get(name)
    dt = np.float32
    x = np.linspace(-9, 9, n).astype(dt)
    expected, d_expected = act(x), act.derivative(x)
    for fn, exp in ((act, expected), (act.derivative, d_expected)):
        o = np.full_like(x, np.nan)
        assert fn(x, out=o) is o
        np.testing.assert_array_equal(o, exp)
        y = x.copy()
        assert fn(y, out=y) is y  # in place
        np.testing.assert_array_equal(y, exp)
        big = np.repeat(x, 2)  # x at even positions: a non-contiguous view
        v = big[::2]
        fn(v, out=v)
        np.testing.assert_array_equal(v, exp)
        np.testing.assert_array_equal(big[1::2], x)  # the odd positions untouched
        o2 = np.zeros(2 * n, dt)[::2]
        fn(x, out=o2)
        np.testing.assert_array_equal(o2, exp)
        for shift in (1, -1):  # out partly overlaps x, one element ahead or behind
            buf = np.concatenate([x, x[:1]]) if shift == 1 else np.concatenate([x[:1], x])
            xs, os_ = (buf[:-1], buf[1:]) if shift == 1 else (buf[1:], buf[:-1])
            fn(xs, out=os_)
            np.testing.assert_array_equal(os_, exp)


def test_out_errors_are_clear():
    x = np.ones(3)
    with pytest.raises(ValueError, match=r"shape \(4,\).*shape \(3,\)"):
        relukit.relu(x, out=np.ones(4))
    with pytest.raises(TypeError, match="dtype float32.*float64"):
        relukit.gelu(x, out=np.ones(3, np.float32))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        relukit.relu(x, out=[0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="read-only"):
        relukit.relu(x, out=np.broadcast_to(np.ones(1), (3,)))
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*shape \(2, 6\)"):
        relukit.crelu(np.ones((2, 3)), out=np.ones((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        relukit.gelu.derivative(x, out=np.ones(2))


def test_crelu_out_has_the_doubled_shape():
    x = np.array([[-1.0, 2.0], [3.0, -4.0]])
    o = np.empty((4, 2))
    assert relukit.crelu(x, axis=0, out=o) is o
    np.testing.assert_array_equal(o, [[0, 2], [3, 0], [1, 0], [0, 4]])
    d = np.empty((2, 4))
    relukit.crelu.derivative(x, out=d)
    np.testing.assert_array_equal(d, [[0, 1, -1, 0], [1, 0, 0, -1]])
    assert relukit.crelu(-2.0).shape == (2,) and relukit.crelu.derivative(-2.0).shape == (2,)


# ----------------------------------------------------------------------------- parameters

INVALID = [
    ("celu", {"alpha": 0}, ValueError, "alpha"),
    ("celu", {"alpha": float("nan")}, ValueError, "alpha"),
    ("elu", {"alpha": float("inf")}, ValueError, "alpha"),
    ("rrelu", {"lower": 0.5, "upper": 0.1}, ValueError, "lower"),
    ("rrelu", {"training": 1}, ValueError, "training"),
    ("gelu", {"approximate": "erf"}, ValueError, "approximate"),
    ("gelu", {"approximate": None}, ValueError, "approximate"),
    ("softplus", {"threshold": -1.0}, ValueError, "threshold"),
    ("softplus", {"beta": 0.0}, ValueError, "beta"),
    ("softplus", {"beta": -2.0}, ValueError, "beta"),
    ("hardtanh", {"min_val": 2.0, "max_val": 1.0}, ValueError, "min_val"),
    ("hardtanh", {"max_val": float("nan")}, ValueError, "max_val"),
    ("leaky_relu", {"negative_slope": "0.1"}, ValueError, "negative_slope"),
    ("leaky_relu", {"negative_slope": True}, ValueError, "negative_slope"),
    ("prelu", {"weight": np.ones(2)}, ValueError, "weight"),
    ("prelu", {"weight": np.ones((3, 1))}, ValueError, "weight"),
    ("prelu", {"weight": float("nan")}, ValueError, "weight"),
    ("prelu", {"axis": 5}, ValueError, "axis"),
    ("crelu", {"axis": 2}, ValueError, "axis"),
    ("crelu", {"axis": 0.5}, TypeError, "axis"),
    ("relu", {"alpha": 1.0}, TypeError, "alpha"),
    ("elu", {"alfa": 1.0}, TypeError, "alfa"),
    ("rrelu", {"training": True, "rng": "seed"}, TypeError, "rng"),
]


@pytest.mark.parametrize("name,params,exc,param", INVALID,
                         ids=[f"{n}-{'-'.join(p)}" for n, p, _, _ in INVALID])
def test_invalid_parameters_raise_naming_the_parameter(name, params, exc, param):
    act = relukit.get(name)
    x = np.ones((2, 3))
    for fn in (act, act.derivative):
        with pytest.raises(exc, match=param) as info:
            fn(x, **params)
        if exc is ValueError and param != "axis":
            assert "valid" in str(info.value)  # and says what is valid


def test_unknown_parameter_lists_the_known_ones():
    with pytest.raises(TypeError, match="negative_slope"):
        relukit.leaky_relu(1.0, slope=0.1)
    with pytest.raises(TypeError, match="at most 1"):
        relukit.elu(1.0, 1.0, 2.0)
    with pytest.raises(TypeError, match="multiple values"):
        relukit.elu(1.0, 1.0, alpha=2.0)
    with pytest.raises(ValueError, match="available: weight"):
        relukit.prelu.param_derivative(np.ones((2, 2)), "axis")


def test_positional_parameters_follow_the_declared_order():
    np.testing.assert_array_equal(relukit.hardtanh([-3.0, 3.0], -2.0, 2.5), [-2.0, 2.5])
    assert relukit.elu(-1.0, 2.0) == relukit.elu(-1.0, alpha=2.0)


def test_prelu_without_a_channel_axis_takes_one_weight():
    x = np.array([-1.0, -2.0, 3.0])
    with pytest.raises(ValueError, match="no channel axis"):
        relukit.prelu(x, weight=np.array([0.1, 0.2, 0.3]))
    # an explicit axis=0 makes the 1-D axis the channels
    np.testing.assert_allclose(relukit.prelu(x, weight=np.array([0.1, 0.2, 0.3]), axis=0),
                               [-0.1, -0.4, 3.0])
    assert relukit.prelu(-2.0) == -0.5


# ----------------------------------------------------------------------------- lookup and metadata


@pytest.mark.parametrize("alias,name", [
    ("LeakyReLU", "leaky_relu"), ("leaky-relu", "leaky_relu"), ("LEAKY_RELU", "leaky_relu"),
    ("Leaky ReLU", "leaky_relu"), ("ReLU6", "relu6"), ("GELU", "gelu"), ("Swish", "silu"),
    ("SiLU", "silu"), ("PReLU", "prelu"), ("hard_tanh", "hardtanh"), ("Softplus", "softplus"),
])
def test_get_ignores_case_and_separators(alias, name):
    assert relukit.get(alias) is getattr(relukit, name)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError) as info:
        relukit.get("reluu")
    msg = str(info.value)
    assert "Did you mean relu" in msg
    for name in NAMES:
        assert name in msg
    with pytest.raises(TypeError, match="str"):
        relukit.get(3)
    assert relukit.get(relukit.gelu) is relukit.gelu


def test_names_are_sorted_and_complete():
    expected = {"relu", "leaky_relu", "prelu", "rrelu", "relu6", "crelu", "elu", "celu", "selu",
                "gelu", "sigmoid", "tanh", "silu", "mish", "softplus", "hardtanh"}
    expected |= {"hardswish", "hardsigmoid", "relu2", "quick_gelu"}  # the catalogue's rules
    assert set(NAMES) == expected and NAMES == sorted(NAMES)
    assert [a.name for a in relukit.all_activations()] == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_metadata_is_complete(name):
    act = relukit.get(name)
    for field in ("title", "formula", "latex", "derivative_formula", "derivative_latex"):
        assert isinstance(getattr(act, field), str) and getattr(act, field).strip()
    assert act.shape in ("piecewise_linear", "piecewise_quadratic", "smooth")
    assert act.backward_needs in ("mask", "output", "output_and_mask", "input")
    assert act.defaults == {p.name: p.default for p in act.params}
    for p in act.params:
        assert isinstance(p, relukit.Parameter) and p.doc and p.valid
        p.validate(name, p.default)  # every default is valid
    act(np.zeros(3).reshape(1, 3), **act.defaults)  # the defaults work together
    bp = act.breakpoints()
    if act.shape != "smooth":
        # piecewise: exact in the dtype, except where a piece's slope (hardsigmoid's 1/6) or
        # degree (hardswish, relu2) rounds
        assert act.exact_in_dtype or name in ("hardsigmoid", "hardswish", "relu2")
        assert len(bp) >= 1
        assert all(isinstance(b, float) for b in bp) and list(bp) == sorted(bp)
    else:
        assert bp == () and not act.exact_in_dtype
    assert name in repr(act)


def test_breakpoints_follow_the_parameters():
    assert relukit.relu6.breakpoints() == (0.0, 6.0)
    assert relukit.hardtanh.breakpoints() == (-1.0, 1.0)
    assert relukit.hardtanh.breakpoints(min_val=-2, max_val=3) == (-2.0, 3.0)
    assert relukit.leaky_relu.breakpoints(negative_slope=0.2) == (0.0,)
    with pytest.raises(ValueError, match="min_val"):
        relukit.hardtanh.breakpoints(min_val=3, max_val=2)


@pytest.mark.parametrize("name", NAMES)
def test_the_derivative_is_constant_between_breakpoints(name):
    act = relukit.get(name)
    if act.shape != "piecewise_linear" or name == "crelu":
        pytest.skip("smooth, or two outputs per input")
    edges = (-np.inf, *act.breakpoints(), np.inf)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        a, b = max(lo, -50.0), min(hi, 50.0)
        x = np.linspace(a, b, 9)[1:-1]
        d = act.derivative(x)
        assert (d == d[0]).all()
        np.testing.assert_allclose(np.diff(act(x)), d[0] * np.diff(x), rtol=1e-12, atol=0)


def test_torch_names_are_torch_functions():
    torch = pytest.importorskip("torch")
    for act in relukit.all_activations():
        if act.torch_name is not None:
            assert hasattr(torch.nn.functional, act.torch_name), act.name
    # torch has no crelu, squared ReLU or QuickGELU function (its ops compose them)
    composed = {"crelu", "relu2", "quick_gelu"} & set(NAMES)
    assert {a.name for a in relukit.all_activations() if a.torch_name is None} == composed


def test_prelu_rejects_a_non_finite_weight_on_1d_and_0d_input():
    import relukit as rk

    with pytest.raises(ValueError, match="weight must be finite"):
        rk.prelu(np.float64(-1.0), np.inf)
    with pytest.raises(ValueError, match="weight must be finite"):
        rk.prelu(-np.ones(3), np.nan)
