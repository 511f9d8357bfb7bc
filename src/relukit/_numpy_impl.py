"""NumPy values and derivatives of the catalogue.

Every function here takes a validated floating ndarray ``x`` and returns a new array (or
writes into ``out``); validation, dtype policy and the public signatures live in
``catalogue.py``.

Precision policy:
- piecewise-linear functions are exact in every dtype, so they run in the input's dtype,
  block by block (``_blocked``) so that a multi-step expression reads and writes main memory
  once, like a single ufunc;
- everything else runs in float64 (float16/float32 inputs are widened, then rounded once), and
  float64 itself uses double-double corrections where one rounding would be amplified: the
  argument of erfc in GELU, x**2 in the Gaussian density, the cubic of GELU's tanh form.
"""

from __future__ import annotations

import math

import numpy as np

try:  # scipy is optional: it is only a faster, vectorised erfc.
    from scipy.special import erfc as _scipy_erfc
except ImportError:  # pragma: no cover - exercised by a test that hides scipy
    _scipy_erfc = None

# Elements per block of a blocked piecewise evaluation: 16K float32 = 64 KiB, so x, the
# scratch buffer and the output block all stay in L2 while several passes run over them.
BLOCK = 1 << 14

SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE_ALPHA = 1.7580993408473768  # float64(scale * alpha), product taken at 60 digits

# Double-double constants (hi, lo), computed with mpmath at 60 digits.
_INV_SQRT2 = (0.7071067811865476, -4.833646656726457e-17)
_GELU_TANH_K1 = (1.5957691216057308, -9.96930880911092e-17)  # 2*sqrt(2/pi)
_GELU_TANH_K3 = (0.07135481627260025, -6.175149918155315e-19)  # 2*sqrt(2/pi)*0.044715
_INV_SQRT_PI = 0.5641895835477563
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


def _erfc(z: np.ndarray) -> np.ndarray:
    if _scipy_erfc is not None:
        return _scipy_erfc(z)
    return _erfc_stdlib(z)


_erfc_ufunc = np.frompyfunc(math.erfc, 1, 1)


def _erfc_stdlib(z: np.ndarray) -> np.ndarray:
    return np.asarray(_erfc_ufunc(z), dtype=np.float64)


def _sigmoid64(x: np.ndarray) -> np.ndarray:
    """Logistic function without overflow and without cancellation on either side."""
    e = np.exp(-np.abs(x))
    r = 1.0 / (1.0 + e)
    return np.where(x >= 0, r, e * r)


def _blocked(kernel, x: np.ndarray, out: np.ndarray, *, scratch: bool = True) -> np.ndarray:
    """Apply ``kernel(x_block, out_block, scratch_block)`` block by block.

    A NumPy expression of k steps reads and writes main memory k times; run on cache-sized
    blocks it touches memory once. Falls back to one call when the arrays are not both
    contiguous (then the layout decides the cost anyway).
    """
    if not (x.flags.c_contiguous and out.flags.c_contiguous) or x.size <= BLOCK:
        kernel(x, out, np.empty_like(x) if scratch else None)
        return out
    xf = x.reshape(-1)
    of = out.reshape(-1)
    tmp = np.empty(BLOCK, dtype=x.dtype) if scratch else None
    n = xf.size
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        t = tmp[: stop - start] if tmp is not None else None
        kernel(xf[start:stop], of[start:stop], t)
    return out


def _step(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """1 where x > 0, 0 where x <= 0, NaN where x is NaN (PyTorch's side at the kink)."""
    return np.heaviside(x, 0, out=out)


def _keep_nan(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    np.copyto(out, x, where=np.isnan(x))
    return out


# ----------------------------------------------------------------------------- piecewise linear


def relu(x, out):
    return np.maximum(x, 0, out=out)


def relu_d(x):
    return _step(x, np.empty_like(x))


def leaky_relu(x, out, negative_slope):
    a = negative_slope
    if a == 0:
        return relu(x, out)
    # max(x, a*x) is x for x > 0 and a*x for x <= 0 whenever a <= 1 (min when a > 1): one
    # comparison-free pass per block, NaN propagating through maximum/minimum.
    pick = np.maximum if a <= 1 else np.minimum

    def kernel(xb, ob, tb):
        np.multiply(xb, a, out=tb)
        pick(xb, tb, out=ob)

    return _blocked(kernel, x, out)


def leaky_relu_d(x, negative_slope):
    return _slope_derivative(x, negative_slope)


def _slope_derivative(x, slope):
    """1 for x > 0, ``slope`` (scalar or broadcastable array) for x <= 0, NaN for NaN."""
    out = np.empty_like(x)
    if np.ndim(slope) == 0:
        s = slope

        def kernel(xb, ob, tb):
            ob.fill(s)
            np.copyto(ob, 1, where=xb > 0)
            _keep_nan(xb, ob)

        return _blocked(kernel, x, out, scratch=False)
    np.copyto(out, np.broadcast_to(np.asarray(slope, dtype=x.dtype), x.shape))
    np.copyto(out, 1, where=x > 0)
    return _keep_nan(x, out)


def relu6(x, out):
    return np.clip(x, 0, 6, out=out)


def relu6_d(x):
    return _box_derivative(x, 0, 6)


def hardtanh(x, out, min_val, max_val):
    return np.clip(x, min_val, max_val, out=out)


def hardtanh_d(x, min_val, max_val):
    return _box_derivative(x, min_val, max_val)


def _box_derivative(x, lo, hi):
    """1 strictly inside (lo, hi), 0 at and beyond the edges, NaN for NaN.

    The sign of x - lo is the sign of the exact difference (IEEE subtraction is monotone and
    exact at zero), so heaviside of the differences decides the region without a comparison
    array.
    """

    def kernel(xb, ob, tb):
        np.subtract(xb, lo, out=ob)
        _step(ob, ob)
        np.subtract(hi, xb, out=tb)
        _step(tb, tb)
        np.multiply(ob, tb, out=ob)

    return _blocked(kernel, x, np.empty_like(x))


def crelu(x, out, axis):
    pos, neg = np.split(out, 2, axis=axis)
    np.negative(x, out=neg)
    np.maximum(neg, 0, out=neg)
    np.maximum(x, 0, out=pos)
    return out


def crelu_d(x, axis):
    pos = _step(x, np.empty_like(x))
    neg = _step(-x, np.empty_like(x))
    np.negative(neg, out=neg)
    return np.concatenate([pos, neg], axis=axis)


def prelu(x, out, weight, axis):
    w = _channel_weight(x, weight, axis)
    neg = w * x
    # 0 * -inf is NaN, but the limit of a*x for a = 0 is 0.
    np.copyto(neg, 0, where=np.isinf(x) & (w == 0))
    np.copyto(out, np.where(x > 0, x, neg))
    return out


def prelu_d(x, weight, axis):
    return _slope_derivative(x, _channel_weight(x, weight, axis))


def prelu_d_weight(x, weight, axis):
    """Elementwise df/da: x where x <= 0, else 0 (NaN stays NaN)."""
    return np.where(x > 0, np.zeros((), x.dtype), x)


def _channel_weight(x, weight, axis):
    w = np.asarray(weight, dtype=x.dtype)
    if w.size == 1:
        return w.reshape(())
    shape = [1] * x.ndim
    shape[axis] = w.size
    return w.reshape(shape)


def rrelu_slopes(x, lower, upper, training, rng):
    if not training:
        return (lower + upper) / 2
    return rng.uniform(lower, upper, size=x.shape).astype(x.dtype)


def rrelu(x, out, lower, upper, training, rng):
    slopes = rrelu_slopes(x, lower, upper, training, rng)
    if np.ndim(slopes) == 0:
        return leaky_relu(x, out, slopes)
    np.copyto(out, np.where(x > 0, x, slopes * x))
    return out


def rrelu_d(x, lower, upper, training, rng):
    return _slope_derivative(x, rrelu_slopes(x, lower, upper, training, rng))


# ----------------------------------------------------------------------------- exponential


def elu(x, alpha):
    neg = alpha * np.expm1(np.minimum(x, 0))
    return np.where(x > 0, x, neg)


def elu_d(x, alpha):
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))


def celu(x, alpha):
    # For alpha < 0 the negative branch grows like e^{x/alpha}: overflow to -inf is the limit.
    neg = alpha * np.expm1(np.minimum(x, 0) / alpha)
    return np.where(x > 0, x, neg)


def celu_d(x, alpha):
    return np.where(x > 0, 1.0, np.exp(np.minimum(x, 0) / alpha))


def selu(x):
    neg = _SELU_SCALE_ALPHA * np.expm1(np.minimum(x, 0))
    return np.where(x > 0, SELU_SCALE * x, neg)


def selu_d(x):
    return np.where(x > 0, SELU_SCALE, _SELU_SCALE_ALPHA * np.exp(np.minimum(x, 0)))


# ----------------------------------------------------------------------------- gaussian / smooth


def _normal_cdf(x):
    """Phi(x) = erfc(-x/sqrt2)/2 with the argument carried in double-double.

    A rounded -x/sqrt2 alone costs ~2 z^2 ulp in the tail (25 ulp at x = -5); the first-order
    term of erfc(zh + zl) = erfc(zh) - 2/sqrt(pi) e^{-zh^2} zl removes it.
    """
    xc = np.clip(x, -40.0, 40.0)  # beyond, Phi is 0 or 1 to double precision
    zh, zl = _two_prod(-xc, _INV_SQRT2[0])
    zl = zl - xc * _INV_SQRT2[1]
    return 0.5 * _erfc(zh) - _INV_SQRT_PI * np.exp(-zh * zh) * zl


def _normal_pdf(x):
    """phi(x) with x*x in double-double (a rounded x^2 costs x^2/2 ulp)."""
    p, e = _two_prod(x, x)
    return _INV_SQRT_2PI * np.exp(-0.5 * p) * (1.0 - 0.5 * e)


def gelu(x, approximate):
    if approximate == "tanh":
        xc = np.clip(x, -1e4, 1e4)
        s = _gelu_tanh_sigmoid(xc)[0]
        return np.where(x < -1e4, -0.0, x * s)
    # x*Phi(x) underflows to -0 below -40; the guard also keeps -inf*0 from giving NaN.
    return np.where(x < -40.0, -0.0, x * _normal_cdf(x))


def gelu_d(x, approximate):
    xc = np.clip(x, -40.0, 40.0)
    if approximate == "tanh":
        xc = np.clip(x, -1e4, 1e4)
        s, s_neg = _gelu_tanh_sigmoid(xc)
        dw = _GELU_TANH_K1[0] + 3.0 * _GELU_TANH_K3[0] * xc * xc
        return s + xc * s * s_neg * dw
    return _normal_cdf(xc) + xc * _normal_pdf(xc)


def _gelu_tanh_sigmoid(x):
    """sigma(w), sigma(-w) for w = 2*sqrt(2/pi)*(x + 0.044715 x^3), w in double-double.

    0.5x(1+tanh u) = x*sigma(2u) avoids 1+tanh(u) cancelling for u << 0; the double-double w
    keeps the exp() in sigma from amplifying the rounding of the cubic (|w| ulp otherwise).
    """
    s, se = _two_prod(x, x)
    t, te = _two_prod(x, s)
    te = te + x * se
    a, ae = _two_prod(t, _GELU_TANH_K3[0])
    ae = ae + _GELU_TANH_K3[0] * te + _GELU_TANH_K3[1] * t
    b, be = _two_prod(x, _GELU_TANH_K1[0])
    be = be + _GELU_TANH_K1[1] * x
    wh, wl = _two_sum(a, b)
    wl = wl + ae + be
    sig = _sigmoid64(wh)
    sig_neg = _sigmoid64(-wh)
    # sigma(wh + wl) = sigma(wh) * (1 + sigma(-wh) * wl) to first order
    return sig * (1.0 + sig_neg * wl), sig_neg * (1.0 - sig * wl)


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


def silu(x):
    xl = np.maximum(x, -800.0)  # x*sigma(x) underflows to -0 there; avoids -inf*0
    return xl * _sigmoid64(xl)


def silu_d(x):
    xc = np.clip(x, -800.0, 800.0)
    return _sigmoid64(xc) * (1.0 + xc * _sigmoid64(-xc))


def _mish_parts(x):
    """tanh(softplus(x)) = n/(n+2) with n = e^x (e^x + 2), and n, for x <= 30."""
    e = np.exp(np.minimum(x, 30.0))
    n = e * (e + 2.0)
    return n / (n + 2.0), n


def mish(x):
    xl = np.maximum(x, -800.0)
    return xl * _mish_parts(xl)[0]


def mish_d(x):
    xc = np.clip(x, -800.0, 800.0)
    ratio, n = _mish_parts(xc)
    n2 = n + 2.0
    return ratio + xc * _sigmoid64(xc) * (4.0 * (n + 1.0)) / (n2 * n2)


def softplus(x, beta, threshold):
    bx = beta * x
    soft = np.log1p(np.exp(np.minimum(bx, threshold))) / beta
    return np.where(bx > threshold, x, soft)


def softplus_d(x, beta, threshold):
    bx = beta * x
    return np.where(bx > threshold, 1.0, _sigmoid64(bx))
