"""Precision of every activation's value and derivative against mpmath (60 digits).

Tolerances (ulp of the result's dtype at the exact value; in the subnormal range the unit is the
smallest subnormal, i.e. the error is absolute there):

- float16: 1 ulp. Everything is computed in float64 (or exactly) and rounded once; an exhaustive
  test over all 65536 float16 inputs checks the "rounded once" part bit for bit.
- float32: 4 ulp, everywhere (kinks, +-0, subnormals, +-inf, |x| up to 3e38, roots included:
  the float64 error near a root is far below a float32 ulp of the result).
- float64: 16 ulp for |x| <= 5, and the same 16 ulp in the tails (|x| > 5 up to 1e300).
  After the fixes no tail needs more: the worst measured is GELU's derivative in its subnormal
  range (x ~ -38, ~8 units of the smallest subnormal), where the last product rounds an already
  subnormal exp(-z^2). A tail bound above 16 would hide exactly the catastrophic errors
  (1e2..1e14 ulp) the old implementation had there, so there is no separate, looser one.
- Near a root of a derivative (gelu' at -0.7518, its tanh form at -0.7522, silu' at -1.2785,
  mish' at -1.1924) f' is a sum of terms of opposite sign that cancel; any summation in float64
  has an error of a few ulp *of the terms*, which is unbounded relative to f' itself. There the
  error is measured in ulp of T = the sum of the terms' magnitudes (Phi + |x phi| for gelu'),
  with the same 16-ulp bound; the ordinary relative bound applies wherever T <= 4 |f'|.

Run this file as a script to print the measured maximum errors per function and dtype.
"""

from __future__ import annotations

import math
import zlib

import mpmath as mp
import numpy as np
import pytest
from test_catalogue_reference import (
    REFERENCE,
    Phi,
    _gelu_u,
    _softplus1,
    phi,
    reference,
    sigma,
    ulp_distance,
    ulp_errors,
    ulp_of,
)

import relukit
from relukit import _numpy_impl

# (id, activation, reference key, parameters); the reference takes the same parameters except
# gelu's `approximate`, which selects the reference key.
CASES = [
    ("relu", "relu", "relu", {}),
    ("leaky_relu", "leaky_relu", "leaky_relu", {"negative_slope": 0.01}),
    ("leaky_relu-neg", "leaky_relu", "leaky_relu", {"negative_slope": -0.3}),
    ("leaky_relu-steep", "leaky_relu", "leaky_relu", {"negative_slope": 3.7}),
    ("prelu", "prelu", "prelu", {"weight": 0.25}),
    ("prelu-0.1", "prelu", "prelu", {"weight": 0.1}),
    ("rrelu", "rrelu", "rrelu", {"lower": 1 / 8, "upper": 1 / 3}),
    ("relu6", "relu6", "relu6", {}),
    ("hardtanh", "hardtanh", "hardtanh", {"min_val": -1.0, "max_val": 1.0}),
    ("hardtanh-odd", "hardtanh", "hardtanh", {"min_val": -0.1, "max_val": 0.7}),
    ("elu", "elu", "elu", {"alpha": 1.0}),
    ("elu-0.3", "elu", "elu", {"alpha": 0.3}),
    ("celu", "celu", "celu", {"alpha": 1.0}),
    ("celu-0.3", "celu", "celu", {"alpha": 0.3}),
    ("celu-neg", "celu", "celu", {"alpha": -0.7}),
    ("selu", "selu", "selu", {}),
    ("gelu", "gelu", "gelu", {}),
    ("gelu-tanh", "gelu", "gelu_tanh", {"approximate": "tanh"}),
    ("sigmoid", "sigmoid", "sigmoid", {}),
    ("tanh", "tanh", "tanh", {}),
    ("silu", "silu", "silu", {}),
    ("mish", "mish", "mish", {}),
    ("softplus", "softplus", "softplus", {"beta": 1.0, "threshold": 20.0}),
    ("hardswish", "hardswish", "hardswish", {}),
    ("hardsigmoid", "hardsigmoid", "hardsigmoid", {}),
    ("relu2", "relu2", "relu2", {}),
    ("quick_gelu", "quick_gelu", "quick_gelu", {}),
    ("softplus-0.3", "softplus", "softplus", {"beta": 0.3, "threshold": 5.0}),
]
CASE_IDS = [c[0] for c in CASES]
SMOOTH = {c[0] for c in CASES if not relukit.get(c[1]).exact_in_dtype}

TOL = {np.dtype(np.float16): 1.0, np.dtype(np.float32): 4.0, np.dtype(np.float64): 16.0}

# Roots of derivatives that are sums of cancelling terms, and the magnitude of those terms.
ROOTS = {"gelu": -0.7517915241, "gelu_tanh": -0.7522, "silu": -1.2784645428, "mish": -1.1923}
ROOTS["hardswish"] = -1.5
ROOTS["quick_gelu"] = -1.2784645428 / 1.702


def _terms(key: str, x):
    if key == "gelu":
        return abs(Phi(x)) + abs(x * phi(x))
    if key == "gelu_tanh":
        w = 2 * _gelu_u(x)
        dw = 2 * mp.sqrt(2 / mp.pi) * (1 + 3 * mp.mpf("0.044715") * x * x)
        return sigma(w) + abs(x * sigma(w) * sigma(-w) * dw)
    if key == "silu":
        return sigma(x) + abs(x * sigma(x) * sigma(-x))
    if key == "hardswish":
        return (abs(2 * x) + 3) / 6 if -3 < x < 3 else mp.mpf(1)
    if key == "quick_gelu":
        k = mp.mpf(1.702)
        return sigma(k * x) + abs(k * x * sigma(k * x) * sigma(-k * x))
    if key == "mish":
        sp = _softplus1(x)
        return mp.tanh(sp) + abs(x * sigma(x) * mp.sech(sp) ** 2)
    raise KeyError(key)


def _ref_params(params: dict) -> dict:
    return {k: v for k, v in params.items() if k != "approximate"}


def _tail_points(key: str) -> np.ndarray:
    """Where each function's precision is at risk: cancellation, underflow, saturation."""
    pos = np.geomspace(5, 800, 40)
    neg = -pos
    extra: list = []
    if key == "gelu":
        extra = [np.linspace(-40, -5, 80), np.linspace(-38.8, -37.3, 40)]  # ..and subnormal
    elif key == "gelu_tanh":
        extra = [np.linspace(-22.5, -5, 60), np.linspace(-21.8, -21.2, 20)]
    elif key in ("silu", "mish", "sigmoid", "softplus", "elu", "celu", "selu"):
        extra = [np.linspace(-760, -690, 40)]
    elif key == "quick_gelu":
        extra = [np.linspace(-450, -400, 40)]
    elif key == "tanh":
        extra = [np.linspace(340, 380, 20), -np.linspace(340, 380, 10)]
    return np.concatenate([neg, pos, *extra])


def points(key: str, params: dict, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(zlib.crc32(f"{key}-{dtype.name}".encode()))
    fi = np.finfo(dtype)
    tiny = float(fi.smallest_subnormal)
    special = [0.0, -0.0, tiny, -tiny, 3 * tiny, -7 * tiny, float(fi.smallest_normal),
               -float(fi.smallest_normal), 1e-300, -1e-300, 1e-30, -1e-30, 1e-9, -1e-9,
               1e300, -1e300, 1e100, -1e100, 1e30, -1e30, 1e10, -1e10, 6e4, -6e4,
               float(fi.max), -float(fi.max), math.inf, -math.inf, math.nan]
    kinks = [0.0, 6.0, -3.0, 3.0, params.get("min_val", -1.0), params.get("max_val", 1.0)]
    if key in ROOTS:
        kinks.append(ROOTS[key])
    n = {"float64": 300, "float32": 200, "float16": 150}[dtype.name]
    parts = [np.array(special), rng.uniform(-5, 5, n), np.linspace(-10, 10, 201),
             _tail_points(key)[:: 1 if dtype == np.float64 else 2]]
    with np.errstate(over="ignore"):
        x = np.concatenate(parts).astype(dtype)
        k = np.array(kinks, dtype=dtype)
    near = [k]
    for _ in range(3):  # the three floats on each side of every kink and root
        near += [np.nextafter(near[-1], dtype.type(np.inf))]
    lo = [k]
    for _ in range(3):
        lo += [np.nextafter(lo[-1], dtype.type(-np.inf))]
    x = np.concatenate([x, *near, *lo])
    if key in ROOTS and dtype == np.float64:
        x = np.concatenate([x, ROOTS[key] + np.linspace(-2e-3, 2e-3, 41)])
    # sorted, NaN kept once; unique() merges +0 and -0, so both go back in
    return np.concatenate([np.unique(x), np.array([0.0, -0.0], dtype)])


def errors(case, dtype, which: str):
    """(x, error in ulp, error in ulp of the summed terms or None)."""
    _, act_name, key, params = case
    act = relukit.get(act_name)
    x = points(key, params, dtype)
    fn = act if which == "value" else act.derivative
    got = fn(x, **params)
    assert got.dtype == x.dtype
    exact = reference(key, which, x.astype(np.float64), _ref_params(params))
    err = ulp_errors(got, exact, dtype)
    err_terms = None
    if which == "derivative" and key in ROOTS and np.dtype(dtype) == np.float64:
        err_terms = err.copy()
        for i, (xi, g, ex) in enumerate(zip(x, got, exact, strict=True)):
            if np.isfinite(xi) and np.isfinite(g) and ex != 0:
                t = _terms(key, mp.mpf(float(xi)))
                err_terms[i] = float(abs(mp.mpf(float(g)) - ex) / ulp_of(t, dtype))
    return x, err, err_terms, exact


def _check(case, dtype, which):
    key = case[2]
    tol = TOL[np.dtype(dtype)]
    x, err, err_terms, exact = errors(case, dtype, which)
    if err_terms is None:
        bad = err > tol
    else:
        # relative bound where T <= 4|f'|, term-relative bound everywhere
        cond = np.array([
            float(_terms(key, mp.mpf(float(xi))) / abs(ex)) if np.isfinite(xi) and ex != 0
            else 1.0 for xi, ex in zip(x, exact, strict=True)
        ])
        bad = (err_terms > tol) | ((cond <= 4) & (err > tol))
    assert not bad.any(), (
        f"{case[0]} {which} {np.dtype(dtype).name}: errors above {tol} ulp at "
        + ", ".join(f"x={xi!r}: {e:.3g} ulp"
                    for xi, e in zip(x[bad][:6], err[bad][:6], strict=True))
    )
    return err, err_terms


@pytest.mark.parametrize("which", ["value", "derivative"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16], ids=lambda d: d.__name__)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_precision_against_mpmath(case, dtype, which):
    _check(case, dtype, which)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in SMOOTH], ids=lambda c: c[0])
def test_float16_and_float32_are_float64_rounded_once(case):
    """Exhaustive over float16 (all 65536 bit patterns), 200k float32 including extremes: the
    result is the float64 result rounded once, so the float64 error (a few ulp, 2^-29 of a
    float32 ulp) cannot grow beyond the rounding's half ulp. GELU's float32/16 path skips the
    double-double corrections (impl.NARROW); its float64 value differs in the last bits, so its
    rounding may land on the neighbour of a near-tie: at most 1 ulp apart (and within the
    precision bounds above, which test it against mpmath)."""
    _, act_name, _, params = case
    act = relukit.get(act_name)
    narrow = act._value in _numpy_impl.NARROW
    x16 = np.arange(2**16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    rng = np.random.default_rng(7)
    x32 = np.concatenate([
        rng.standard_normal(100_000) * 4, rng.uniform(-60, 60, 50_000),
        np.geomspace(1e-45, 3e38, 25_000), -np.geomspace(1e-45, 3e38, 25_000),
    ]).astype(np.float32)
    for x in (x16, x32):
        for fn in (act, act.derivative):
            with np.errstate(over="ignore"):
                wide = fn(x.astype(np.float64), **params).astype(x.dtype)
            got = fn(x, **params)
            nan = np.isnan(wide)
            assert (np.isnan(got) == nan).all()
            if narrow:
                assert ulp_distance(got[~nan], wide[~nan]).max() <= 1
            else:
                np.testing.assert_array_equal(got, wide)
                assert (np.signbit(got) == np.signbit(wide))[~nan].all()


# ----------------------------------------------------------------------------- the erfc paths

GELU_CASES = [c for c in CASES if c[2] == "gelu"]


@pytest.fixture
def stdlib_erfc(monkeypatch):
    calls = []
    real = _numpy_impl._erfc_stdlib

    def counting(z):
        calls.append(np.size(z))
        return real(z)

    monkeypatch.setattr(_numpy_impl, "_scipy_erfc", None)
    monkeypatch.setattr(_numpy_impl, "_erfc_stdlib", counting)
    return calls


@pytest.mark.parametrize("which", ["value", "derivative"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: d.__name__)
def test_stdlib_erfc_path_has_the_same_precision(stdlib_erfc, dtype, which):
    err, _ = _check(GELU_CASES[0], dtype, which)
    assert sum(stdlib_erfc) > 0, "the math.erfc path was not taken"


def test_scipy_and_stdlib_paths_agree(monkeypatch):
    x = np.concatenate([np.linspace(-40, 10, 20001), [-np.inf, np.inf, np.nan, -0.0]])
    scipy_v, scipy_d = relukit.gelu(x), relukit.gelu.derivative(x)
    monkeypatch.setattr(_numpy_impl, "_scipy_erfc", None)
    std_v, std_d = relukit.gelu(x), relukit.gelu.derivative(x)
    # Both are within a few ulp of the exact values, hence of each other; rounded to float32
    # they coincide except where the float64 value lies within a few ulp of a float32 tie.
    assert ulp_distance(scipy_v, std_v).max() <= 12
    root = np.abs(x + 0.75179) < 0.25  # derivative near its root: compare absolutely
    assert ulp_distance(scipy_d[~root], std_d[~root]).max() <= 12
    assert np.abs(scipy_d[root] - std_d[root]).max() < 1e-15
    assert ulp_distance(scipy_v.astype(np.float32), std_v.astype(np.float32)).max() <= 1


def test_without_scipy_installed_the_stdlib_path_is_used(tmp_path):
    """A fresh interpreter in which `import scipy` fails."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['scipy'] = None; sys.modules['scipy.special'] = None\n"
        "import numpy as np, relukit\n"
        "from relukit import _numpy_impl as I\n"
        "assert I._scipy_erfc is None and I._scipy_erfcx is None\n"
        "x = np.array([-37.9, -8.0, -1.0, 0.3, 2.0])\n"
        "print(repr(relukit.gelu(x).tolist()), repr(relukit.gelu.derivative(x).tolist()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split(" [")
    v = eval(out[0])  # noqa: S307 - our own repr of floats
    d = eval("[" + out[1])  # noqa: S307
    x = np.array([-37.9, -8.0, -1.0, 0.3, 2.0])
    for got, which in ((v, "value"), (d, "derivative")):
        err = ulp_errors(np.array(got), reference("gelu", which, x), np.float64)
        assert err.max() <= 16


# ----------------------------------------------------------------------------- the table

def measured_table() -> list[tuple[str, str, str, float]]:
    rows = []
    for case in CASES:
        for dt in (np.float64, np.float32, np.float16):
            for which in ("value", "derivative"):
                _, err, et, _ = errors(case, dt, which)
                m = float(np.max(err[np.isfinite(err)])) if et is None else float(et.max())
                rows.append((case[0], np.dtype(dt).name, which, m))
    return rows


if __name__ == "__main__":  # pragma: no cover - prints the numbers for the report
    rows = measured_table()
    print(f"{'case':18s} {'float64 v/d':>16s} {'float32 v/d':>14s} {'float16 v/d':>14s}")
    by = {(r[0], r[1], r[2]): r[3] for r in rows}
    for case in CASES:
        c = case[0]
        cells = [f"{by[c, d, 'value']:.3g}/{by[c, d, 'derivative']:.3g}"
                 for d in ("float64", "float32", "float16")]
        star = " (f' in ulp of terms)" if case[2] in ROOTS else ""
        print(f"{c:18s} {cells[0]:>16s} {cells[1]:>14s} {cells[2]:>14s}{star}")
    assert set(REFERENCE) >= {c[2] for c in CASES}
