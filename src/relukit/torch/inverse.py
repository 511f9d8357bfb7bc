"""f'(x) recovered from the output y = f(x) and one branch bit, for gelu (both forms), silu
and mish: the backward of ``saves="output"``.

Each of these functions falls from 0 at x = -inf to its minimum f(x*) < 0 at x* and rises
after it, so it is monotone on each side of x*. The bit says which side x is on
(``branch_bits``: x >= x* is the right branch); y and the bit then determine x, and so f'(x)
(``derivative_from_output``).

Two paths compute it. float32, float16 and bfloat16 outputs read f' from a table per
function, dtype and branch (a straight line per bin, bins finely spaced in a variable of y;
see "tables" below): a few float32 whole-tensor ops, no float64 copy. The tables are built,
once per process, from the reference path (``reference_derivative``), which float64 outputs
use directly and the Triton kernel implements: x is recovered in float64 for float32/float64
outputs and float32 for float16/bfloat16 ones (a half output carries far less than float32's
precision), with a fixed number of Newton iterations from a per-branch initial guess, all
whole-tensor ops:

* near the minimum, the unknown is x through ``s = ±sqrt(y - f(x*))`` (+ on the right
  branch), in which x is analytic: ``x = x* + d(s)``, ``d`` the reversed Taylor series of
  ``±sqrt(f(x* + d) - f(x*))`` (coefficients below). Newton then solves
  ``±sqrt(f(x) - f(x*)) = s``, well conditioned through the minimum where f' -> 0;
* on the right branch away from the minimum, the guess is x = y (f(x) -> x) for large y, and
  the same equation is solved;
* on the left tail (y -> 0-, x -> -inf), the guess comes from the tail asymptotics of
  ``ln(-f(x)) = ln(-y)`` and Newton solves that equation, whose slope f'/f grows like |x|.

y is first clamped to the range the branch can produce: a rounded output may lie slightly
below the true minimum (read as x = x*, f' = 0); on the left branch y >= 0 means the output
underflowed (f' is then its limit 0 to within far less than the output's precision); on the
right branch y is capped at 50, above which f'(x) = 1 in float64 for all four functions
(+inf included). Only a NaN output gives a NaN derivative.

The error of the recovered f' is set by the rounding of y where f is flat: near x*, a change
dy of the output moves f' by about ``sqrt(2 f''(x*) dy)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["MINIMA", "branch_bits", "derivative_from_flat", "derivative_from_output",
           "function_key", "output_mode_is_fast", "reference_derivative"]


@dataclass(frozen=True)
class _Params:
    #: position and value of the minimum
    x_min: float
    f_min: float
    #: f''(x*) / 2
    c2: float
    #: d(s) = sum_k series[k-1] * s**k for s = ±sqrt(f(x* + d) - f(x*))
    series: tuple[float, ...]


# Obtained with mpmath at 50 digits (``_derive_params`` below reproduces them, and a test checks
# them): x* by findroot of mpmath.diff(f, x) from -1, f(x*), the Taylor coefficients of f at x*
# by mpmath.taylor, and the series of d(s) by taking the power-series square root of
# (f(x* + d) - f(x*)) / d**2, multiplying by d and reversing. Printed to 17 significant digits
# (round-trips float64).
_PARAMS: dict[str, _Params] = {
    "gelu": _Params(
        x_min=-0.75179152469356446, f_min=-0.16997120747990366,
        c2=0.21574699615702346,
        series=(2.1529186559712192, -1.3903041801887929, 2.3497875340873251, -3.9107846087024516,
                7.3435146482115752, -14.369409413840507, 29.154667467586964, -60.615569302217043,
                128.42741125096407, -276.13744801715415),
    ),
    "gelu_tanh": _Params(
        x_min=-0.75246142207101626, f_min=-0.17004075057125405,
        c2=0.21520004551242925,
        series=(2.1556528398477323, -1.3946216792082276, 2.3474930110650606, -3.8829859432999487,
                7.2508815062152877, -14.118830664989263, 28.527692905714532, -59.098363518280185,
                124.81399042300601, -267.60197827118867),
    ),
    "silu": _Params(
        x_min=-1.2784645427610738, f_min=-0.2784645427610738,
        c2=0.10890585285990005,
        series=(3.0302216013580994, -2.0607476511124148, 2.9008178055701453, -3.9864452806038696,
                6.0346691684603403, -9.459839580173238, 15.285847390635516, -25.229115759708249,
                42.32799575105267, -71.938985917852958),
    ),
    "mish": _Params(
        x_min=-1.1924312145154952, f_min=-0.30884341301725041,
        c2=0.13347395702476726,
        series=(2.7371697519801411, -1.9153133936666222, 2.5457165998906049, -3.2708675488115571,
                4.7050323044580399, -6.9797363451619585, 10.704969594301706, -16.765564651694902,
                26.698410645072233, -43.07206492707911),
    ),
}

#: (x*, f(x*)) of each function key
MINIMA: dict[str, tuple[float, float]] = {k: (p.x_min, p.f_min) for k, p in _PARAMS.items()}
#: The catalogue functions this module inverts (their ``saves="output"``): gelu, silu, mish.
INVERTED: frozenset[str] = frozenset(k.removesuffix("_tanh") for k in _PARAMS)

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_TANH_CUBIC = 0.044715
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

#: the right branch caps y here: f'(x) rounds to 1 in float64 for x >= 50 (all four)
_Y_CAP = 50.0
#: series guess for |s| <= this
_S_SERIES = 0.25
#: how far torch's forward may be from f(x) near x*, in units in the last place of f(x*)
_NOISE: dict[torch.dtype, float] = {torch.float32: 1.5, torch.float16: 0.5, torch.bfloat16: 0.5}
#: Newton iterations
_ITERATIONS = 3


def function_key(name: str, approximate: str = "none") -> str:
    """"gelu", "gelu_tanh", "silu" or "mish"."""
    if name == "gelu":
        if approximate == "none":
            return "gelu"
        if approximate == "tanh":
            return "gelu_tanh"
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    if name in INVERTED:
        if approximate != "none":
            raise ValueError(f"{name} has no approximate={approximate!r}")
        return name
    raise ValueError(f"no inverse for {name!r}: {', '.join(sorted(INVERTED))}")


def _ulp_at(v: float, dtype: torch.dtype) -> float:
    """The spacing of dtype's numbers at v (normal numbers)."""
    return 2.0 ** math.floor(math.log2(abs(v))) * torch.finfo(dtype).eps


def _threshold(x_min: float, dtype: torch.dtype) -> torch.Tensor:
    """The smallest value of ``dtype`` >= x_min, so that ``x >= it`` in dtype is x >= x*."""
    t = torch.tensor(x_min, dtype=torch.float64).to(dtype)
    if t.double().item() < x_min:
        t = torch.nextafter(t, torch.tensor(math.inf, dtype=dtype))
    return t


def branch_bits(x: torch.Tensor, name: str, approximate: str = "none") -> torch.Tensor:
    """x >= x* (True: right branch), exactly, in x's dtype. NaN gives False; its output is NaN,
    and so is the recovered gradient, whichever the bit."""
    p = _PARAMS[function_key(name, approximate)]
    if not x.is_floating_point():
        raise TypeError(f"branch_bits needs a floating-point tensor, got {x.dtype}")
    return x >= _threshold(p.x_min, x.dtype).to(x.device)


def _f_df(key: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """f(x) and f'(x)."""
    if key == "gelu":
        cdf = 0.5 * torch.erfc(x * -_SQRT_HALF)
        pdf = torch.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return x * cdf, cdf + x * pdf
    if key == "gelu_tanh":
        # 0.5 (1 + tanh(u)) = sigmoid(2u), which does not cancel to 0 on the left tail
        x2 = x * x
        sg = torch.sigmoid((2.0 * _SQRT_2_OVER_PI) * x * (1.0 + _TANH_CUBIC * x2))
        return x * sg, sg + x * (2.0 * _SQRT_2_OVER_PI) * sg * (1.0 - sg) * (
            1.0 + 3.0 * _TANH_CUBIC * x2)
    if key == "silu":
        sg = torch.sigmoid(x)
        return x * sg, sg * (1.0 + x * (1.0 - sg))
    # mish: tanh(softplus(x)) = e(e + 2) / (e(e + 2) + 2), e = exp(x), for x <= 20
    sg = torch.sigmoid(x)
    e = torch.exp(torch.clamp(x, max=20.0))
    n = e * (e + 2.0)
    t = torch.where(x > 20.0, 1.0, n / (n + 2.0))
    return x * t, t + x * sg * (1.0 - t * t)


def _cbrt(v: torch.Tensor) -> torch.Tensor:
    return torch.sign(v) * torch.pow(v.abs(), 1.0 / 3.0)


def _tail_guess(key: str, ell: torch.Tensor) -> torch.Tensor:
    """x < x* with ln(-f(x)) ~= ell (ell -> -inf), from the tail asymptotics."""
    if key == "gelu":
        # -f ~ phi(x) (1 - 1/x^2): x^2 ~ -2 (ell + ln sqrt(2 pi)) then one correction
        q = torch.clamp(-2.0 * (ell + 0.5 * math.log(2.0 * math.pi)), min=0.5)
        q = torch.clamp(q + 2.0 * torch.log1p(-1.0 / q), min=0.5)
        return -torch.sqrt(q)
    if key == "gelu_tanh":
        # ln(-f) = ln(-x) + logsigmoid(2u), 2u = 2 sqrt(2/pi) (x + a x^3): from the cubic's
        # dominant part, two rounds of solving x + a x^3 = (ell - ln(-x) + ln(1 + e^2u)) / (2c)
        # for x (Cardano: one real root) at the previous x
        k = 2.0 * _SQRT_2_OVER_PI
        x = -torch.pow(torch.clamp(-ell, min=0.1) / (k * _TANH_CUBIC), 1.0 / 3.0)
        p3 = 1.0 / (27.0 * _TANH_CUBIC**3)
        for _ in range(2):
            two_u = k * x * (1.0 + _TANH_CUBIC * x * x)
            r = (ell - torch.log(-x) + torch.nn.functional.softplus(two_u)) / k
            hq = 0.5 * r / _TANH_CUBIC  # -q/2 of x^3 + x/a - r/a = 0, here < 0
            root = torch.sqrt(hq * hq + p3)
            # hq + root written as p3 / (root - hq), which does not cancel
            x = torch.clamp(_cbrt(p3 / (root - hq)) + _cbrt(hq - root), max=-0.5)
        return x
    # silu, mish: -f ~ -x exp(x): x = W_{-1}(-exp(ell)) ~ ell - ln(-ell) + ln(-ell)/ell
    el = torch.clamp(ell, max=-1.5)
    l2 = torch.log(-el)
    return el - l2 + l2 / el


def _newton(y: torch.Tensor, right: torch.Tensor, key: str, noise_dtype: torch.dtype | None = None,
            work: torch.dtype | None = None) -> torch.Tensor:
    """The reference inverse: f'(x) by Newton iterations in ``work`` precision (float64 for
    float32/float64 outputs, float32 for half ones), for y rounded as ``noise_dtype`` rounds
    (y's dtype by default); returned in ``work``."""
    p = _PARAMS[key]
    noise_dtype = y.dtype if noise_dtype is None else noise_dtype
    if work is None:
        work = torch.float64 if y.dtype in (torch.float32, torch.float64) else torch.float32
    yw = y.to(work)
    right = right.to(torch.bool)
    # the left tail's y is read as at most -tiny (f' there is below tiny * 40 in magnitude);
    # f, below, as at most -tinier (normal numbers), so that logarithms stay finite
    tiny, tinier = (1e-290, 1e-307) if work == torch.float64 else (1e-30, 1e-37)
    yc = torch.where(right, torch.clamp(yw, p.f_min, _Y_CAP), torch.clamp(yw, p.f_min, -tiny))
    sign = torch.where(right, 1.0, -1.0).to(work)
    # y is f(x) rounded (by torch's forward, to within about ``_NOISE[dtype]`` units in the last
    # place of f(x*)): near x*, where f' ~ sqrt(4 c2 (y - f*)), read s as the mean of
    # sqrt(y - f*) at the two ends of that interval; it is the midpoint of the f' that the
    # interval allows (the f' least wrong at worst, and the mean f' over x there). Away from x*
    # the change is O(e^2 / (y - f*)^1.5) and vanishes.
    e = _NOISE.get(noise_dtype, 0.0) * _ulp_at(p.f_min, noise_dtype)
    dy = torch.where(right, torch.clamp(yw, max=_Y_CAP), torch.clamp(yw, max=-tiny)) - p.f_min
    if e > 0.0:
        s = 0.5 * (torch.sqrt(torch.clamp(dy + e, min=0.0))
                   + torch.sqrt(torch.clamp(dy - e, min=0.0)))
    else:
        s = torch.sqrt(torch.clamp(dy, min=0.0))
    s = s * sign
    tail = ~right & (s < -_S_SERIES)
    far = right & (s > _S_SERIES)

    # initial guess: the series near x* (exact there), capped at |s| = _S_SERIES, and beyond
    # it x = y (right) or the tail asymptotics (left), whichever is further from x*
    sc = torch.clamp(s, -_S_SERIES, _S_SERIES)
    poly = torch.zeros_like(s)
    for c in reversed(p.series):
        poly = (poly + c) * sc
    x = p.x_min + poly
    ell = torch.log(-yc)
    x = torch.where(far, torch.maximum(yc, x), x)
    x = torch.where(tail, torch.minimum(_tail_guess(key, ell), x), x)

    inv_sqrt_c2 = 1.0 / math.sqrt(p.c2)
    for _ in range(_ITERATIONS):
        f, df = _f_df(key, x)
        big_s = torch.sqrt(torch.clamp(f - p.f_min, min=0.0))
        # sqrt form: solve sign * sqrt(f - f*) = s; slope sign f' / (2 sqrt(f - f*))
        q = torch.where(df.abs() > 1e-6, 2.0 * big_s / (sign * df), inv_sqrt_c2)
        step_s = (s - sign * big_s) * q
        # log form (left tail): solve ln(-f) = ell; slope f'/f
        fl = torch.clamp(f, max=-tinier)
        slope = df / fl
        step_l = (ell - torch.log(-fl)) / torch.where(slope > 0.0, slope, 1.0)
        x = x + torch.where(tail, step_l, step_s)
        x = torch.where(right, torch.clamp(x, min=p.x_min), torch.clamp(x, max=p.x_min))
    df = _f_df(key, x)[1]
    # a left-branch output that underflowed to +-0: f' -> 0 there
    return torch.where(right | ~(yw >= 0.0), df, 0.0)


#: functions whose ``saves="output"`` fwd+bwd is within 1.5x of torch's on CPU: none, as
#: measured by ``benchmarks/bench_inverse.py`` (mish comes closest: torch's own mish backward
#: is slow)
_FAST_ON_CPU: frozenset[str] = frozenset()


def output_mode_is_fast(device: torch.device, name: str = "gelu") -> bool:
    """Is ``saves="output"``'s backward about as fast as torch's own for ``name`` on
    ``device``? On CUDA the Triton kernel does it in one pass. On CPU the table lookup and
    ~12 whole-tensor passes cost several times torch's one fused backward kernel, so modules
    that choose their mode themselves (settling, or ``convert``'s planner) keep the input
    there, as torch does."""
    return device.type != "cpu" or name in _FAST_ON_CPU


def reference_derivative(y: torch.Tensor, right: torch.Tensor, name: str,
                         approximate: str = "none") -> torch.Tensor:
    """f'(x) by Newton iterations on x (float64 for float32/float64 outputs, float32 for half
    ones), in y's dtype: the reference the tables of ``derivative_from_output`` are built from,
    and the algorithm of the Triton kernel."""
    key = function_key(name, approximate)
    if not y.is_floating_point():
        raise TypeError(f"reference_derivative needs a floating-point tensor, got {y.dtype}")
    return _newton(y, right.to(torch.bool), key).to(y.dtype)


# ----------------------------------------------------------------------------- tables
#
# The fast path (float32, float16, bfloat16 outputs): f' tabulated once per (function,
# dtype) from the Newton reference above, as a straight line a + b v on each bin of a
# variable v of y, with 2**_BIN_BITS bins per binade of v. The bin is read from v's float32
# bit pattern (exponent and leading mantissa bits: one shift), so bins are as fine near a
# singular end as far from it:
#
# * right branch: v = d = y - f(x*), from the minimum (f' ~ sqrt(d)) to y = _Y_HI (f' = 1
#   beyond, to float32 precision);
# * left branch: v = d / (-y), which runs from 0 at the minimum to infinity as y -> 0- and
#   x -> -inf; there f' ~ y ln|y| (gelu) is not a straight line in d, but it is one in each
#   binade of v ~ |f(x*)| / |y|. Past v = 2**_V_HI_EXP (|y| < 1e-13 or so) f' reads as 0,
#   the limit of an output that underflowed.
#
# Per element: a clamp, a subtraction, an exact select of the denominator (1 or -y, by
# multiplying with the 0/1 branch flags), a division, a shift, one table lookup (a and b
# together, as one complex64) and a multiply-add, all whole-tensor float32/int32 ops: no
# Python loop, no float64 copy of the tensor. Each line goes through the chord of its bin
# shifted by half its gap at the midpoint (the minimax line for a bin of constant
# curvature). With 256 bins per binade the table is 39k entries (310 KB) and its own error
# is below 1e-6 absolute (a few float32 units; tests check it against the reference), far
# below that of the output's rounding near the minimum (~1e-4). On CPU this is still several
# times the time of torch's fused backward kernel (a table lookup and ~12 passes over the
# tensor against one), which is why modules that choose their mode keep the input there
# (``output_mode_is_fast``).

#: bins per binade of v: 2**_BIN_BITS
_BIN_BITS = 8
#: v is tabulated from 2**_V_LO_EXP (below: the first bin; d's first nonzero float32 value
#: is 2**-26 or more); the right branch to 2**_D_HI_EXP > _Y_HI - f(x*), the left one to
#: 2**_V_HI_EXP, where one more bin holds f' = 0
_V_LO_EXP, _D_HI_EXP, _V_HI_EXP = -36, 7, 40
_Y_HI = 64.0
_SHIFT = 23 - _BIN_BITS
_BASE = (127 + _V_LO_EXP) << _BIN_BITS
_LEFT_BINS = ((_V_HI_EXP - _V_LO_EXP) << _BIN_BITS) + 1
_RIGHT_BINS = (_D_HI_EXP - _V_LO_EXP) << _BIN_BITS
_V_HI = 2.0**_V_HI_EXP

_TABLES: dict[tuple[str, torch.dtype, torch.device], torch.Tensor] = {}


def _origin(key: str, dtype: torch.dtype) -> float:
    """The float32 origin of d = y - origin: 4 units in the last place of ``dtype`` below
    f(x*), so that d is exact near the minimum and a y rounded to below the minimum still
    reads as the reference reads it."""
    o = _ORIGINS.get((key, dtype))
    if o is None:
        f_min = _PARAMS[key].f_min
        o = _ORIGINS[(key, dtype)] = float(torch.tensor(
            f_min - 4.0 * _ulp_at(f_min, dtype), dtype=torch.float32).item())
    return o


_ORIGINS: dict[tuple[str, torch.dtype], float] = {}


def _bin_edges(bins: int) -> torch.Tensor:
    bits = (torch.arange(bins + 1, dtype=torch.int64) + _BASE) << _SHIFT
    return bits.to(torch.int32).view(torch.float32).to(torch.float64)


def _fit(v: torch.Tensor, f_of_v) -> tuple[torch.Tensor, torch.Tensor]:
    """(a, b) of each bin [v[k], v[k+1]]: the chord, shifted by half its gap at the
    midpoint."""
    ends = f_of_v(v)
    lo, hi = v[:-1], v[1:]
    mid = f_of_v(0.5 * (lo + hi))
    b = (ends[1:] - ends[:-1]) / (hi - lo)
    a = ends[:-1] - b * lo
    a = a + 0.5 * (mid - 0.5 * (ends[:-1] + ends[1:]))
    return a, b


def _build_table(key: str, dtype: torch.dtype) -> torch.Tensor:
    """(a, b) of each bin, left branch then right, as a complex64 tensor a + i b (one
    lookup fetches both)."""
    fmin = _origin(key, dtype)

    def newton(y: torch.Tensor, right: bool) -> torch.Tensor:
        r = torch.full_like(y, right, dtype=torch.bool)
        return _newton(y, r, key, noise_dtype=dtype, work=torch.float64)

    # left: y = origin / (1 + v) for v = d / (-y)
    a_l, b_l = _fit(_bin_edges(_LEFT_BINS - 1), lambda v: newton(fmin / (1.0 + v), False))
    a_l, b_l = torch.cat([a_l, a_l.new_zeros(1)]), torch.cat([b_l, b_l.new_zeros(1)])
    a_r, b_r = _fit(_bin_edges(_RIGHT_BINS), lambda v: newton(fmin + v, True))
    # f' = 1 to far below float32's resolution: exactly 1
    one = (a_r - 1.0).abs() + (b_r * 2.0**_D_HI_EXP).abs() < 1e-12
    a_r, b_r = torch.where(one, 1.0, a_r), torch.where(one, 0.0, b_r)
    # as long as the left part: an index clamped for the left branch stays inside (only a
    # NaN, which gives NaN whatever the bin, gets past d = _Y_HI - f(x*))
    pad = _LEFT_BINS - _RIGHT_BINS
    a_r, b_r = torch.cat([a_r, a_r.new_ones(pad)]), torch.cat([b_r, b_r.new_zeros(pad)])
    return torch.complex(torch.cat([a_l, a_r]).float(), torch.cat([b_l, b_r]).float())


def _table(key: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    cache = (key, dtype, device)
    table = _TABLES.get(cache)
    if table is None:
        from torch.utils._python_dispatch import _disable_current_modes

        with _disable_current_modes(), torch._C._DisableFuncTorch(), torch.no_grad():
            cpu = _TABLES.get((key, dtype, torch.device("cpu")))
            if cpu is None:
                cpu = _build_table(key, dtype)
                _TABLES[(key, dtype, torch.device("cpu"))] = cpu
            table = cpu.to(device)
        _TABLES[cache] = table
    return table


def _from_table(y: torch.Tensor, right: torch.Tensor, key: str) -> torch.Tensor:
    """f' for a flat float32/float16/bfloat16 ``y`` and flat ``right`` (bool or uint8 0/1),
    as flat float32. Four whole-tensor buffers, the rest in place."""
    table = _table(key, y.dtype, y.device)
    fmin = _origin(key, y.dtype)
    r = right.view(torch.uint8) if right.dtype == torch.bool else right
    # below the minimum (rounding): at it; NaN stays NaN
    yc = torch.clamp(y if y.dtype == torch.float32 else y.float(), fmin, _Y_HI)
    # the denominator, 1 (right) or -y (left), exactly: (r - 1) y + r, one term is 0
    den = r.to(torch.float32).sub_(1.0).mul_(yc).add_(r)
    v = yc.sub_(fmin).div_(den).clamp_(0.0, _V_HI)  # y = -0 on the left: inf, the last bin
    i = v.view(torch.int32).bitwise_right_shift(_SHIFT)
    i.sub_(_BASE).clamp_(0, _LEFT_BINS - 1)  # NaN reads the last bin (and gives NaN)
    i.add_(r, alpha=_LEFT_BINS)
    ab = torch.view_as_real(table.index_select(0, i))
    return torch.addcmul(ab[:, 0], ab[:, 1], v, out=den)


def derivative_from_flat(y: torch.Tensor, right: torch.Tensor, name: str,
                         approximate: str = "none") -> torch.Tensor:
    """``derivative_from_output`` for a contiguous 1-d ``y`` and ``right`` (bool or uint8 0/1),
    the form autograd's backward has them in. float32 for float32/half ``y``."""
    key = function_key(name, approximate)
    if y.dtype == torch.float64 or torch.compiler.is_compiling():
        return _newton(y, right.to(torch.bool), key).to(
            torch.float64 if y.dtype == torch.float64 else torch.float32)
    return _from_table(y, right, key)


def derivative_from_output(y: torch.Tensor, right: torch.Tensor, name: str,
                           approximate: str = "none") -> torch.Tensor:
    """f'(x) for y = f(x) and ``right = branch_bits(x)`` (x >= x*), in y's dtype and shape.

    float32, float16 and bfloat16 outputs read f' from per-branch tables of the Newton
    reference (``reference_derivative``): a few float32 whole-tensor ops per element. float64
    outputs run the float64 Newton iterations."""
    if not y.is_floating_point():
        raise TypeError(f"derivative_from_output needs a floating-point tensor, got {y.dtype}")
    flat = derivative_from_flat(y.reshape(-1), right.to(torch.bool).reshape(-1), name,
                                approximate)
    return flat.view(y.shape).to(y.dtype)

def _derive_params(key: str, terms: int = 10, dps: int = 50) -> _Params:
    """Recompute a ``_PARAMS`` entry with mpmath (for the tests and for reference)."""
    import mpmath as mp

    with mp.workdps(dps):
        c = mp.sqrt(2 / mp.pi)
        a = mp.mpf("0.044715")
        fs = {
            "gelu": lambda x: x * mp.ncdf(x),
            "gelu_tanh": lambda x: x / 2 * (1 + mp.tanh(c * (x + a * x**3))),
            "silu": lambda x: x / (1 + mp.exp(-x)),
            "mish": lambda x: x * mp.tanh(mp.log1p(mp.exp(x))),
        }
        f = fs[key]
        xs = mp.findroot(lambda x: mp.diff(f, x), -1)
        tay = mp.taylor(f, xs, terms + 2)
        q = tay[2:]  # (f(x* + d) - f(x*)) / d**2
        r = [mp.sqrt(q[0])]
        for k in range(1, len(q)):
            r.append((q[k] - sum(r[i] * r[k - i] for i in range(1, k))) / (2 * r[0]))
        s_of_d = [mp.mpf(0)] + r[:terms]
        n = len(s_of_d)

        def compose(b: list) -> list:
            out = [mp.mpf(0)] * n
            pw = [mp.mpf(1)] + [mp.mpf(0)] * (n - 1)
            for j in range(1, n):
                pw = [sum(pw[i] * b[k - i] for i in range(k + 1)) for k in range(n)]
                out = [out[i] + s_of_d[j] * pw[i] for i in range(n)]
            return out

        d = [mp.mpf(0), 1 / s_of_d[1]] + [mp.mpf(0)] * (n - 2)
        for k in range(2, n):
            d[k] = -compose(d)[k] / s_of_d[1]
        return _Params(x_min=float(xs), f_min=float(f(xs)), c2=float(tay[2]),
                       series=tuple(float(v) for v in d[1:]))
