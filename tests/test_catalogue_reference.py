"""Reference values (mpmath, 60 digits) and ulp measurement for the catalogue tests.

This module is imported by the other ``test_catalogue_*`` modules; the tests in it check the
helpers themselves (the ulp arithmetic on signed zeros, subnormals and infinities, and the
reference derivatives against mpmath's numerical differentiation).

The reference formulas are written here from the mathematical definitions, independently of
``relukit._numpy_impl``: the high working precision, not a clever rearrangement, is what makes
them exact. The only rearrangements are exact identities used where even 60 digits cancel
(``0.5*(1 + tanh u) = sigmoid(2u)``, ``1 - sigmoid(x) = sigmoid(-x)``, ``1 - tanh^2 = sech^2``)
and each of them is checked against the literal form at 200 digits below.
"""

from __future__ import annotations

import functools
import math

import mpmath as mp
import numpy as np
import pytest

DPS = 60
mp.mp.dps = DPS

# ----------------------------------------------------------------------------- ulp arithmetic

_UINT = {np.dtype(np.float16): np.uint16, np.dtype(np.float32): np.uint32,
         np.dtype(np.float64): np.uint64}


def _ordinal(a: np.ndarray) -> list[int]:
    """Map floats to integers whose order and differences count representable floats.

    +0 and -0 both map to 0; +inf is one step beyond the largest finite value.
    """
    a = np.asarray(a)
    bits = a.view(_UINT[a.dtype]).astype(object).ravel().tolist()
    nbits = a.dtype.itemsize * 8
    sign = 1 << (nbits - 1)
    return [-(b - sign) if b & sign else b for b in bits]


def ulp_distance(a, b) -> np.ndarray:
    """Number of representable floats between ``a`` and ``b`` (same dtype), elementwise.

    -0 and +0 are 0 apart; NaN is 0 from NaN and infinitely far from anything else; inf is one
    step from the largest finite value. Exact (Python integers), returned as float64.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.dtype != b.dtype or a.dtype not in _UINT:
        raise TypeError(f"ulp_distance needs one float dtype, got {a.dtype} and {b.dtype}")
    a, b = np.broadcast_arrays(a, b)
    oa, ob = _ordinal(np.ascontiguousarray(a)), _ordinal(np.ascontiguousarray(b))
    na, nb = np.isnan(a).ravel(), np.isnan(b).ravel()
    out = [
        (0.0 if (x and y) else math.inf) if (x or y) else float(abs(i - j))
        for i, j, x, y in zip(oa, ob, na, nb, strict=True)
    ]
    return np.array(out, dtype=np.float64).reshape(a.shape)


def ulp_of(v, dtype) -> mp.mpf:
    """The spacing of ``dtype`` floats at the real number ``v`` (subnormal spacing near 0)."""
    fi = np.finfo(dtype)
    p, emin = fi.nmant, fi.minexp
    v = v if isinstance(v, mp.mpf) else mp.mpf(float(v))
    if v == 0:
        return mp.ldexp(1, emin - p)
    _, e = mp.frexp(v)  # |v| = m * 2**e with 0.5 <= m < 1, so floor(log2|v|) = e - 1
    return mp.ldexp(1, max(e - 1, emin) - p)


def ulp_error(computed, exact, dtype) -> float:
    """|computed - exact| in units of the last place of ``dtype`` at ``exact``.

    ``exact`` is an mpf (or +-inf / nan). Results that should overflow count 0 when they are
    the right infinity; NaN only matches NaN. In the subnormal range the unit is the smallest
    subnormal, i.e. the error is absolute there (what gradual underflow can deliver).
    """
    dtype = np.dtype(dtype)
    c = float(computed)
    if mp.isnan(exact):
        return 0.0 if math.isnan(c) else math.inf
    if math.isnan(c):
        return math.inf
    fi = np.finfo(dtype)
    big = mp.ldexp(1, fi.maxexp)  # 2**emax+1: where rounding goes to inf
    half_ulp_max = ulp_of(fi.max, dtype) / 2
    if mp.isinf(exact):
        return 0.0 if c == float(exact) else math.inf
    if abs(exact) >= mp.mpf(float(fi.max)) + half_ulp_max:  # rounds to +-inf
        target = math.copysign(math.inf, float(mp.sign(exact)))
        if c == target:
            return 0.0
        if math.isinf(c):
            return math.inf
    cm = mp.mpf(c) if not math.isinf(c) else mp.sign(c) * big
    return float(abs(cm - exact) / ulp_of(exact, dtype))


def ulp_errors(computed: np.ndarray, exact: list, dtype) -> np.ndarray:
    computed = np.asarray(computed).ravel()
    return np.array([ulp_error(c, e, dtype) for c, e in zip(computed, exact, strict=True)])


# ----------------------------------------------------------------------------- reference functions

def _f(v) -> mp.mpf:
    return mp.mpf(float(v)) if not isinstance(v, mp.mpf) else v


def _erfc(z):
    # mpmath's erfc gives up (OverflowError) near |z| ~ 1e154; the asymptotic series is exact
    # to far beyond 60 digits there.
    if z > 10**100:
        return mp.exp(-z * z) / (z * mp.sqrt(mp.pi)) * (1 - 1 / (2 * z * z))
    if z < -10**100:
        return mp.mpf(2)
    return mp.erfc(z)


def Phi(x):
    return _erfc(-x / mp.sqrt(2)) / 2


def phi(x):
    return mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)


def sigma(x):
    return 1 / (1 + mp.exp(-x))


GELU_C = mp.mpf("0.044715")


def _gelu_u(x):
    return mp.sqrt(2 / mp.pi) * (x + GELU_C * x**3)


def _softplus1(x):
    return mp.log1p(mp.exp(x))


# name -> (value(x, **p), derivative(x, **p)); x and parameters are mpf.
QG_K = mp.mpf(1.702)

REFERENCE = {
    "relu": (lambda x: max(mp.mpf(0), x), lambda x: mp.mpf(1 if x > 0 else 0)),
    "leaky_relu": (
        lambda x, negative_slope: x if x > 0 else negative_slope * x,
        lambda x, negative_slope: mp.mpf(1) if x > 0 else negative_slope,
    ),
    "prelu": (
        lambda x, weight: x if x > 0 else weight * x,
        lambda x, weight: mp.mpf(1) if x > 0 else weight,
    ),
    "rrelu": (  # eval mode: the slope is (lower + upper) / 2
        lambda x, lower, upper: x if x > 0 else (lower + upper) / 2 * x,
        lambda x, lower, upper: mp.mpf(1) if x > 0 else (lower + upper) / 2,
    ),
    "relu6": (
        lambda x: min(max(mp.mpf(0), x), mp.mpf(6)),
        lambda x: mp.mpf(1 if 0 < x < 6 else 0),
    ),
    "hardtanh": (
        lambda x, min_val, max_val: min(max(min_val, x), max_val),
        lambda x, min_val, max_val: mp.mpf(1 if min_val < x < max_val else 0),
    ),
    "elu": (
        lambda x, alpha: x if x > 0 else alpha * mp.expm1(x),
        lambda x, alpha: mp.mpf(1) if x > 0 else alpha * mp.exp(x),
    ),
    "celu": (  # max(0, x) + min(0, alpha (e^{x/alpha} - 1)), literally
        lambda x, alpha: max(mp.mpf(0), x) + min(mp.mpf(0), alpha * mp.expm1(x / alpha)),
        lambda x, alpha: mp.mpf(1) if x > 0 else mp.exp(x / alpha),
    ),
    "selu": (
        lambda x: SELU_L * (x if x > 0 else SELU_A * mp.expm1(x)),
        lambda x: SELU_L if x > 0 else SELU_L * SELU_A * mp.exp(x),
    ),
    "gelu": (
        lambda x: x * Phi(x),
        lambda x: Phi(x) + x * phi(x),
    ),
    "gelu_tanh": (  # 0.5 x (1 + tanh u) = x sigma(2u)
        lambda x: x * sigma(2 * _gelu_u(x)),
        lambda x: sigma(2 * _gelu_u(x))
        + x * sigma(2 * _gelu_u(x)) * sigma(-2 * _gelu_u(x)) * 2
        * mp.sqrt(2 / mp.pi) * (1 + 3 * GELU_C * x * x),
    ),
    "sigmoid": (sigma, lambda x: sigma(x) * sigma(-x)),
    "tanh": (mp.tanh, lambda x: mp.sech(x) ** 2),
    "silu": (lambda x: x * sigma(x), lambda x: sigma(x) * (1 + x * sigma(-x))),
    "mish": (
        lambda x: x * mp.tanh(_softplus1(x)),
        lambda x: mp.tanh(_softplus1(x)) + x * sigma(x) * mp.sech(_softplus1(x)) ** 2,
    ),
    "hardswish": (  # torch's sides at the kinks: f'(-3) = 0, f'(3) = 1
        lambda x: x * min(max(mp.mpf(0), x + 3), mp.mpf(6)) / 6,
        lambda x: mp.mpf(0) if x <= -3 else ((2 * x + 3) / 6 if x < 3 else mp.mpf(1)),
    ),
    "hardsigmoid": (
        lambda x: min(max(mp.mpf(0), x + 3), mp.mpf(6)) / 6,
        lambda x: mp.mpf(1) / 6 if -3 < x < 3 else mp.mpf(0),
    ),
    "relu2": (lambda x: max(mp.mpf(0), x) ** 2, lambda x: 2 * max(mp.mpf(0), x)),
    "quick_gelu": (  # k: the float64 nearest 1.702, exactly
        lambda x: x * sigma(QG_K * x),
        lambda x: sigma(QG_K * x) * (1 + QG_K * x * sigma(-QG_K * x)),
    ),
    "softplus": (
        lambda x, beta, threshold: x if beta * x > threshold else mp.log1p(mp.exp(beta * x)) / beta,
        lambda x, beta, threshold: mp.mpf(1) if beta * x > threshold else sigma(beta * x),
    ),
}

SELU_L = mp.mpf("1.0507009873554804934193349852946")
SELU_A = mp.mpf("1.6732632423543772848170429916717")

# The limits at +-inf, written by hand: (f(-inf), f(+inf), f'(-inf), f'(+inf)).
# None means "depends on parameters" and is handled by ``limits``.
_INF = math.inf


def limits(key: str, params: dict) -> tuple[float, float, float, float]:
    p = params
    if key == "relu":
        return 0.0, _INF, 0.0, 1.0
    if key in ("leaky_relu", "prelu", "rrelu"):
        a = {"leaky_relu": lambda: p.get("negative_slope", 0.01),
             "prelu": lambda: p.get("weight", 0.25),
             "rrelu": lambda: (p.get("lower", 1 / 8) + p.get("upper", 1 / 3)) / 2}[key]()
        neg = -_INF if a > 0 else (_INF if a < 0 else 0.0)
        return neg, _INF, a, 1.0
    if key == "relu6":
        return 0.0, 6.0, 0.0, 0.0
    if key == "hardtanh":
        return p.get("min_val", -1.0), p.get("max_val", 1.0), 0.0, 0.0
    if key == "elu":
        a = p.get("alpha", 1.0)
        return -a, _INF, 0.0, 1.0
    if key == "celu":
        a = p.get("alpha", 1.0)
        return (-a, _INF, 0.0, 1.0) if a > 0 else (-_INF, _INF, _INF, 1.0)
    if key == "selu":
        return -float(SELU_L * SELU_A), _INF, 0.0, float(SELU_L)
    if key in ("gelu", "gelu_tanh", "silu", "mish"):
        return 0.0, _INF, 0.0, 1.0
    if key == "hardswish":
        return 0.0, _INF, 0.0, 1.0
    if key == "hardsigmoid":
        return 0.0, 1.0, 0.0, 0.0
    if key == "relu2":
        return 0.0, _INF, 0.0, _INF
    if key == "quick_gelu":
        return 0.0, _INF, 0.0, 1.0
    if key == "sigmoid":
        return 0.0, 1.0, 0.0, 0.0
    if key == "tanh":
        return -1.0, 1.0, 0.0, 0.0
    if key == "softplus":
        return 0.0, _INF, 0.0, 1.0
    raise KeyError(key)


@functools.cache
def _ref_cached(key: str, which: int, x: float, params: tuple) -> mp.mpf:
    fn = REFERENCE[key][which]
    kw = {k: (v if isinstance(v, str) else mp.mpf(v)) for k, v in params}
    return fn(mp.mpf(x), **kw)


def reference(key: str, which: str, xs, params: dict | None = None) -> list:
    """Exact f (which="value") or f' (which="derivative") at the float points ``xs``.

    NaN gives NaN and +-inf the hand-written limits; everything else goes through mpmath.
    """
    params = dict(params or {})
    w = 0 if which == "value" else 1
    lim = limits(key, params)
    frozen = tuple(sorted(params.items()))
    out = []
    for x in np.asarray(xs, dtype=np.float64).ravel().tolist():
        if math.isnan(x):
            out.append(mp.nan)
        elif math.isinf(x):
            v = lim[(0 if x < 0 else 1) + 2 * w]
            out.append(mp.mpf(v))
        else:
            out.append(_ref_cached(key, w, x, frozen))
    return out


# ----------------------------------------------------------------------------- tests of the helpers


def test_ulp_distance_counts_representable_floats():
    for dt in (np.float16, np.float32, np.float64):
        fi = np.finfo(dt)
        z, nz = dt(0.0), dt(-0.0)
        tiny = np.nextafter(z, dt(1))  # smallest subnormal
        assert ulp_distance(z, nz) == 0
        assert ulp_distance(tiny, nz) == 1
        assert ulp_distance(-tiny, tiny) == 2
        assert ulp_distance(dt(fi.smallest_normal), dt(0)) == 2 ** fi.nmant
        assert ulp_distance(dt(1), np.nextafter(dt(1), dt(2))) == 1
        assert ulp_distance(dt(1), np.nextafter(dt(1), dt(0))) == 1
        assert ulp_distance(dt(fi.max), dt(np.inf)) == 1
        assert ulp_distance(dt(-np.inf), dt(np.inf)) == 2 * (ulp_distance(dt(0), dt(np.inf)))
        assert ulp_distance(dt(np.nan), dt(np.nan)) == 0
        assert ulp_distance(dt(np.nan), dt(1)) == math.inf
        # 2 and the float just below it are 1 apart although their spacings differ
        assert ulp_distance(dt(2), np.nextafter(dt(2), dt(0))) == 1


def test_ulp_error_uses_the_spacing_at_the_exact_value():
    for dt in (np.float16, np.float32, np.float64):
        fi = np.finfo(dt)
        one = mp.mpf(1)
        eps = mp.ldexp(1, -fi.nmant)
        assert ulp_error(dt(1), one, dt) == 0
        assert ulp_error(np.nextafter(dt(1), dt(2)), one, dt) == pytest.approx(1)
        assert ulp_error(np.nextafter(dt(1), dt(0)), one, dt) == pytest.approx(0.5)
        assert ulp_error(dt(1), one + eps / 4, dt) == pytest.approx(0.25)
        tiny = mp.ldexp(1, fi.minexp - fi.nmant)
        assert ulp_error(dt(0), tiny * 3, dt) == pytest.approx(3)  # absolute in subnormals
        assert ulp_error(dt(-0.0), -tiny / 4, dt) == pytest.approx(0.25)
        assert ulp_error(dt(np.inf), mp.mpf(float(fi.max)) * 2, dt) == 0
        assert ulp_error(dt(fi.max), mp.mpf(float(fi.max)) * 2, dt) > 100  # finite, should be inf
        assert ulp_error(dt(np.inf), mp.inf, dt) == 0
        assert ulp_error(dt(-np.inf), mp.inf, dt) == math.inf
        assert ulp_error(dt(np.nan), mp.nan, dt) == 0
        assert ulp_error(dt(0), mp.nan, dt) == math.inf
        assert ulp_error(dt(np.nan), one, dt) == math.inf
        # inf where the exact value is the largest finite float: one ulp beyond it
        assert ulp_error(dt(np.inf), mp.mpf(float(fi.max)), dt) == pytest.approx(1)


def test_reference_rearrangements_match_the_literal_formulas():
    """The three identities the references use, at 200 digits where nothing cancels."""
    with mp.workdps(200):
        for x in [mp.mpf(v) / 7 for v in range(-70, 71, 3)]:
            u = _gelu_u(x)
            assert mp.almosteq(0.5 * x * (1 + mp.tanh(u)), REFERENCE["gelu_tanh"][0](x),
                               rel_eps=mp.mpf(10) ** -150, abs_eps=mp.mpf(10) ** -150)
            assert mp.almosteq(1 - sigma(x), sigma(-x), rel_eps=mp.mpf(10) ** -150)
            assert mp.almosteq(1 - mp.tanh(x) ** 2, mp.sech(x) ** 2, rel_eps=mp.mpf(10) ** -150)
            assert mp.almosteq(Phi(x), mp.ncdf(x), rel_eps=mp.mpf(10) ** -150)


@pytest.mark.parametrize("key", sorted(set(REFERENCE) - {"relu", "relu6", "hardtanh"}))
def test_reference_derivatives_match_numerical_differentiation(key):
    params = {
        "leaky_relu": {"negative_slope": 0.01}, "prelu": {"weight": 0.25},
        "rrelu": {"lower": 0.125, "upper": 1 / 3}, "elu": {"alpha": 1.3},
        "celu": {"alpha": -0.7}, "softplus": {"beta": 2.0, "threshold": 20.0},
    }.get(key, {})
    kw = {k: mp.mpf(v) for k, v in params.items()}
    f, df = REFERENCE[key]
    for x in ("-7.3", "-2.1", "-0.75", "-0.3", "0.4", "1.7", "5.9"):
        xm = mp.mpf(x)
        num = mp.diff(lambda t, xm=xm: f(t, **kw), xm)
        assert mp.almosteq(num, df(xm, **kw), rel_eps=mp.mpf(10) ** -30,
                           abs_eps=mp.mpf(10) ** -40), (key, x)
