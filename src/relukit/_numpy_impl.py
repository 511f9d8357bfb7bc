"""NumPy values and derivatives of the catalogue.

One calling convention: ``f(x, out, **params) -> out``, for every value, derivative and
parameter derivative: ``x`` a validated floating ndarray, ``out`` the array that receives the
result (it may be ``x`` itself: every kernel reads x before it writes out). The functions that
run in float64 are written as formulas ``f(x, **params) -> float64 array`` and given that
convention at the end of the module (``_FLOAT64``), which rounds the result into ``out`` once.
Validation, the dtype policy and the public signatures live in ``catalogue.py``.

Precision policy:
- piecewise-linear functions are exact in every dtype, so they run in the input's dtype,
  block by block (``_blocked``) so that a multi-step expression reads and writes main memory
  once, like a single ufunc;
- everything else runs in float64 (float16/float32 inputs are widened, then rounded once), and
  float64 itself uses double-double corrections where one rounding would be amplified: the
  argument of erfc in GELU, x**2 in the Gaussian density, the cubic of GELU's tanh form, x/alpha
  in CELU and beta*x in softplus (the exponential turns an absolute error of the argument into a
  relative error of the result, |argument| ulp otherwise);
- tails whose result is subnormal are computed as one exp() of a double-double exponent, so that
  the only rounding into the subnormal range is the last one (x * tiny would multiply the
  subnormal's absolute error by |x|): GELU below x = -0.7 uses exp(-z^2) * erfcx(z), SiLU/Mish
  below -700 use -exp(x + log(-x)).
"""

from __future__ import annotations

import math

import numpy as np

try:  # scipy is optional: it only vectorises erfc/erfcx. Setting _scipy_erfc = None selects
    # the stdlib path (math.erfc, correctly rounded to ~1 ulp by libm) for both.
    from scipy.special import erfc as _scipy_erfc
    from scipy.special import erfcx as _scipy_erfcx
except ImportError:  # pragma: no cover - exercised by a test that hides scipy
    _scipy_erfc = None
    _scipy_erfcx = None

# Elements per block of a blocked piecewise evaluation (float32: 256 KiB per operand). Smaller
# blocks keep more in L1/L2 but pay NumPy's per-call overhead (~1 us) once per step and block;
# measured on 16M float32, 64K elements is the knee (see benchmarks/bench_numpy.py).
BLOCK = 1 << 16
# Elements per block when a smooth function is evaluated in float64 (catalogue._widened): its
# 10-40 temporaries of 8 bytes each then stay in L2/L3 instead of streaming through memory.
WIDE_BLOCK = 1 << 13

SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE_ALPHA = 1.7580993408473768  # float64(scale * alpha), product taken at 60 digits

# Double-double constants (hi, lo), computed with mpmath at 60 digits.
_INV_SQRT2 = (0.7071067811865476, -4.833646656726457e-17)
_GELU_TANH_K1 = (1.5957691216057308, -9.96930880911092e-17)  # 2*sqrt(2/pi)
_GELU_TANH_K3 = (0.07135481627260025, -6.175149918155315e-19)  # 2*sqrt(2/pi)*0.044715
_INV_SQRT_PI = 0.5641895835477563  # 1/sqrt(pi)
_INV_SQRT_2PI = 0.3989422804014327

_SPLITTER = 134217729.0  # 2**27 + 1, Dekker's split for float64


# ----------------------------------------------------------------------------- helpers


def _two_prod(a: np.ndarray, b: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """a*b = p + e exactly (Dekker), for |a|,|b| well inside the float64 range."""
    p = a * b
    ta = _SPLITTER * a
    ah = ta - (ta - a)
    al = a - ah
    tb = _SPLITTER * b
    bh = tb - (tb - b)
    bl = b - bh
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


def _is_power_of_two(v: float) -> bool:
    """Multiplying or dividing by v is exact (barring over/underflow)."""
    return v != 0 and math.frexp(abs(v))[0] == 0.5


def _erfc(z: np.ndarray) -> np.ndarray:
    if _scipy_erfc is not None:
        return _scipy_erfc(z)
    return _erfc_stdlib(z)


_erfc_ufunc = np.frompyfunc(math.erfc, 1, 1)


def _erfc_stdlib(z: np.ndarray) -> np.ndarray:
    return np.asarray(_erfc_ufunc(z), dtype=np.float64)


# erfcx(a) ~ 1/(a sqrt(pi)) * sum_n (-1)^n (2n-1)!! / (2a^2)^n; for a >= 26 the 9 terms below
# leave a relative error under 1e-20.
_ERFCX_ASYMPTOTIC = (1.0, -1.0, 3.0, -15.0, 105.0, -945.0, 10395.0, -135135.0, 2027025.0)


def _erfcx(a: np.ndarray) -> np.ndarray:
    """exp(a^2) erfc(a) for a >= 0.5 (NaN passes through).

    scipy: its erfcx (Faddeeva package, <= 5 ulp). stdlib: math.erfc(a) * exp(a^2) with a^2
    in double-double below a = 26, where erfc is still a normal number; above, the asymptotic
    series.
    """
    if _scipy_erfc is not None:
        return _scipy_erfcx(a)
    out = np.empty_like(a)
    big = a >= 26.0
    small = ~big
    s = a[small]
    p, e = _two_prod(s, s)
    out[small] = _erfc_stdlib(s) * np.exp(p) * (1.0 + e)
    t = a[big]
    r = 0.5 / (t * t)
    acc = np.full_like(t, _ERFCX_ASYMPTOTIC[-1])
    for c in _ERFCX_ASYMPTOTIC[-2::-1]:
        acc = acc * r + c
    out[big] = acc * (_INV_SQRT_PI / t)
    return out


def _sigmoid64(x: np.ndarray) -> np.ndarray:
    """Logistic function without overflow and without cancellation on either side."""
    e = np.exp(-np.abs(x))
    r = 1.0 / (1.0 + e)
    return np.where(x >= 0, r, e * r)


def _sigmoid_pair(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sigma(x) and sigma(-x) = 1 - sigma(x) from one exp, neither cancelling."""
    e = np.exp(-np.abs(x))
    r = 1.0 / (1.0 + e)
    er = e * r
    pos = x >= 0
    return np.where(pos, r, er), np.where(pos, er, r)


def _blocked(kernel, x: np.ndarray, out: np.ndarray, *, scratch: bool = True,
             scratch_dtype=None, scratch_rows: int = 0) -> np.ndarray:
    """Apply ``kernel(x_block, out_block, scratch_block)`` block by block.

    A NumPy expression of k steps reads and writes main memory k times; run on cache-sized
    blocks it touches memory once. Falls back to one call when the arrays are not both
    contiguous (then the layout decides the cost anyway). ``x`` and ``out`` may be the same
    array; partial overlap is resolved by the caller (catalogue) with a copy.
    """
    sd = x.dtype if scratch_dtype is None else scratch_dtype
    lead = (scratch_rows,) if scratch_rows else ()  # several scratch rows: tb[0], tb[1]...
    if not (x.flags.c_contiguous and out.flags.c_contiguous) or x.size <= BLOCK:
        xs, os_ = (x.reshape(1), out.reshape(1)) if x.ndim == 0 else (x, out)  # views
        kernel(xs, os_, np.empty(lead + xs.shape, sd) if scratch else None)
        return out
    xf = x.reshape(-1)
    of = out.reshape(-1)
    tmp = np.empty(lead + (BLOCK,), dtype=sd) if scratch else None
    n = xf.size
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        t = tmp[..., : stop - start] if tmp is not None else None
        kernel(xf[start:stop], of[start:stop], t)
    return out


def _set_nan(ob: np.ndarray, nan: np.ndarray) -> None:
    """NaN where the input was NaN: comparisons would have said False (0)."""
    if nan.any():
        np.copyto(ob, np.nan, where=nan)


def _new(x: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    return np.empty_like(x) if out is None else out


# ----------------------------------------------------------------------------- piecewise linear


def relu(x, out):
    return np.maximum(x, 0, out=out)


def relu_d(x, out):
    """1 where x > 0, 0 where x <= 0 (PyTorch's side at the kink), NaN where NaN.

    Comparisons into a bool scratch and one cast: np.heaviside is ~10x slower (no SIMD loop).
    Every kernel reads x before it writes out, so out may be x.
    """
    def kernel(xb, ob, tb):
        np.isnan(xb, out=tb[0])
        np.greater(xb, 0, out=tb[1])
        np.copyto(ob, tb[1])
        _set_nan(ob, tb[0])

    return _blocked(kernel, x, _new(x, out), scratch_dtype=np.bool_, scratch_rows=2)


def _slope_compute_dtype(dtype: np.dtype, slope: float):
    """float16 products with a slope it cannot represent go through float32 (rounded once at
    the end, as PyTorch's CPU kernels do): fl16(x * fl16(a)) can be 1.5 ulp off."""
    if dtype == np.float16 and float(np.float16(slope)) != slope:
        return np.dtype(np.float32)
    return dtype


def leaky_relu(x, out, negative_slope):
    a = float(negative_slope)
    if a == 0:
        return relu(x, out)
    # max(x, a*x) is x for x > 0 and a*x for x <= 0 whenever a <= 1 (min when a > 1): one
    # comparison-free pass per block, NaN propagating through maximum/minimum.
    pick = np.maximum if a <= 1 else np.minimum
    cdt = _slope_compute_dtype(x.dtype, a)
    ac = cdt.type(a)

    def kernel(xb, ob, tb):
        np.multiply(xb, ac, out=tb)
        pick(xb, tb, out=ob)

    return _blocked(kernel, x, out, scratch_dtype=cdt)


def leaky_relu_d(x, out, negative_slope):
    return _slope_derivative(x, negative_slope, _new(x, out))


def _slope_derivative(x, slope, out):
    """1 for x > 0, ``slope`` (scalar or broadcastable array) for x <= 0, NaN for NaN.

    ``out`` may be ``x`` itself: every kernel reads x before it writes out.
    """
    if np.ndim(slope) == 0:
        s = x.dtype.type(slope)
        unit = 0 <= s <= 1

        def kernel(xb, ob, tb):
            np.isnan(xb, out=tb[0])
            np.greater(xb, 0, out=tb[1])
            if unit:  # max([x > 0], s): 1 above 0, s at and below. Exact.
                np.copyto(ob, tb[1])
                np.maximum(ob, s, out=ob)
            else:
                ob.fill(s)
                np.copyto(ob, 1, where=tb[1])
            _set_nan(ob, tb[0])

        return _blocked(kernel, x, out, scratch_dtype=np.bool_, scratch_rows=2)
    pos, nan = x > 0, np.isnan(x)
    np.copyto(out, np.broadcast_to(np.asarray(slope, dtype=x.dtype), x.shape))
    out[pos] = 1
    out[nan] = np.nan
    return out


def relu6(x, out):
    return np.clip(x, 0, 6, out=out)


def relu6_d(x, out):
    return _box_derivative(x, 0.0, 6.0, _new(x, out))


def hardtanh(x, out, min_val, max_val):
    # The bounds are rounded to x's dtype by clip; min/max commute with rounding, so this is
    # the correctly rounded clamp of the exact one.
    return np.clip(x, min_val, max_val, out=out)


def hardtanh_d(x, out, min_val, max_val):
    return _box_derivative(x, float(min_val), float(max_val), _new(x, out))


def _strictly_above(dtype: np.dtype, bound: float) -> tuple[float, bool]:
    """(c, inclusive): [x > bound] == (x >= c if inclusive else x > c) for x of ``dtype``.

    ``bound`` is the exact parameter; rounding it to the dtype first would move the kink by
    half an ulp (hardtanh(max_val=0.7) in float32 has fl(0.7) < 0.7 strictly inside).
    """
    f = dtype.type(bound)
    if float(f) > bound:
        f = np.nextafter(f, dtype.type(-np.inf))
    if np.isneginf(f):  # bound below the dtype's range: every x >= -max is above it
        return -float(np.finfo(dtype).max), True
    return float(f), False


def _box_derivative(x, lo, hi, out):
    """1 strictly inside (lo, hi), 0 at and beyond the edges, NaN for NaN.

    Two comparisons into bool scratch, their conjunction cast once. [x < hi] is [-x > -hi].
    """
    lo_c, lo_incl = _strictly_above(x.dtype, lo)
    nhi_c, hi_incl = _strictly_above(x.dtype, -hi)
    lo_c, hi_c = x.dtype.type(lo_c), x.dtype.type(-nhi_c)
    above = np.greater_equal if lo_incl else np.greater
    below = np.less_equal if hi_incl else np.less

    def kernel(xb, ob, tb):  # xb is read before ob is written: out may be x
        np.isnan(xb, out=tb[0])
        above(xb, lo_c, out=tb[1])
        below(xb, hi_c, out=tb[2])
        np.logical_and(tb[1], tb[2], out=tb[1])
        np.copyto(ob, tb[1])
        _set_nan(ob, tb[0])

    return _blocked(kernel, x, out, scratch_dtype=np.bool_, scratch_rows=3)


def crelu(x, out, axis):
    pos, neg = np.split(out, 2, axis=axis)
    np.negative(x, out=neg)
    np.maximum(neg, 0, out=neg)
    np.maximum(x, 0, out=pos)
    return out


def crelu_d(x, out, axis):
    x1 = x.reshape(1) if x.ndim == 0 else x
    shape = list(x1.shape)
    shape[axis] *= 2
    d = np.empty(shape, x.dtype) if out is None else out
    pos, neg = np.split(d, 2, axis=axis)
    nan = np.isnan(x1)
    np.copyto(pos, x1 > 0)
    # d/dx max(0, -x) = -[x < 0]; 0 - [x < 0] keeps the zeros positive
    np.copyto(neg, x1 < 0)
    np.subtract(0, neg, out=neg)
    if nan.any():
        pos[nan] = np.nan
        neg[nan] = np.nan
    return d


def prelu(x, out, weight, axis):
    w = np.asarray(weight)
    if w.size == 1:
        return leaky_relu(x, out, float(w.reshape(())))
    cdt = _slope_compute_dtype(x.dtype, 0.1)  # float16 per-channel products go via float32
    wb = _channel_weight(x, w, axis, cdt)
    neg = np.multiply(wb, x, dtype=cdt)
    # 0 * -inf is NaN, but the limit of a*x for a = 0 is 0.
    np.copyto(neg, 0, where=np.isinf(x) & (wb == 0))
    np.copyto(out, np.where(x > 0, x, neg), casting="unsafe")
    return out


def prelu_d(x, out, weight, axis):
    w = np.asarray(weight)
    if w.size == 1:
        return _slope_derivative(x, float(w.reshape(())), _new(x, out))
    return _slope_derivative(x, _channel_weight(x, w, axis, x.dtype), _new(x, out))


def prelu_d_weight(x, out, weight, axis):
    """Elementwise df/da: x where x <= 0, else 0 (NaN stays NaN)."""
    np.copyto(out, np.where(x > 0, np.zeros((), x.dtype), x))
    return out


def _channel_weight(x, weight, axis, dtype):
    """The weight shaped to broadcast along ``axis`` (None: no channel axis, one weight)."""
    w = np.asarray(weight, dtype=dtype)
    if w.size == 1 or axis is None:
        return w.reshape(())
    shape = [1] * x.ndim
    shape[axis] = w.size
    return w.reshape(shape)


def rrelu_slopes(x, lower, upper, training, rng):
    if not training:
        return (lower + upper) / 2
    slopes = rng.uniform(lower, upper, size=x.shape)
    if x.dtype != np.float64:
        # Rounding to the dtype can step outside [lower, upper] (fl32(1/3) > 1/3): clamp to the
        # representable values inside, when there are any.
        lo = x.dtype.type(lower)
        if float(lo) < lower:
            lo = np.nextafter(lo, x.dtype.type(np.inf))
        hi = x.dtype.type(upper)
        if float(hi) > upper:
            hi = np.nextafter(hi, x.dtype.type(-np.inf))
        slopes = slopes.astype(x.dtype)
        if lo <= hi:
            np.clip(slopes, lo, hi, out=slopes)
    return slopes


def rrelu(x, out, lower, upper, training, rng):
    slopes = rrelu_slopes(x, lower, upper, training, rng)
    if np.ndim(slopes) == 0:
        return leaky_relu(x, out, slopes)
    neg = slopes * x
    np.copyto(neg, 0, where=np.isinf(x) & (slopes == 0))  # limit of a*x for a = 0
    np.copyto(out, np.where(x > 0, x, neg))
    return out


def rrelu_d(x, out, lower, upper, training, rng):
    return _slope_derivative(x, rrelu_slopes(x, lower, upper, training, rng), _new(x, out))


# ----------------------------------------------------------------------------- exponential


def elu(x, alpha):
    neg = alpha * np.expm1(np.minimum(x, 0))
    return np.where(x > 0, x, neg)


def elu_d(x, alpha):
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))


def _celu_arg(x, alpha):
    """z + zl = min(x, 0) / alpha in double-double (zl = 0 when alpha is a power of two).

    exp(z) turns the rounding of z into a relative error of |z| ulp: 25 ulp at x = -10 for
    alpha = 0.3 without the low part.
    """
    xn = np.minimum(x, 0)
    z = xn / alpha
    if _is_power_of_two(alpha):
        return z, None
    zc = np.clip(z, -800.0, 800.0)  # beyond, exp is 0 or inf anyway; keeps the split finite
    p, e = _two_prod(zc, alpha)
    zl = ((xn - p) - e) / alpha
    zl = np.where(np.abs(z) < 800.0, zl, 0.0)
    return z, zl


def celu(x, alpha):
    z, zl = _celu_arg(x, alpha)
    em1 = np.expm1(z)
    if zl is not None:
        em1 = em1 + np.exp(z) * zl
    neg = np.asarray(alpha * em1)
    if alpha < 0:
        # alpha * (e^z - 1) with z = x/alpha > 0 overflows in e^z before the product does.
        big = z > 700.0
        if big.any():
            zb = np.minimum(z[big], 800.0)  # e^800 overflows anyway; keeps inf - inf out
            s, se = _two_sum(zb, np.full_like(zb, math.log(-alpha)))
            if zl is not None:
                se = se + zl[big]
            neg[big] = -(np.exp(s) * (1.0 + se))
    return np.where(x > 0, x, neg)


def celu_d(x, alpha):
    z, zl = _celu_arg(x, alpha)
    e = np.exp(z)
    if zl is not None:
        e = e * (1.0 + zl)
    return np.where(x > 0, 1.0, e)


def selu(x):
    neg = _SELU_SCALE_ALPHA * np.expm1(np.minimum(x, 0))
    return np.where(x > 0, SELU_SCALE * x, neg)


def selu_d(x):
    return np.where(x > 0, SELU_SCALE, _SELU_SCALE_ALPHA * np.exp(np.minimum(x, 0)))


# ----------------------------------------------------------------------------- gaussian / smooth

# z = -x/sqrt(2) at which GELU switches from erfc(z) to the scaled form exp(-z^2) erfcx(z):
# above it erfc loses relative precision (scipy's erfc: 18 ulp at z = 5, 0 below 1e-308).
_GELU_SCALED_FROM = 0.5


def _gelu_parts(x, derivative: bool):
    """GELU or its derivative, in two regions of z = -x/sqrt(2) (held as zh + zl).

    z < 0.5 (x > -0.71): Phi = erfc(zh)/2 - e^{-zh^2} zl / sqrt(pi), f = x Phi,
        f' = Phi + x phi(x).
    z >= 0.5: with E = e^{-zh^2} (zh^2 = p + e exactly, E = e^{-p} (1 - e)) and
        S = erfcx(zh)/2 - zl/sqrt(pi), Phi = E S and phi(x) = E (1 - 2 zh zl)/sqrt(2 pi), so
        f = (x S (1 - e)) e^{-p} and f' = ((S + x (1 - 2 zh zl)/sqrt(2 pi)) (1 - e)) e^{-p}:
        the only rounding into the subnormal range is the last product.
    """
    xc = np.clip(x, -40.0, 40.0)  # beyond, the result is x (or 1), or underflows to -0
    zh, zl = _two_prod(-xc, _INV_SQRT2[0])
    zl = zl - xc * _INV_SQRT2[1]
    out = np.empty_like(x)
    scaled = zh >= _GELU_SCALED_FROM
    direct = ~scaled  # includes NaN
    if direct.any():
        xa, za, la = xc[direct], zh[direct], zl[direct]
        phi_cdf = 0.5 * _erfc(za) - _INV_SQRT_PI * np.exp(-za * za) * la
        if derivative:
            out[direct] = phi_cdf + xa * _normal_pdf(xa)
        else:
            out[direct] = x[direct] * phi_cdf  # x itself: Phi = 1 above 40, x may be inf
    if scaled.any():
        xb, zb, lb = xc[scaled], zh[scaled], zl[scaled]
        p, e = _two_prod(zb, zb)
        s = 0.5 * _erfcx(zb) - _INV_SQRT_PI * lb
        if derivative:
            inner = s + xb * _INV_SQRT_2PI * (1.0 - 2.0 * zb * lb)
        else:
            inner = xb * s
        out[scaled] = (inner * (1.0 - e)) * np.exp(-p)
    return out


def gelu_narrow(x, approximate):
    """GELU for float32/float16 results, evaluated in float64 without the double-double
    corrections: their effect (a few float64 ulp, 1e-13 relative at worst in scipy's erfc
    tail) is 2^-29 of a float32 ulp, and this is 3-4x faster."""
    xc = np.clip(x, -40.0, 40.0)
    if approximate == "tanh":
        w = xc * (_GELU_TANH_K1[0] + _GELU_TANH_K3[0] * xc * xc)
        return np.maximum(x, -40.0) * _sigmoid64(w)
    return np.maximum(x, -40.0) * (0.5 * _erfc(xc * -_INV_SQRT2[0]))


def gelu_d_narrow(x, approximate):
    """GELU's derivative for float32/float16 results (see gelu_narrow)."""
    xc = np.clip(x, -40.0, 40.0)
    if approximate == "tanh":
        w = xc * (_GELU_TANH_K1[0] + _GELU_TANH_K3[0] * xc * xc)
        s, s_neg = _sigmoid_pair(w)
        return s + xc * s * s_neg * (_GELU_TANH_K1[0] + 3.0 * _GELU_TANH_K3[0] * xc * xc)
    return 0.5 * _erfc(xc * -_INV_SQRT2[0]) + xc * _INV_SQRT_2PI * np.exp(-0.5 * xc * xc)


def _normal_pdf(x):
    """phi(x) with x*x in double-double (a rounded x^2 costs x^2/2 ulp)."""
    p, e = _two_prod(x, x)
    return _INV_SQRT_2PI * np.exp(-0.5 * p) * (1.0 - 0.5 * e)


def gelu(x, approximate):
    if approximate == "tanh":
        xc = np.clip(x, -1e4, 1e4)
        wh, wl = _gelu_tanh_w(xc)
        sig, sig_neg = _sigmoid_pair(wh)
        s = sig * (1.0 + sig_neg * wl)
        out = np.where(x < -1e4, -0.0, x * s)
        return _gelu_tanh_tail(xc, wh, wl, out, None)
    return _gelu_parts(x, derivative=False)


def gelu_d(x, approximate):
    if approximate == "tanh":
        xc = np.clip(x, -1e4, 1e4)
        wh, wl = _gelu_tanh_w(xc)
        sig, sig_neg = _sigmoid_pair(wh)
        # sigma(wh + wl) = sigma(wh) * (1 + sigma(-wh) * wl) to first order
        s, s_neg = sig * (1.0 + sig_neg * wl), sig_neg * (1.0 - sig * wl)
        dw = _GELU_TANH_K1[0] + 3.0 * _GELU_TANH_K3[0] * xc * xc
        return _gelu_tanh_tail(xc, wh, wl, s + xc * s * s_neg * dw, dw)
    return _gelu_parts(x, derivative=True)


def _gelu_tanh_w(x):
    """w = 2*sqrt(2/pi)*(x + 0.044715 x^3) = wh + wl in double-double.

    0.5x(1+tanh u) = x*sigma(2u) = x*sigma(w) avoids 1+tanh(u) cancelling for u << 0; the
    double-double w keeps the exp() in sigma from amplifying the rounding of the cubic (|w| ulp
    otherwise).
    """
    s, se = _two_prod(x, x)
    t, te = _two_prod(x, s)
    te = te + x * se
    a, ae = _two_prod(t, _GELU_TANH_K3[0])
    ae = ae + _GELU_TANH_K3[0] * te + _GELU_TANH_K3[1] * t
    b, be = _two_prod(x, _GELU_TANH_K1[0])
    be = be + _GELU_TANH_K1[1] * x
    wh, wl = _two_sum(a, b)
    return wh, wl + ae + be


def _gelu_tanh_tail(x, wh, wl, out, dw):
    """Where w < -700 (x < -21.2), sigma(w) = e^w: the value x e^w and the derivative
    (1 + x w') e^w as one exp of a double-double exponent. x * sigma(w) would multiply the
    subnormal rounding of e^w by |x| (by |x w'| ~ 2000 for the derivative)."""
    out = np.asarray(out)
    tail = wh < _EXP_TAIL
    if tail.any():
        xt = x[tail]
        factor = -xt if dw is None else -(1.0 + xt * dw[tail])
        s, se = _two_sum(wh[tail], np.log(factor))
        out[tail] = -(np.exp(s) * (1.0 + se + wl[tail]))
    return out


def sigmoid(x):
    return _sigmoid64(x)


def sigmoid_d(x):
    e = np.exp(-np.abs(x))
    return e / ((1.0 + e) * (1.0 + e))


def tanh(x):
    return np.tanh(x)


def tanh_d(x):
    # 1 - tanh^2 cancels to 0 for |x| > 19; 4e^{-2|x|}/(1+e^{-2|x|})^2 does not.
    t = np.exp(-2.0 * np.abs(x))
    return 4.0 * t / ((1.0 + t) * (1.0 + t))


# Below this, sigma(x) = e^x and tanh(softplus(x)) = e^x to double precision, and x e^x is
# within a factor 1e3 of the subnormal range.
_EXP_TAIL = -700.0


def _exp_tail(x, out, shift):
    """out = -exp(x + log(-(x + shift))) where x < -700: x e^x (shift 0, the value of SiLU and
    Mish there) or (1 + x) e^x (shift 1, their derivative), in one rounding."""
    out = np.asarray(out)  # a 0-d input makes the expression a scalar
    tail = x < _EXP_TAIL
    if tail.any():
        xt = np.maximum(x[tail], -800.0)  # the result is -0 below; keeps -inf out of log
        s, se = _two_sum(xt, np.log(-(xt + shift)))
        out[tail] = -(np.exp(s) * (1.0 + se))
    return out


def silu(x):
    xl = np.maximum(x, -800.0)  # x*sigma(x) underflows to -0 there; avoids -inf*0
    return _exp_tail(x, xl * _sigmoid64(xl), 0.0)


def silu_d(x):
    xc = np.clip(x, -800.0, 800.0)
    s, s_neg = _sigmoid_pair(xc)
    return _exp_tail(x, s * (1.0 + xc * s_neg), 1.0)


def _mish_parts(x):
    """tanh(softplus(x)) = n/(n+2) with n = e^x (e^x + 2), and n, for x <= 30."""
    e = np.exp(np.minimum(x, 30.0))
    n = e * (e + 2.0)
    return n / (n + 2.0), n


def mish(x):
    xl = np.maximum(x, -800.0)
    return _exp_tail(x, xl * _mish_parts(xl)[0], 0.0)


def mish_d(x):
    xc = np.clip(x, -800.0, 800.0)
    ratio, n = _mish_parts(xc)
    n2 = n + 2.0
    return _exp_tail(x, ratio + xc * _sigmoid64(xc) * (4.0 * (n + 1.0)) / (n2 * n2), 1.0)


def _softplus_arg(x, beta):
    """t + tl = beta * x in double-double (tl = None when beta is a power of two).

    log1p(e^t) ~ e^t for t << 0 turns the rounding of beta*x into |t|/2 ulp (100 ulp at
    t = -200); the low part tl restores it to first order.
    """
    t = beta * x
    if _is_power_of_two(beta):
        return t, None
    ok = (np.abs(t) < 800.0) & (np.abs(x) < 1e290)  # elsewhere exp() saturates anyway
    xs = np.where(ok, x, 0.0)
    p, e = _two_prod(xs, beta)
    tl = np.where(ok, (p - t) + e, 0.0)
    return t, tl


def softplus(x, beta, threshold):
    t, tl = _softplus_arg(x, beta)
    # max(t, 0) + log1p(e^{-|t|}) never overflows (threshold may be inf)
    e = np.exp(-np.abs(t))
    soft = np.maximum(t, 0.0) + np.log1p(e)
    if tl is not None:
        soft = soft + _sigmoid64(t) * tl
    return np.where(t > threshold, x, soft / beta)


def softplus_d(x, beta, threshold):
    t, tl = _softplus_arg(x, beta)
    if tl is None:
        s = _sigmoid64(t)
    else:
        s, s_neg = _sigmoid_pair(t)
        s = s * (1.0 + s_neg * tl)
    return np.where(t > threshold, 1.0, s)


# Cheaper float64 evaluations that are exact enough once rounded to float32/float16
# (catalogue._widened uses them for those dtypes); the float64 path keeps the full corrections.
# ----------------------------------------------------------------------------- hard and squared


def hardswish(x):
    # x + 3 is exact near -3 (Sterbenz); one product and one division round
    # -0 from -3 down (as x * 0 is in torch), -inf included, whose limit that is
    value = np.where(x <= -3.0, -0.0, x * np.clip(x + 3.0, 0.0, 6.0) / 6.0)
    return np.where(np.isnan(x), x, value)


def hardswish_d(x):
    # torch's sides: 0 from -3 down, (2x + 3) / 6 on (-3, 3) (2x + 3 exact near the root
    # -1.5), 1 from 3 up
    mid = (2.0 * x + 3.0) / 6.0
    return np.where(np.isnan(x), x, np.where(x <= -3.0, 0.0, np.where(x < 3.0, mid, 1.0)))


def hardsigmoid(x):
    return np.where(np.isnan(x), x, np.clip(x + 3.0, 0.0, 6.0) / 6.0)


def hardsigmoid_d(x):
    return np.where(np.isnan(x), x, np.where((x > -3.0) & (x < 3.0), 1.0 / 6.0, 0.0))


def relu2(x):
    r = np.maximum(x, 0.0)
    return r * r


def relu2_d(x):
    return 2.0 * np.maximum(x, 0.0)


#: QuickGELU's constant (CLIP): the float64 nearest 1.702 (torch's float32 kernels round it
#: again); the catalogue's reference uses this exact value.
QUICK_GELU_K = 1.702
_QG_CLIP = 500.0  # k * 500 = 851: sigma(kx) is 1, or e^{kx} underflows, beyond


def _quick_gelu_arg(x):
    """x clipped, and kx = h + l exactly (double-double)."""
    xc = np.clip(x, -_QG_CLIP, _QG_CLIP)
    h, low = _two_prod(xc, QUICK_GELU_K)
    return xc, h, low


def _quick_gelu_tail(h, low, factor, out):
    """out = -exp(kx + log(-factor)) where kx < -700, in one rounding (factor < 0 there)."""
    out = np.asarray(out)
    tail = h < _EXP_TAIL
    if tail.any():
        s, se = _two_sum(h[tail], np.log(-factor[tail]))
        out[tail] = -(np.exp(s) * (1.0 + se + low[tail]))
    return out


def quick_gelu(x):
    xc, h, low = _quick_gelu_arg(x)
    s, s_neg = _sigmoid_pair(h)
    value = xc * (s * (1.0 + low * s_neg))  # sigma(h + l) to first order in l
    value = _quick_gelu_tail(h, low, xc, value)
    return np.where(x > _QG_CLIP, x, value)


def quick_gelu_d(x):
    xc, h, low = _quick_gelu_arg(x)
    s, s_neg = _sigmoid_pair(h)
    s_full = s * (1.0 + low * s_neg)
    s_neg_full = s_neg * (1.0 - low * s)
    d = s_full * (1.0 + (h + low) * s_neg_full)
    d = _quick_gelu_tail(h, low, 1.0 + h, d)
    return np.where(x > _QG_CLIP, 1.0, d)


def _into_out(formula):
    """``formula(x, **params) -> float64 array`` as ``f(x, out, **params) -> out``: the result
    rounded into ``out`` once, in out's dtype."""

    def f(x, out, **params):
        np.copyto(out, formula(x, **params), casting="unsafe")
        return out

    f.__name__ = f.__qualname__ = formula.__name__
    f.__doc__ = formula.__doc__
    f.formula = formula  # type: ignore[attr-defined]
    return f


#: The formulas evaluated in float64 (narrower inputs are widened, then rounded once).
_FLOAT64 = (elu, elu_d, celu, celu_d, selu, selu_d, gelu, gelu_d, gelu_narrow, gelu_d_narrow,
            sigmoid, sigmoid_d, tanh, tanh_d, silu, silu_d, mish, mish_d, softplus, softplus_d,
            hardswish, hardswish_d, hardsigmoid, hardsigmoid_d, relu2, relu2_d, quick_gelu,
            quick_gelu_d)
for _formula in _FLOAT64:
    globals()[_formula.__name__] = _into_out(_formula)

#: float16/float32 inputs of GELU skip its double-double corrections (the rounding hides them).
NARROW = {gelu: gelu_narrow, gelu_d: gelu_d_narrow}
