"""k-bit codebooks of the derivative of gelu, silu and mish ("Few-Bit Backward").

Instead of saving its input for backward, a smooth activation can save a k-bit *code* of its
derivative and multiply the incoming gradient by a level looked up from that code (Novikov et
al., "Few-Bit Backward: Quantized Gradients of Activation Functions for Memory Footprint
Reduction", ICML 2023). The quantiser ``q`` is piecewise constant in x, takes at most 2**k
distinct values, and minimises ``E[(f'(x) - q(x))^2]`` for ``x ~ N(0, 1)``.

Among *all* functions of x with 2**k values, the best one is the optimal scalar quantiser of
the random variable ``Y = f'(X)``: the levels are the conditional means of ``f'`` over the
x-sets mapped to them, and a set is ``{x : f'(x) is nearest to that level}``. Its edges are the
x where ``f'`` crosses a midpoint between two adjacent levels. ``f'`` is not monotone (it dips
below 0 on the left and overshoots 1 on the right), so one level usually serves several
x-intervals.

Nothing is optimised at run time. The levels are generated offline by
``relukit.torch.fewbit_derive`` (which says how) into ``relukit.torch._fewbit_tables``; the
x-edges are re-derived from them at first use by bisection on ``f'`` (exact to a few ulp).
``tests/torch/test_torch_fewbit.py`` checks the tables against an independent optimiser and
scipy quadrature; ``tests/torch/test_torch_fewbit_tables.py`` regenerates and compares them.

The interface the autograd functions use (see ``relukit.torch.functional``)::

    cb = get_codebook("gelu", 4)
    idx = torch.bucketize(x, torch.tensor(cb.boundaries))      # interval of each element
    code = torch.tensor(cb.interval_codes)[idx]                # k-bit code, packed for backward
    grad_x = grad_y * torch.tensor(cb.levels)[code]            # in backward

Expected error under ``x ~ N(0, 1)``: ``mse = E[(f' - q)^2]``, and the cosine similarity of
``grad_y * q`` with ``grad_y * f'`` for a gradient independent of x, which for a Lloyd-optimal q
is ``sqrt(1 - mse / E[f'^2])``. Reproduce with ``python -m relukit.torch.fewbit_derive --table``.

==  ============  ========  ============  ========  ============  ========  ============  ========
k   gelu mse      cos       gelu tanh     cos       silu mse      cos       mish mse      cos
==  ============  ========  ============  ========  ============  ========  ============  ========
1   3.844e-02     0.956905  3.845e-02     0.956896  3.206e-02     0.956821  3.404e-02     0.963818
2   8.001e-03     0.991185  8.010e-03     0.991175  7.895e-03     0.989543  7.675e-03     0.991957
3   1.902e-03     0.997912  1.903e-03     0.997910  1.937e-03     0.997445  1.807e-03     0.998113
4   4.621e-04     0.999493  4.624e-04     0.999493  4.752e-04     0.999374  4.415e-04     0.999539
5   1.138e-04     0.999875  1.138e-04     0.999875  1.173e-04     0.999845  1.089e-04     0.999886
6   2.820e-05     0.999969  2.821e-05     0.999969  2.912e-05     0.999962  2.703e-05     0.999972
7   7.033e-06     0.999992  7.037e-06     0.999992  7.256e-06     0.999990  6.733e-06     0.999993
8   1.755e-06     0.999998  1.755e-06     0.999998  1.811e-06     0.999998  1.680e-06     0.999998
==  ============  ========  ============  ========  ============  ========  ============  ========

k = 1 keeps the sign-like split (like ReLU's mask but with tuned levels); from k = 4 the
gradient cosine is above 0.999 for all four. Each extra bit divides the error by about 4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from ._fewbit_tables import ERRORS as _ERRORS
from ._fewbit_tables import LEVELS as _LEVELS

__all__ = ["Codebook", "get_codebook", "SUPPORTED", "MAX_BITS"]

#: The activations with codebooks and their accepted ``approximate`` values.
SUPPORTED: dict[str, tuple[str, ...]] = {
    "gelu": ("none", "tanh"),
    "silu": ("none",),
    "mish": ("none",),
}
MAX_BITS = 8

# Beyond +-_X_FAR every f' here equals its limit (0 or 1) to double precision, and N(0,1) puts
# no representable mass there: the outermost interval edges lie well inside.
_X_FAR = 40.0


@dataclass(frozen=True)
class Codebook:
    """A k-bit quantiser of f': ``q(x) = levels[interval_codes[bucketize(x, boundaries)]]``.

    ``torch.bucketize`` (``right=False``) maps x to interval i with
    ``boundaries[i-1] < x <= boundaries[i]``; there are ``len(boundaries) + 1`` intervals.
    """

    name: str
    approximate: str
    bits: int
    boundaries: tuple[float, ...]
    interval_codes: tuple[int, ...]
    levels: tuple[float, ...]
    #: E[(f'(x) - q(x))^2] for x ~ N(0, 1).
    expected_sq_error: float
    #: cosine similarity of q with f' under N(0, 1): E[f' q] / sqrt(E[f'^2] E[q^2]).
    expected_cosine: float

    def __repr__(self) -> str:
        approx = f", approximate={self.approximate!r}" if self.name == "gelu" else ""
        return (
            f"Codebook({self.name}{approx}, bits={self.bits}: {len(self.levels)} levels, "
            f"{len(self.boundaries) + 1} intervals, mse={self.expected_sq_error:.3g}, "
            f"cos={self.expected_cosine:.6f})"
        )


def get_codebook(name: str, bits: int, approximate: str = "none") -> Codebook:
    """The k-bit derivative codebook of ``name`` ("gelu", "silu", "mish"), k = ``bits`` in 1..8.

    ``approximate`` selects GELU's tanh form ("tanh") or the exact erf form ("none"); silu and
    mish accept only "none". Results are cached: a codebook is built once per process.
    """
    canonical = _canonical_name(name)
    if isinstance(bits, bool) or not isinstance(bits, int):
        if not (hasattr(bits, "__index__") and not isinstance(bits, bool)):
            raise TypeError(
                f"bits must be an int in 1..{MAX_BITS}, got {type(bits).__name__} {bits!r}"
            )
        bits = bits.__index__()
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits={bits!r} is out of range; valid values: 1..{MAX_BITS}")
    if approximate not in SUPPORTED[canonical]:
        raise ValueError(
            f"approximate={approximate!r} is not valid for {canonical}; valid values: "
            f"{', '.join(repr(a) for a in SUPPORTED[canonical])}"
        )
    return _build(canonical, approximate, bits)


def _canonical_name(name: str) -> str:
    from .. import catalogue

    accepted = ", ".join(SUPPORTED)
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (one of {accepted}), got {type(name).__name__}")
    try:
        canonical = catalogue.get(name).name
    except ValueError:
        canonical = None
    if canonical not in SUPPORTED:
        raise ValueError(f"name={name!r} has no k-bit codebook; valid values: {accepted}")
    return canonical


# ----------------------------------------------------------------------------- construction


def _derivative(name: str, approximate: str):
    from .. import catalogue

    act = catalogue.get(name)
    params = {"approximate": approximate} if name == "gelu" else {}

    def fprime(x):
        return act.derivative(x, **params)

    return fprime


@cache
def _build(name: str, approximate: str, bits: int) -> Codebook:
    import numpy as np

    fprime = _derivative(name, approximate)
    levels = np.asarray(_LEVELS[(name, approximate, bits)], dtype=np.float64)
    boundaries, codes = _intervals(fprime, levels)
    mse, cosine = _ERRORS[(name, approximate, bits)]
    return Codebook(
        name=name,
        approximate=approximate,
        bits=bits,
        boundaries=tuple(float(b) for b in boundaries),
        interval_codes=tuple(int(c) for c in codes),
        levels=tuple(float(v) for v in levels),
        expected_sq_error=mse,
        expected_cosine=cosine,
    )


def _monotone_pieces(fprime):
    """[(lo, hi, increasing)] covering [-_X_FAR, _X_FAR] on each of which f' is monotone."""
    import numpy as np

    grid = np.linspace(-10.0, 10.0, 20001)
    d = np.diff(fprime(grid))
    turns = np.nonzero(np.sign(d[1:]) * np.sign(d[:-1]) < 0)[0] + 1
    critical = []
    for i in turns:
        is_max = d[i - 1] > 0
        critical.append(_golden_extremum(fprime, grid[i - 1], grid[i + 1], is_max))
    edges = [-_X_FAR, *critical, _X_FAR]
    pieces = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        f_lo, f_hi = fprime(np.array([lo, hi]))
        pieces.append((lo, hi, bool(f_hi > f_lo)))
    return pieces


def _golden_extremum(fprime, a: float, b: float, is_max: bool) -> float:
    import numpy as np

    sign = -1.0 if is_max else 1.0
    r = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = b - r * (b - a), a + r * (b - a)
    fc = sign * float(fprime(np.array(c)))
    fd = sign * float(fprime(np.array(d)))
    for _ in range(80):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - r * (b - a)
            fc = sign * float(fprime(np.array(c)))
        else:
            a, c, fc = c, d, fd
            d = a + r * (b - a)
            fd = sign * float(fprime(np.array(d)))
    return (a + b) / 2.0


def _roots(fprime, pieces, thresholds):
    """For each piece, x with f'(x) = t for each threshold (clipped to the piece when t is
    beyond its range), as an array of shape (len(pieces), len(thresholds))."""
    import numpy as np

    t = np.asarray(thresholds, dtype=np.float64)
    lo = np.concatenate([np.full(t.size, p[0]) for p in pieces])
    hi = np.concatenate([np.full(t.size, p[1]) for p in pieces])
    inc = np.concatenate([np.full(t.size, p[2]) for p in pieces])
    tt = np.tile(t, len(pieces))
    # Bisection on g(x) = +-(f'(x) - t), oriented so that g increases over each piece.
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if np.all((mid == lo) | (mid == hi)):
            break
        g = fprime(mid) - tt
        below = np.where(inc, g < 0, g > 0)
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return (0.5 * (lo + hi)).reshape(len(pieces), t.size)


def _intervals(fprime, levels):
    """x-interval edges of the nearest-level quantiser of f', and each interval's code."""
    import numpy as np

    thresholds = 0.5 * (levels[1:] + levels[:-1])
    pieces = _monotone_pieces(fprime)
    roots = _roots(fprime, pieces, thresholds)
    inner = []
    for (lo, hi, _), r in zip(pieces, roots, strict=True):
        inner.extend(r[(r > lo) & (r < hi)])
    edges = np.unique(np.asarray(inner, dtype=np.float64))
    if edges.size == 0:
        return edges, np.array([0])
    probes = np.concatenate(
        [[edges[0] - 1.0], 0.5 * (edges[1:] + edges[:-1]), [edges[-1] + 1.0]]
    )
    codes = np.searchsorted(thresholds, fprime(probes), side="left")
    keep = codes[1:] != codes[:-1]  # an edge between two equal codes is no edge
    return edges[keep], np.concatenate([codes[:1], codes[1:][keep]])
