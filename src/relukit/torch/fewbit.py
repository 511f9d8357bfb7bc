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
x-intervals. The levels were found by a Lloyd-Max alternation (conditional means <-> midpoints)
with Gauss-Legendre integrals of the catalogue's float64 derivative, from two starts (the
quantiles of ``Y`` and the split (k-1)-bit solution), and are checked in below (``_LEVELS``);
the x-edges are re-derived from them at first use by bisection on ``f'`` (exact to a few ulp).
The levels are conditional means to 1e-9 for k <= 6; for k = 7, 8 the error surface is so flat
that the search stops within 3e-7 of the fixed point, which costs less than 1e-13 in the error.
``tests/torch/test_torch_fewbit.py`` checks the tables against an independent optimiser
(dynamic programming over a discretised ``Y``), the optimality conditions with scipy
quadrature, and ``expected_sq_error`` by integrating ``(f' - q)^2`` directly.

The interface the autograd functions use (see ``relukit.torch.functional``)::

    cb = get_codebook("gelu", 4)
    idx = torch.bucketize(x, torch.tensor(cb.boundaries))      # interval of each element
    code = torch.tensor(cb.interval_codes)[idx]                # k-bit code, packed for backward
    grad_x = grad_y * torch.tensor(cb.levels)[code]            # in backward

Expected error under ``x ~ N(0, 1)``: ``mse = E[(f' - q)^2]``, and the cosine similarity of
``grad_y * q`` with ``grad_y * f'`` for a gradient independent of x, which for a Lloyd-optimal q
is ``sqrt(1 - mse / E[f'^2])``. Reproduce with ``python -m relukit.torch.fewbit --table``.

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
import sys
from dataclasses import dataclass
from functools import cache

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


# ----------------------------------------------------------------------------- derivation
# Offline: ``python -m relukit.torch.fewbit`` recomputes _LEVELS and _ERRORS (NumPy only).


class _Moments:
    """Cumulative integrals from -inf of phi, f' phi and f'^2 phi (phi: N(0,1) density), to
    double precision: 20-point Gauss-Legendre on cells of width 1/16 over [-12, 12] (the mass
    outside is below 1e-32)."""

    _H = 1.0 / 16.0
    _LIM = 12.0

    def __init__(self, fprime):
        import numpy as np

        self.fprime = fprime
        self.nodes, self.weights = np.polynomial.legendre.leggauss(20)
        self.edges = np.arange(-self._LIM, self._LIM + self._H / 2, self._H)
        p, g, g2 = self._integrals(self.edges[:-1], self.edges[1:])
        zero = np.zeros(1)
        self.cum = [np.concatenate([zero, np.cumsum(v)]) for v in (p, g, g2)]

    def _integrals(self, a, b):
        import numpy as np

        half = (b - a)[..., None] / 2.0
        xs = (a + b)[..., None] / 2.0 + half * self.nodes
        w = half * self.weights * np.exp(-0.5 * xs * xs) / math.sqrt(2.0 * math.pi)
        fp = self.fprime(xs)
        return w.sum(-1), (w * fp).sum(-1), (w * fp * fp).sum(-1)

    def at(self, x):
        """(P, G, G2) integrated from -inf to x, elementwise."""
        import numpy as np

        x = np.clip(np.asarray(x, dtype=np.float64), -self._LIM, self._LIM)
        i = np.clip(((x + self._LIM) / self._H).astype(np.int64), 0, self.edges.size - 2)
        a = self.edges[i]
        parts = self._integrals(a, x)
        return tuple(c[i] + part for c, part in zip(self.cum, parts, strict=True))

    @property
    def totals(self):
        return tuple(float(c[-1]) for c in self.cum)


def _below(fprime, moments, pieces, thresholds):
    """P(f'(X) <= t) and E[f'(X) 1{f'(X) <= t}] for each threshold t."""
    import numpy as np

    roots = _roots(fprime, pieces, thresholds)
    mass = np.zeros(len(thresholds))
    first = np.zeros(len(thresholds))
    for (lo, hi, inc), r in zip(pieces, roots, strict=True):
        left, right = (np.full_like(r, lo), r) if inc else (r, np.full_like(r, hi))
        p1, g1, _ = moments.at(left)
        p2, g2, _ = moments.at(right)
        mass += p2 - p1
        first += g2 - g1
    return mass, first


def _lloyd(fprime, moments, pieces, levels, warmup=60, max_newton=40, tol=1e-15):
    """Lloyd-Max in f'-value space from ``levels``; returns (levels, mse).

    Plain Lloyd converges linearly and slowly with many levels, so after a few plain steps
    Newton's method solves ``lloyd_map(levels) = levels``. Its Jacobian is tridiagonal (a
    conditional mean depends on its two thresholds, i.e. on three levels), so three extra map
    evaluations with the levels perturbed in stride 3 give it by finite differences.
    """
    import numpy as np

    total_p, total_g, total_g2 = moments.totals

    def cells(lv):
        mass, first = _below(fprime, moments, pieces, 0.5 * (lv[1:] + lv[:-1]))
        p = np.diff(np.concatenate([[0.0], mass, [total_p]]))
        g = np.diff(np.concatenate([[0.0], first, [total_g]]))
        return p, g

    def lloyd_map(lv):
        p, g = cells(lv)
        empty = p <= 0
        return np.where(empty, lv, g / np.where(empty, 1.0, p))

    levels = np.sort(np.asarray(levels, dtype=np.float64))
    for _ in range(warmup):
        levels = np.sort(lloyd_map(levels))
    n = levels.size
    residual = lloyd_map(levels) - levels
    for _ in range(max_newton):
        norm = np.max(np.abs(residual))
        if norm < tol or n == 1:
            break
        h = 1e-7
        jac = np.zeros((n, n))
        for colour in range(3):
            bump = np.zeros(n)
            bump[colour::3] = h
            diff = (lloyd_map(levels + bump) - (levels + bump) - residual) / h
            for j in range(colour, n, 3):
                lo, hi = max(0, j - 1), min(n, j + 2)
                jac[lo:hi, j] = diff[lo:hi]
        step = np.linalg.solve(jac, -residual)
        scale = 1.0
        while scale > 1e-4:
            trial = levels + scale * step
            if np.all(np.diff(trial) > 0):
                trial_residual = lloyd_map(trial) - trial
                if np.max(np.abs(trial_residual)) < norm:
                    levels, residual = trial, trial_residual
                    break
            scale /= 2.0
        else:
            levels = np.sort(lloyd_map(levels))  # Newton stalled: fall back to a Lloyd step
            residual = lloyd_map(levels) - levels
    p, g = cells(levels)
    mse = total_g2 - 2.0 * float(np.dot(levels, g)) + float(np.dot(levels * levels, p))
    return levels, mse


def _quantile_start(fprime, n):
    import numpy as np

    x = np.linspace(-9.0, 9.0, 200001)
    w = np.exp(-0.5 * x * x)
    y = fprime(x)
    order = np.argsort(y)
    cdf = np.cumsum(w[order])
    cdf /= cdf[-1]
    return np.interp((np.arange(n) + 0.5) / n, cdf, y[order])


def derive_levels(name: str, approximate: str = "none", max_bits: int = MAX_BITS):
    """Recompute the optimal levels for bits 1..max_bits: {bits: (levels, mse, cosine)}.

    Offline tool (NumPy only, about a minute for 8 bits); the results are checked in as
    ``_LEVELS``/``_ERRORS`` so that nothing is optimised at run time.
    """
    import numpy as np

    fprime = _derivative(_canonical_name(name), approximate)
    moments = _Moments(fprime)
    pieces = _monotone_pieces(fprime)
    total_g2 = moments.totals[2]
    out = {}
    previous = None
    for bits in range(1, max_bits + 1):
        n = 2**bits
        starts = [_quantile_start(fprime, n)]
        if previous is not None:
            spread = np.diff(np.concatenate([[previous[0] - 0.01], previous, [previous[-1]]]))
            starts.append(np.sort(np.concatenate([previous - spread[:-1] / 4,
                                                  previous + spread[1:] / 4])))
        best = min((_lloyd(fprime, moments, pieces, s) for s in starts), key=lambda r: r[1])
        levels, mse = best
        previous = levels
        out[bits] = (levels, mse, math.sqrt(max(0.0, 1.0 - mse / total_g2)))
    return out


def _format_tables(results) -> str:
    import textwrap

    lines = ["_LEVELS: dict[tuple[str, str, int], tuple[float, ...]] = {"]
    for (name, approx), per_bits in results.items():
        for bits, (levels, _, _) in per_bits.items():
            values = ", ".join(f"{v:.15g}" for v in levels) + ","
            lines.append(f"    ({name!r}, {approx!r}, {bits}): (")
            lines.extend(textwrap.wrap(values, 99, initial_indent=" " * 8,
                                       subsequent_indent=" " * 8))
            lines.append("    ),")
    lines.append("}")
    lines.append("_ERRORS: dict[tuple[str, str, int], tuple[float, float]] = {")
    for (name, approx), per_bits in results.items():
        for bits, (_, mse, cos) in per_bits.items():
            lines.append(f"    ({name!r}, {approx!r}, {bits}): ({mse:.6e}, {cos:.9f}),")
    lines.append("}")
    return "\n".join(lines)


def _format_doc_table(errors) -> str:
    keys = [("gelu", "none"), ("gelu", "tanh"), ("silu", "none"), ("mish", "none")]
    rows = []
    for bits in range(1, MAX_BITS + 1):
        cells = [f"{bits:<2d}"]
        for key in keys:
            mse, cos = errors[(*key, bits)]
            cells.append(f"{mse:<12.3e}  {cos:<8.6f}")
        rows.append("  ".join(cells).rstrip())
    return "\n".join(rows)


def _main(argv: list[str]) -> int:
    if "--table" in argv:
        print(_format_doc_table(_ERRORS))
        return 0
    results = {}
    for name, approximations in SUPPORTED.items():
        for approx in approximations:
            results[(name, approx)] = derive_levels(name, approx)
            print(f"# derived {name} {approx}", file=sys.stderr)
    print(_format_tables(results))
    return 0



# ----------------------------------------------------------------------------- tables
# Generated by ``python -m relukit.torch.fewbit`` (levels to 15 significant digits).
_LEVELS: dict[tuple[str, str, int], tuple[float, ...]] = {
    ('gelu', 'none', 1): (
        0.0908450569081049, 0.909154943091896,
    ),
    ('gelu', 'none', 2): (
        -0.0463859279224602, 0.312675097394977, 0.687324902605028, 1.04638592792246,
    ),
    ('gelu', 'none', 3): (
        -0.0915102130683964, 0.0620324181004559, 0.233676463102437, 0.41071531541852,
        0.589284684581518, 0.766323536897594, 0.937967581899569, 1.0915102130684,
    ),
    ('gelu', 'none', 4): (
        -0.113156337020288, -0.0497216263110885, 0.0253933115438052, 0.107940405484892,
        0.193025003248164, 0.279732836843231, 0.367462506891526, 0.455760000504793,
        0.544239999495343, 0.632537493108604, 0.720267163156888, 0.806974996751943,
        0.892059594515207, 0.974606688456289, 1.04972162631113, 1.1131563370203,
    ),
    ('gelu', 'none', 5): (
        -0.122291432113489, -0.0957718986207367, -0.0649359045804442, -0.0311470963007482,
        0.00527229368668189, 0.0456359280033111, 0.0869160826006831, 0.128908796994459,
        0.171466816045559, 0.214477660691318, 0.257851487430695, 0.301513785404654,
        0.345400678783349, 0.389455721785805, 0.433627584757955, 0.477868281500642,
        0.522131718500051, 0.566372415242737, 0.610544278214878, 0.654599321217325,
        0.698486214595998, 0.74214851256993, 0.78552233930928, 0.82853318395501, 0.871091203006093,
        0.913083917399841, 0.954364071997194, 0.994727706313792, 1.03114709630109,
        1.06493590458065, 1.09577189862084, 1.12229143211351,
    ),
    ('gelu', 'none', 6): (
        -0.126056514924538, -0.114653857372146, -0.101432977820444, -0.0870230618144526,
        -0.0716970305996327, -0.0556044588459399, -0.0388322378751685, -0.021421295318219,
        -0.00334500348057512, 0.0165173773524817, 0.0366581866573196, 0.0570405966864732,
        0.0776346913978577, 0.098415638570547, 0.119362448782227, 0.140457102833544,
        0.161683919978842, 0.183029088909795, 0.204480311903794, 0.22602652958766,
        0.247657704337621, 0.269364647100065, 0.29113887686335, 0.312972505003109,
        0.334858138779288, 0.356788799701205, 0.378757853498722, 0.400758949172782,
        0.422785965132481, 0.444832960816132, 0.466894132478287, 0.488963772030767,
        0.511036227970479, 0.533105867522952, 0.555167039185096, 0.577214034868737,
        0.599241050828421, 0.621242146502454, 0.643211200299958, 0.665141861221829,
        0.687027494997962, 0.708861123137683, 0.730635352900926, 0.75234229566333,
        0.77397347041325, 0.795519688097074, 0.816970911091016, 0.838316080021919,
        0.85954289716717, 0.88063755121846, 0.90158436143011, 0.922365308602773, 0.942959403314139,
        0.963341813343275, 0.983482622648087, 1.00334500348112, 1.02142129531868, 1.03883223787554,
        1.05560445884622, 1.07169703059984, 1.08702306181459, 1.10143297782053, 1.11465385737219,
        1.12605651492455,
    ),
    ('gelu', 'none', 7): (
        -0.127689800154474, -0.122829334661558, -0.117195653574801, -0.111056865772678,
        -0.104530113803425, -0.0976818582496482, -0.0905552239952115, -0.0831806467729961,
        -0.0755808372162705, -0.0677733356136706, -0.0597718910793368, -0.0515872029597348,
        -0.043227266148861, -0.0346973877176777, -0.0259997447211853, -0.0171319135831571,
        -0.00808215311756966, 0.00119584818800747, 0.0110994484999933, 0.0210842879285764,
        0.031143226871391, 0.0412701348546141, 0.0514597333710937, 0.0617073650521689,
        0.0720088543381091, 0.0823604468258318, 0.092758771385591, 0.103200801421002,
        0.113683813539335, 0.124205346159653, 0.134763160353041, 0.145355204772643,
        0.155979585578137, 0.166634541836178, 0.177318425662319, 0.188029686711795,
        0.198766859927545, 0.209528555868391, 0.220313452905426, 0.231120290710498,
        0.24194786459675, 0.252795020715198, 0.263660651640591, 0.274543692423849,
        0.285443117018443, 0.296357934992094, 0.307287188506146, 0.318229949539258,
        0.329185317272462, 0.340152415814211, 0.351130391925614, 0.362118413023525,
        0.373115665243224, 0.384121351638655, 0.395134690494361, 0.406154913728731,
        0.417181265346657, 0.428213000028679, 0.439249381734659, 0.450289682350451,
        0.461333180410457, 0.472379159837367, 0.483426908708962, 0.494475718061142,
        0.505524880698446, 0.516573690010738, 0.527621438805846, 0.538667418116247,
        0.549710916038875, 0.560751216481619, 0.571787597952802, 0.582819332357653,
        0.593845683646319, 0.604865906519249, 0.615879244996078, 0.626884930968368,
        0.637882182746334, 0.648870203358764, 0.659848178961293, 0.670815276868074,
        0.68177064390795, 0.692713404201159, 0.703642656973741, 0.714557474154093,
        0.725456897901813, 0.73633993783586, 0.747205567840493, 0.758052722871476,
        0.768880295550657, 0.779687131969018, 0.790472027534405, 0.801233722025126,
        0.811970893684633, 0.82268215323479, 0.833366035593572, 0.844020990197754,
        0.854645369291996, 0.865237411715684, 0.875795223638149, 0.886316753480418,
        0.896799762036203, 0.907241786894515, 0.91764010307093, 0.927991680832829,
        0.938293143297262, 0.948540726346323, 0.958730238254604, 0.968856996351797,
        0.97891568515903, 0.988900123544979, 0.99880310611531, 1.0080803551263, 1.01712901094944,
        1.0259953326498, 1.03469102605557, 1.04321852220489, 1.05157571549967, 1.05975745173616,
        1.06775597617432, 1.07556090645679, 1.08315885584444, 1.09053263988474, 1.09765983230476,
        1.10451014249385, 1.11104039518573, 1.11718385078383, 1.12282284706648, 1.12768846753463,
    ),
    ('gelu', 'none', 8): (
        -0.128367301402033, -0.126219442424232, -0.123732042150233, -0.121025040164112,
        -0.118151551410734, -0.115142136855045, -0.112016863748899, -0.108790021508304,
        -0.105472360430467, -0.102072293120486, -0.098596596691576, -0.0950508505390612,
        -0.0914397240625194, -0.0877671746106526, -0.0840365892053741, -0.0802508894459316,
        -0.0764126111385767, -0.0725239657200528, -0.0685868879539459, -0.0646030728614396,
        -0.0605740039102057, -0.0565009738486053, -0.0523850990671406, -0.0482273278919577,
        -0.044028442690983, -0.0397890549980177, -0.0355095918741501, -0.0311902700493097,
        -0.0268310510042669, -0.0224315625284853, -0.0179909551540887, -0.0135076218796932,
        -0.0089785865472888, -0.00439779487435198, 0.000252447696833985, 0.00518663800884579,
        0.0101403311518967, 0.0151127244345831, 0.0201030573759978, 0.025110633602105,
        0.0301348204911012, 0.0351750324554122, 0.0402307151133461, 0.0453013374866108,
        0.0503863899064493, 0.0554853839847815, 0.0605978528670431, 0.0657233512474558,
        0.0708614550207692, 0.0760117605757975, 0.0811738837974006, 0.0863474588627446,
        0.091532136936388, 0.0967275848619727, 0.101933483912374, 0.10714952863492,
        0.112375425818728, 0.117610893584894, 0.122855660581035, 0.128109465271536,
        0.133372055308036, 0.138643186961876, 0.14392262461055, 0.149210140268196,
        0.154505513156537, 0.15980852930496, 0.165118981175608, 0.170436667322251,
        0.175761392069077, 0.181092965201733, 0.186431201689258, 0.19177592142954,
        0.197126949001024, 0.202484113431853, 0.207847247984179, 0.213216189951963,
        0.218590780472897, 0.223970864349188, 0.229356289880209, 0.234746908702042,
        0.240142575635425, 0.245543148543715, 0.250948488197527, 0.256358458149471,
        0.261772924614736, 0.267191756353217, 0.272614824557841, 0.278042002747463,
        0.283473166664306, 0.288908194179851, 0.294346965202702, 0.299789361588762,
        0.305235267060158, 0.310684567124533, 0.31613714899442, 0.321592901509212,
        0.327051715066044, 0.33251348155464, 0.337978094283779, 0.343445447914904,
        0.348915438405628, 0.354387962946425, 0.359862919900681, 0.3653402087521,
        0.370819730047819, 0.376301385346141, 0.381785077163765, 0.387270708922381,
        0.392758184902393, 0.398247410197189, 0.403738290666578, 0.409230732890235,
        0.414724644121252, 0.420219932244049, 0.425716505733374, 0.431214273611073,
        0.436713145406519, 0.442213031116065, 0.447713841161916, 0.453215486353914,
        0.458717877851173, 0.464220927124929, 0.469724545920572, 0.475228646219359,
        0.480733140201919, 0.486237940211384, 0.491742958717587, 0.497248108281313,
        0.502753301517636, 0.508258451059158, 0.513763469519569, 0.519268269458824,
        0.524772763348901, 0.53027686353377, 0.53578048219175, 0.541283531302677,
        0.546785922611107, 0.552287567590047, 0.557788377401012, 0.563288262853988,
        0.568787134372723, 0.574284901953898, 0.579781475124476, 0.585276762909161,
        0.590770673784456, 0.596263115632824, 0.601753995704485, 0.607243220570625,
        0.61273069608865, 0.618216327359901, 0.623700018672475, 0.629181673450523,
        0.634661194210644, 0.640138482509176, 0.645613438887932, 0.651085962830609,
        0.65655595270375, 0.662023305683688, 0.667487917721139, 0.672949683498965, 0.6784084963254,
        0.683864248074882, 0.689316829152765, 0.694766128396784, 0.700212033016012,
        0.705654428519305, 0.711093198626702, 0.716528225209466, 0.721959388179082,
        0.727386565401379, 0.732809632621465, 0.738228463349245, 0.74364292876632,
        0.749052897647305, 0.754458236224499, 0.759858808034511, 0.765254473832243,
        0.770645091467952, 0.776030515753895, 0.781410598345724, 0.786785187545617,
        0.792154128140711, 0.797517261277637, 0.802874424271121, 0.808225450375328,
        0.813570168597105, 0.81890840351962, 0.824239975057672, 0.829564698193335,
        0.83488238271431, 0.840192832940609, 0.845495847409494, 0.850791218547289,
        0.856078732349462, 0.861358168029642, 0.866629297619485, 0.871891885518132,
        0.877145688009957, 0.882390452722307, 0.88762591808032, 0.892851812672236,
        0.898067854540876, 0.903273750435271, 0.908469194826375, 0.913653868895617,
        0.918827439392998, 0.923989557316872, 0.929139856663085, 0.934277953151634,
        0.939403443001653, 0.944515901854393, 0.949614884061904, 0.954699922440043,
        0.959770528278924, 0.964826191541544, 0.96986638082149, 0.974890541279642,
        0.97989808680094, 0.984888383994299, 0.989860735325031, 0.99481437883573,
        0.999748510180322, 1.00439863509193, 1.00897930825557, 1.01350821920769, 1.01799142182267,
        1.02243189231416, 1.0268312378276, 1.03119030818323, 1.03550947616526, 1.03978878104039,
        1.04402800698534, 1.04822672789372, 1.05238433300267, 1.05650004026752, 1.06057290094227,
        1.0646017971087, 1.06858543310574, 1.0725223211486, 1.07641076079888, 1.08024881155893,
        1.08403425736278, 1.087764560858, 1.09143680430544, 1.09504761223457, 1.09859304813101,
        1.10206847291562, 1.10546834518589, 1.10878592935229, 1.1120128515766, 1.11513838994158,
        1.11814826535957, 1.12102239660392, 1.12373018065453, 1.12621843038726, 1.12836709453187,
    ),
    ('gelu', 'tanh', 1): (
        0.0908913804078396, 0.909108619592162,
    ),
    ('gelu', 'tanh', 2): (
        -0.0463788171252653, 0.312631282808458, 0.687368717191547, 1.04637881712527,
    ),
    ('gelu', 'tanh', 3): (
        -0.0917180235229629, 0.0616471975740533, 0.233404442895098, 0.410618067083422,
        0.58938193291661, 0.766595557104931, 0.938352802425971, 1.09171802352297,
    ),
    ('gelu', 'tanh', 4): (
        -0.113298408582151, -0.0499898979649813, 0.0249520986846703, 0.107539117652536,
        0.192688707936712, 0.279479995588055, 0.367305837558081, 0.455706958478499,
        0.544293041521657, 0.632694162442072, 0.720520004412089, 0.807311292063419,
        0.892460882347586, 0.975047901315443, 1.04998989796504, 1.11329840858216,
    ),
    ('gelu', 'tanh', 5): (
        -0.122398981954743, -0.0959380179892863, -0.0651479778302149, -0.0313920014760557,
        0.00495228299054298, 0.0453200770002052, 0.0866110288933556, 0.128620463017591,
        0.171200434446753, 0.214237792205272, 0.257642038535615, 0.301338026005117,
        0.345261258899325, 0.38935468626519, 0.433566385297153, 0.477847785504325,
        0.522152214496247, 0.566433614703417, 0.610645313735375, 0.654738741101229,
        0.698661973995417, 0.742357961464896, 0.785762207795221, 0.828799565553713,
        0.871379536982859, 0.913388971107074, 0.95467992300021, 0.995047717009856,
        1.03139200147634, 1.0651479778304, 1.09593801798938, 1.12239898195476,
    ),
    ('gelu', 'tanh', 6): (
        -0.126144586322335, -0.114735441806182, -0.101502485729919, -0.0870740789270792,
        -0.0717227772766919, -0.0555984477952329, -0.0387895338740436, -0.0213417313505096,
        -0.00324656467868098, 0.0166045100983025, 0.0367344636779855, 0.0571066318988808,
        0.0776911994654161, 0.0984633919149917, 0.119402247368011, 0.140489752482646,
        0.16171021655563, 0.183049806644107, 0.204496194689376, 0.226038284454344,
        0.24766599653236, 0.269370096370987, 0.291142054650678, 0.312973932317677,
        0.334858284604546, 0.356788079794732, 0.378756629498968, 0.400757527939026,
        0.422784598263188, 0.444831844304022, 0.466893406471145, 0.488963520675548,
        0.511036479325588, 0.533106593529979, 0.555168155697108, 0.577215401737933,
        0.599242472062094, 0.621243370502133, 0.643211920206346, 0.66514171539649,
        0.687026067683327, 0.708857945350295, 0.730629903629947, 0.752334003468545,
        0.773961715546529, 0.795503805311454, 0.816950193356665, 0.838289783445091,
        0.859510247518041, 0.880597752632649, 0.901536608085633, 0.922308800535205,
        0.942893368101708, 0.963265536322588, 0.983395489902253, 1.00324656467922,
        1.02134173135097, 1.03878953387442, 1.05559844779551, 1.07172277727689, 1.08707407892722,
        1.10150248573002, 1.11473544180624, 1.12614458632235,
    ),
    ('gelu', 'tanh', 7): (
        -0.127774785212106, -0.12289808422991, -0.117245096685116, -0.111084897547296,
        -0.104535154046549, -0.0976626929250751, -0.0905109221188445, -0.0831105165306697,
        -0.0754844162753072, -0.0676504176661587, -0.0596225922510807, -0.051412073813,
        -0.0430274621116084, -0.0344749287155011, -0.0257579340920659, -0.0168761356145235,
        -0.00782211334480454, 0.00143273771815503, 0.0113476933664052, 0.0213416944809445,
        0.0314070373119067, 0.0415374950326769, 0.0517280147647816, 0.0619743029900226,
        0.0722725769337124, 0.0826194599617774, 0.0930119255989631, 0.103447248572342,
        0.113922958502489, 0.124436798022056, 0.134986686971886, 0.145570692829934,
        0.156187007439492, 0.166833929306887, 0.177509850117679, 0.188213244682916,
        0.198942662962144, 0.209696723759751, 0.220474109111315, 0.231273559515892,
        0.242093869287335, 0.252933882275296, 0.263792488046913, 0.274668618095517,
        0.285561242426534, 0.296469366349321, 0.307392027546276, 0.318328293303738,
        0.329277257994246, 0.340238040704713, 0.351209783062141, 0.362191647260827,
        0.373182814073665, 0.384182481070689, 0.395189861063589, 0.406204180337652,
        0.417224677303956, 0.428250600942454, 0.439281209460656, 0.450315768990392,
        0.461353552249232, 0.472393837342344, 0.483435906508738, 0.494479044922517,
        0.505522539519204, 0.516565677825658, 0.527607746782423, 0.538648031569506,
        0.549685814431874, 0.560720373448578, 0.571750981326438, 0.582776904195366,
        0.593797400277149, 0.604811718557552, 0.615819097472396, 0.626818763288579,
        0.637809928746866, 0.64879179151124, 0.659763532277455, 0.670724313238158,
        0.681673275977461, 0.69260953976485, 0.703532198998115, 0.714440320709232, 0.7253329427566,
        0.736209070268074, 0.747067673273534, 0.757907683387962, 0.768727990118508,
        0.779527437511824, 0.790304819670422, 0.801058876848516, 0.811788291341347,
        0.822491682009897, 0.833167598863766, 0.843814516331119, 0.854430826492352,
        0.865014827496966, 0.875564711270117, 0.886078545178726, 0.896554248591146,
        0.906989563177818, 0.917382017072092, 0.927728882433949, 0.938027127885478,
        0.948273367789249, 0.958463804726293, 0.968594123009625, 0.978659236629975,
        0.988652874411778, 0.998567274571791, 1.00782136180432, 1.0168743151062, 1.02575468442313,
        1.03446985503538, 1.0430201754578, 1.0514022502167, 1.05961004581446, 1.06763517933202,
        1.07546680340397, 1.08309117332148, 1.09049081386828, 1.09764304116201, 1.10451731060928,
        1.11107016840556, 1.11723453593312, 1.12289227772137, 1.1277735924762,
    ),
    ('gelu', 'tanh', 8): (
        -0.128456326872204, -0.126308831190418, -0.123821927403282, -0.121115691179858,
        -0.118243377960805, -0.115235661951815, -0.11211268264511, -0.108888757322086,
        -0.105574623888602, -0.102178651310332, -0.0987075530896103, -0.0951668362594552,
        -0.0915610985668388, -0.0878942331981767, -0.0841695744270434, -0.0803900039723064,
        -0.0765580303129482, -0.0726758488095375, -0.068745387806971, -0.064768344199474,
        -0.0607462108224797, -0.0566802972649996, -0.052571745127986, -0.0484215382927458,
        -0.0442305083309475, -0.0399993347015243, -0.035728538722251, -0.0314184692659414,
        -0.0270692762831591, -0.0226808646054711, -0.0182528124885726, -0.0137842194993625,
        -0.00927339003183223, -0.00471703854973828, -0.000107419773056814, 0.00483150366585551,
        0.00978941681413136, 0.0147656088853694, 0.0197594107771197, 0.0247701914339119,
        0.029797354619483, 0.0348403360421383, 0.0398986007861768, 0.0449716410096429,
        0.0500589738747195, 0.0551601396820244, 0.0602747001842925, 0.0654022370583375,
        0.070542350517103, 0.0756946580461113, 0.0808587932505775, 0.0860344048013733,
        0.0912211554694084, 0.0964187212392986, 0.101626790494353, 0.106845063265803,
        0.112073250540031, 0.117311073618278, 0.122558263523963, 0.12781456045316,
        0.133079713264419, 0.138353479004454, 0.143635622466464, 0.148925915778459,
        0.154224138018905, 0.159530074857556, 0.164843518219319, 0.170164265969376,
        0.175492121617839, 0.180826894042418, 0.186168397227783, 0.191516450020255,
        0.196870875896761, 0.202231502746982, 0.207598162667716, 0.212970691768642,
        0.218348929988568, 0.223732720921594, 0.229121911652278, 0.234516352599508,
        0.239915897368106, 0.245320402608034, 0.250729727880397, 0.256143735530017,
        0.261562290563989, 0.266985260535925, 0.272412515435568, 0.277843927583274,
        0.283279371529273, 0.288718723957236, 0.294161863592017, 0.299608671111147,
        0.305059029060101, 0.310512821770847, 0.315969935283656, 0.321430257271934,
        0.326893676969852, 0.332360085102709, 0.337829373819689, 0.343301436629076,
        0.348776168335703, 0.354253464980369, 0.359733223781374, 0.365215343077728,
        0.37069972227428, 0.376186261788322, 0.381674862997828, 0.387165428191082,
        0.392657860517654, 0.39815206394066, 0.403647943190188, 0.409145403717738,
        0.414644351651927, 0.42014469375488, 0.425646337379638, 0.431149190428412,
        0.436653161311528, 0.442158158907115, 0.447664092521385, 0.45317087184953,
        0.458678406937125, 0.464186608142014, 0.469695386096638, 0.475204651670671,
        0.480714315933932, 0.486224290119714, 0.491734485588244, 0.497244813790226,
        0.502755186230632, 0.508265514432602, 0.513775709901075, 0.519285684086822,
        0.524795348350052, 0.530304613924042, 0.535813391878682, 0.541321593083575,
        0.546829128171153, 0.552335907499247, 0.557841841113464, 0.563346838709013,
        0.568850809592091, 0.574353662640832, 0.579855306265545, 0.585355648368427,
        0.590854596302585, 0.596352056830101, 0.601847936079576, 0.607342139502519,
        0.612834571828968, 0.618325137022099, 0.623813738231489, 0.629300277745396,
        0.634784656941814, 0.640266776238077, 0.645746535038981, 0.651223831683525,
        0.65669856338997, 0.662170626199241, 0.667639914916029, 0.673106323048765,
        0.678569742746563, 0.684030064734704, 0.68948717824736, 0.694940970957921,
        0.700391328906742, 0.70583813642569, 0.711281276060299, 0.716720628488123,
        0.722156072433917, 0.72758748458152, 0.733014739481016, 0.73843770945282,
        0.743856264486658, 0.749270272136108, 0.754679597408333, 0.760084102648162,
        0.765483647416637, 0.770878088363702, 0.776267279094247, 0.781651070027163, 0.787029308247,
        0.792401837347763, 0.797768497268352, 0.803129124118377, 0.808483549994758,
        0.813831602787001, 0.819173105972137, 0.824507878396608, 0.829835734044931,
        0.835156481794794, 0.840469925156387, 0.845775861994917, 0.851074084235272,
        0.856364377547057, 0.86164652100896, 0.866920286748819, 0.872185439559917,
        0.877441736488982, 0.882688926394584, 0.887926749472709, 0.893154936746842,
        0.898373209518156, 0.903581278773141, 0.908778844542919, 0.91396559521095,
        0.91914120676163, 0.924305341966063, 0.929457649495026, 0.934597762953791,
        0.939725299827722, 0.944839860330039, 0.949941026137259, 0.955028359002283,
        0.960101399225733, 0.9651596639698, 0.970202645392425, 0.975229808577962,
        0.980240589234687, 0.985234391126323, 0.990210583197504, 0.995168496345628,
        1.0001074197845, 1.00471703856085, 1.00927339004245, 1.01378421950944, 1.01825281249828,
        1.02268086461488, 1.02706927629223, 1.03141846927462, 1.03572853873057, 1.03999933470943,
        1.04423050833843, 1.04842153829974, 1.05257174513445, 1.05668029727105, 1.06074621082808,
        1.06476834420469, 1.06874538781183, 1.07267584881404, 1.07655803031713, 1.08039000397618,
        1.08416957443062, 1.08789423320143, 1.09156109856983, 1.09516683626221, 1.09870755309207,
        1.10217865131257, 1.10557462389064, 1.10888875732383, 1.11211268264657, 1.11523566195303,
        1.11824337796179, 1.12111569118059, 1.12382192740376, 1.12630883119064, 1.12845632687225,
    ),
    ('silu', 'none', 1): (
        0.187880168367372, 0.812119831632629,
    ),
    ('silu', 'none', 2): (
        0.0335946697176214, 0.344526354837556, 0.655473645162447, 0.966405330282382,
    ),
    ('silu', 'none', 3): (
        -0.0406812661954749, 0.113605077132699, 0.268156706660994, 0.422718873069325,
        0.577281126930686, 0.731843293339014, 0.886394922867308, 1.04068126619548,
    ),
    ('silu', 'none', 4): (
        -0.0745809567720091, 0.00135449008242774, 0.0779541619156825, 0.154666584291408,
        0.231403112320852, 0.308144522906509, 0.384886679395034, 0.461628892928464,
        0.538371107071579, 0.615113320605003, 0.691855477093519, 0.768596887679171,
        0.845333415708615, 0.922045838084337, 0.998645509917589, 1.07458095677202,
    ),
    ('silu', 'none', 5): (
        -0.0890812430561546, -0.0524491347986626, -0.0146923720072404, 0.0232977839100151,
        0.0613749415319424, 0.0994895441623328, 0.137621280767311, 0.175761034005966,
        0.213904517402352, 0.252049684656924, 0.290195569799857, 0.328341734250889,
        0.366487993021329, 0.404634277225749, 0.442780566095508, 0.480926855363743,
        0.519073144636475, 0.557219433904708, 0.595365722774455, 0.633512006978865,
        0.671658265749291, 0.709804430200305, 0.747950315343228, 0.786095482597793,
        0.824238965994182, 0.862378719232828, 0.900510455837792, 0.938625058468167,
        0.976702216090082, 1.01469237200732, 1.05244913479871, 1.08908124305617,
    ),
    ('silu', 'none', 6): (
        -0.095215881214373, -0.0781597538282555, -0.0598757049307216, -0.0412044479673649,
        -0.0223841078066574, -0.00349259815993345, 0.0154400683131044, 0.0343983208889505,
        0.0533730520609934, 0.0723586586090396, 0.0913515646603623, 0.110349425461044,
        0.129350672321973, 0.148354240277038, 0.167359398918361, 0.186365644077239,
        0.205372626705221, 0.224380105201162, 0.24338791290358, 0.262395935613046,
        0.281404095877191, 0.300412341912036, 0.319420639748325, 0.338428967649417,
        0.35743731214645, 0.376445665235263, 0.395454022413754, 0.414462381330073,
        0.433470740875486, 0.452479100599819, 0.471487460358263, 0.490495820119695,
        0.509504179881157, 0.528512539642586, 0.547520899401025, 0.566529259125352,
        0.58553761867075, 0.604545977587043, 0.623554334765507, 0.642562687854291,
        0.661571032351299, 0.680579360252364, 0.699587658088612, 0.718595904123422,
        0.737604064387549, 0.756612087097001, 0.775619894799399, 0.794627373295338,
        0.81363435592332, 0.832640601082193, 0.851645759723505, 0.870649327678562,
        0.889650574539462, 0.908648435340106, 0.927641341391382, 0.946626947939394,
        0.965601679111421, 0.984559931687255, 1.00349259816027, 1.02238410780695, 1.0412044479676,
        1.05987570493091, 1.07815975382839, 1.0952158812144,
    ),
    ('silu', 'none', 7): (
        -0.0978393689292069, -0.0901370317146428, -0.0815893776544355, -0.0726561872867962,
        -0.0635186314340631, -0.0542646606116605, -0.0449411130299386, -0.0355740971567274,
        -0.026178496901803, -0.0167629519789204, -0.00733268298376497, 0.00210887840551199,
        0.0115592615062539, 0.0210166151219, 0.0304795279765952, 0.0399469089343433,
        0.0494179042544738, 0.0588918391010395, 0.0683681753647094, 0.0778464807134942,
        0.0873264055319492, 0.0968076655029548, 0.106290028290911, 0.115773303249354,
        0.125257333387893, 0.134741989046893, 0.144227162876801, 0.153712765823979,
        0.163198723899957, 0.172684975565502, 0.182171469600878, 0.191658163363211,
        0.201145021354122, 0.210632014037516, 0.220119116860154, 0.229606309437553,
        0.239093574875172, 0.248580899200986, 0.258068270890003, 0.267555680465045,
        0.277043120160995, 0.286530583642095, 0.296018065763596, 0.305505562370753,
        0.314993070129272, 0.324480586382271, 0.333968109029772, 0.34345563642721,
        0.352943167300179, 0.362430700672987, 0.371918235808909, 0.381405772160565,
        0.390893309328761, 0.400380847028729, 0.409868385062537, 0.419355923296862,
        0.428843461645264, 0.438331000054289, 0.447818538492842, 0.45730607694418,
        0.466793615400213, 0.476281153857605, 0.485768692315249, 0.495256230772926,
        0.504743769230578, 0.514231307688249, 0.523718846145883, 0.533206384603262,
        0.542693923059287, 0.55218146151059, 0.561668999949133, 0.571156538358116,
        0.580644076706478, 0.590131614940757, 0.599619152974513, 0.609106690674424,
        0.618594227842567, 0.628081764194173, 0.637569299330038, 0.647056832702786,
        0.656544363575689, 0.666031890973083, 0.675519413620521, 0.685006929873467,
        0.694494437631914, 0.703981934239008, 0.713469416360433, 0.722956879841495,
        0.732444319537409, 0.741931729112397, 0.751419100801392, 0.760906425127172,
        0.77039369056476, 0.779880883142141, 0.789367985964771, 0.798854978648163,
        0.808341836639078, 0.817828530401398, 0.827315024436776, 0.836801276102298,
        0.846287234178262, 0.855772837125422, 0.865258010955313, 0.874742666614267,
        0.88422669675276, 0.893709971711127, 0.90319233449901, 0.912673594469932,
        0.922153519288337, 0.931631824637045, 0.941108160900653, 0.950582095747139,
        0.960053091067236, 0.969520472024954, 0.978983384879618, 0.98844073849524,
        0.997891121595913, 1.00733268298513, 1.01676295198018, 1.02617849690296, 1.03557409715772,
        1.04494111303083, 1.05426466061242, 1.06351863143473, 1.07265618728736, 1.08158937765482,
        1.09013703171483, 1.09783936892925,
    ),
    ('silu', 'none', 8): (
        -0.0989713117334212, -0.0955580540995823, -0.0916876624539863, -0.0875664498403904,
        -0.0832852211821332, -0.0788945514134519, -0.0744259405416004, -0.0699003230471035,
        -0.0653322060957025, -0.0607319347922293, -0.056107036651644, -0.0514630680859541,
        -0.0468041721011079, -0.0421334593838906, -0.0374532767693802, -0.0327654013935494,
        -0.0280711843281179, -0.0233716588775415, -0.0186676233509902, -0.0139597046173829,
        -0.00924840636685437, -0.00453414439475514, 0.000182729573480299, 0.00490191348482028,
        0.00962314617538453, 0.0143462008088082, 0.0190708795553433, 0.0237970092336317,
        0.0285244377158008, 0.0332530309428751, 0.0379826704319581, 0.0427132511824913,
        0.0474446799085493, 0.0521768735391345, 0.0569097579400679, 0.0616432668200911,
        0.066377340790883, 0.0711119265563086, 0.0758469762106548, 0.0805824466291671,
        0.0853182989370925, 0.0900544980457288, 0.0947910122458783, 0.0995278128506622,
        0.104264873880889, 0.109002171787253, 0.113739685204486, 0.118477394733317,
        0.12321528274667, 0.12795333321711, 0.132691531562877, 0.137429864510272,
        0.142168319970466, 0.146906886929003, 0.151645555346582, 0.156384316069781,
        0.161123160750659, 0.165862081774232, 0.170601072192961, 0.175340125667529,
        0.180079236413199, 0.184818399151224, 0.189557609064724, 0.194296861758639,
        0.199036153223308, 0.203775479801318, 0.208514838157338, 0.213254225250573,
        0.217993638309703, 0.222733074809926, 0.227472532452041, 0.232212009143313,
        0.236951502979924, 0.241691012231023, 0.246430535323965, 0.251170070830929,
        0.255909617456548, 0.26064917402663, 0.265388739477781, 0.27012831284791,
        0.274867893267443, 0.27960747995136, 0.284347072191801, 0.289086669351311,
        0.293826270856633, 0.298565876192974, 0.30330548489879, 0.308045096560982,
        0.312784710810429, 0.31752432731798, 0.322263945790686, 0.327003565968413,
        0.331743187620671, 0.336482810543761, 0.341222434558116, 0.345962059505928,
        0.350701685248886, 0.355441311666168, 0.360180938652625, 0.364920566117058,
        0.369660193980698, 0.374399822175819, 0.379139450644427, 0.38387907933717,
        0.388618708212214, 0.393358337234369, 0.398097966374183, 0.402837595607218,
        0.407577224913318, 0.412316854276036, 0.41705648368207, 0.421796113120757,
        0.426535742583667, 0.431275372064245, 0.436015001557421, 0.440754631059397,
        0.445494260567333, 0.450233890079208, 0.454973519593557, 0.459713149109418,
        0.464452778626141, 0.469192408143316, 0.473932037660706, 0.4786716671782,
        0.483411296695723, 0.488150926213276, 0.492890555730827, 0.497630185248374,
        0.502369814765872, 0.5071094442834, 0.511849073800945, 0.516588703318456,
        0.521328332835953, 0.526067962353404, 0.530807591870796, 0.535547221387913,
        0.540286850904583, 0.545026480420417, 0.54976610993475, 0.55450573944657, 0.5592453689545,
        0.563984998456435, 0.568724627949574, 0.573464257430067, 0.57820388689291,
        0.582943516331505, 0.587683145737465, 0.592422775100098, 0.597162404406061,
        0.601902033638982, 0.606641662778691, 0.611381291800719, 0.616120920675671,
        0.620860549368299, 0.625600177836829, 0.630339806031828, 0.635079433895362,
        0.639819061359681, 0.644558688346015, 0.649298314763214, 0.654037940506059,
        0.658777565453725, 0.663517189467994, 0.668256812390953, 0.672996434043096,
        0.677736054220741, 0.682475672693337, 0.687215289200796, 0.691954903450082,
        0.696694515112118, 0.701434123817809, 0.706173729154045, 0.710913330659212,
        0.715652927818635, 0.720392520058988, 0.725132106742798, 0.729871687162234,
        0.734611260532302, 0.739350825983331, 0.744090382553372, 0.748829929178942,
        0.753569464685852, 0.758308987778744, 0.76304849702978, 0.767787990866354,
        0.772527467557547, 0.777266925199598, 0.782006361699824, 0.786745774758893,
        0.791485161852106, 0.796224520208133, 0.800963846786125, 0.805703138250804,
        0.810442390944698, 0.81518160085823, 0.81992076359624, 0.824659874341912,
        0.829398927816463, 0.834137918235175, 0.8388768392587, 0.84361568393955, 0.84835444466267,
        0.853093113080196, 0.857831680038677, 0.862570135498824, 0.867308468446121,
        0.872046666791797, 0.876784717262113, 0.881522605275393, 0.88626031480412,
        0.890997828221244, 0.895735126127419, 0.900472187157505, 0.905208987762117,
        0.909945501962066, 0.914681701070568, 0.919417553378339, 0.924153023796695,
        0.928888073450927, 0.933622659216208, 0.938356733186874, 0.943090242066774,
        0.947823126467564, 0.95255532009807, 0.957286748824075, 0.962017329574541,
        0.966746969063533, 0.971475562290551, 0.976202990772697, 0.980929120450925,
        0.985653799197341, 0.990376853830637, 0.99509808652109, 0.999817270432262,
        1.00453414440023, 1.00924840637213, 1.0139597046225, 1.01866762335593, 1.0233716588822,
        1.02807118433267, 1.03276540139783, 1.03745327677343, 1.04213345938771, 1.04680417210464,
        1.05146306808927, 1.05610703665467, 1.06073193479506, 1.06533220609835, 1.06990032304954,
        1.07442594054381, 1.07889455141528, 1.08328522118361, 1.08756644984147, 1.09168766245469,
        1.09555805409998, 1.09897131173351,
    ),
    ('mish', 'none', 1): (
        0.177016419194253, 0.892739779749908,
    ),
    ('mish', 'none', 2): (
        0.0116667713848855, 0.347420696787043, 0.688661112824852, 1.01314177778161,
    ),
    ('mish', 'none', 3): (
        -0.0604896787080961, 0.0966996161665918, 0.259421176748499, 0.424567648151552,
        0.590049735629753, 0.753556294689018, 0.911609077822412, 1.05651189859868,
    ),
    ('mish', 'none', 4): (
        -0.0905779519118479, -0.0158588972724383, 0.0620009888580611, 0.141480106940719,
        0.222023003870238, 0.303287317684035, 0.385002676704822, 0.466921181257062,
        0.548791324159357, 0.630337284719133, 0.711235092532779, 0.79107679420976,
        0.869305349282746, 0.945073209283094, 1.01685191507228, 1.07463199306734,
    ),
    ('mish', 'none', 5): (
        -0.103158183489709, -0.0685325999462142, -0.0314420775663585, 0.00657757292592703,
        0.0451869623193654, 0.0842356065217333, 0.123632106757486, 0.163312635849563,
        0.203228022576473, 0.243337537680202, 0.283605527539709, 0.323999403653075,
        0.364488330440854, 0.405042289959908, 0.44563135108072, 0.48622504105315, 0.52679175123748,
        0.567298123592767, 0.60770836756542, 0.647983450607415, 0.688080088707251,
        0.727949431651277, 0.767535281505175, 0.806771581849601, 0.845578726713446,
        0.883857864798638, 0.921481577210888, 0.958277427935767, 0.99399583825064,
        1.02778110955927, 1.05743950020753, 1.08236485530783,
    ),
    ('mish', 'none', 6): (
        -0.108477997664024, -0.0928617225973384, -0.0755293731750754, -0.0574250031604019,
        -0.0389060487179828, -0.0201262428025086, -0.00115380550609876, 0.0179754825985471,
        0.0372375141593901, 0.056614567227034, 0.0760929669830128, 0.095661739579887,
        0.115311788061994, 0.135035362379156, 0.154825704292745, 0.174676801029019,
        0.194583209118552, 0.214539924983956, 0.234542287510184, 0.254585902999428,
        0.274666586096045, 0.294780312285641, 0.314923178885299, 0.335091372314736,
        0.355281140029396, 0.375488765903196, 0.39571054813171, 0.41594277892484,
        0.436181725396715, 0.456423611156372, 0.476664598166452, 0.496900768476131,
        0.517128105453051, 0.53734247413976, 0.557539600344376, 0.577715048042198,
        0.597864194613554, 0.617982203370185, 0.638063992723205, 0.658104201213333,
        0.678097147448871, 0.698036783764624, 0.717916642106345, 0.737729770230221,
        0.757468655745862, 0.777125134760232, 0.796690280808044, 0.816154268237971,
        0.83550620204234, 0.85473390291312, 0.87382363149245, 0.892759728364417, 0.911524134555942,
        0.930095737980958, 0.948449458265989, 0.96655492343774, 0.98437448066699, 1.00186005869055,
        1.01863414048914, 1.03437915927717, 1.04912170649891, 1.06280248674781, 1.07522650548627,
        1.08585754879571,
    ),
    ('mish', 'none', 7): (
        -0.110770865736833, -0.10386213812794, -0.096022977240451, -0.0876739574110396,
        -0.0790016474710366, -0.0701099067763142, -0.061062492350635, -0.0519004123875164,
        -0.0426505851074342, -0.0333307836288193, -0.0239527639791394, -0.0145244100101998,
        -0.00505126871113757, 0.00446241244363633, 0.014013150402851, 0.0235980149768013,
        0.0332145040168268, 0.0428604526433578, 0.0525339656871647, 0.0622333664911364,
        0.071957157483826, 0.0817039893798417, 0.0914726368067601, 0.101261978790446,
        0.111070982962456, 0.120898692653643, 0.130744216250588, 0.140606718344071,
        0.150485412309947, 0.160379554044777, 0.170288436639677, 0.180211385822048,
        0.190147756029978, 0.200096927011161, 0.210058300859159, 0.220031299416276,
        0.230015361985177, 0.240009943301769, 0.250014511729961, 0.260028547645609,
        0.270051541982218, 0.2800829949154, 0.290122414666497, 0.300169316408899,
        0.310223221262829, 0.320283655366354, 0.330350149012176, 0.340422235841033,
        0.35049945208366, 0.360581335844362, 0.370667426419882, 0.380757263648065,
        0.390850387281385, 0.400946336380735, 0.411044648725449, 0.421144860235688,
        0.431246504403833, 0.441349111731358, 0.451452209168277, 0.461555319551949,
        0.47165796104244, 0.481759646551594, 0.491859883162783, 0.501958171538738,
        0.512054005314303, 0.522146870471244, 0.532236244691972, 0.542321596688993,
        0.552402385506609, 0.562478059791226, 0.572548057026443, 0.582611802728665,
        0.59266870959876, 0.602718176624784, 0.612759588130354, 0.62279231276269,
        0.632815702413934, 0.642829091068054, 0.652831793565811, 0.662823104278391,
        0.672802295679443, 0.68276861680456, 0.692721291585101, 0.70265951704188,
        0.712582461322456, 0.722489261562986, 0.732379021553472, 0.742250809181958,
        0.752103653629157, 0.761936542281271, 0.771748417323192, 0.781538171968141,
        0.791304646272642, 0.801046622476618, 0.810762819798026, 0.820451888597747,
        0.830112403815486, 0.83974285755719, 0.849341650690275, 0.858907083273287,
        0.868437343608121, 0.87793049565577, 0.887384464495115, 0.896797019425849,
        0.906165754214656, 0.915488063850981, 0.924761117000286, 0.933981823105036,
        0.943146792760747, 0.952252289546556, 0.961294170863376, 0.970267814439961,
        0.979168025864398, 0.987988920567379, 0.996723770735201, 1.00536361028257,
        1.01375830279864, 1.02189294915688, 1.02977399276835, 1.03740552130606, 1.0447866427659,
        1.05191070972672, 1.05876424865346, 1.06532479564885, 1.07155646213646, 1.07740018638768,
        1.08274833797853, 1.0873507263981,
    ),
    ('mish', 'none', 8): (
        -0.111763463959772, -0.108734368108727, -0.105259318514147, -0.10151642718485,
        -0.097586263196778, -0.0935157921932367, -0.0893359737673705, -0.0850687296911748,
        -0.0807303072481367, -0.0763331237636661, -0.0718868736746789, -0.0673992393621575,
        -0.0628763722127626, -0.058323232271466, -0.0537438366356904, -0.0491414466531215,
        -0.0445187127810987, -0.03987778939174, -0.0352204277680112, -0.0305480529361103,
        -0.025861828213408, -0.0211627100656955, -0.0164514948473449, -0.0117288581178256,
        -0.00699538645519135, -0.002251601164697, 0.00250202645438116, 0.00726506663587819,
        0.0120371257101647, 0.0168178416630937, 0.0216068803704271, 0.0264039323861708,
        0.0312087101886503, 0.0360209458072258, 0.0408403887674135, 0.0456668043038243,
        0.0504999717995281, 0.055339683417803, 0.0601857428980879, 0.0650379644926863,
        0.069896172024652, 0.07476019805036, 0.0796298831128996, 0.0845050750745078,
        0.0893856285180358, 0.0942714042088733, 0.0991622686100365, 0.104058093444075,
        0.108958755296372, 0.113864135255118, 0.118774118583872, 0.123688594423119,
        0.12860745551774, 0.133530597967634, 0.138457920999113, 0.143389326754953,
        0.148324720101237, 0.153264008449343, 0.158207101591604, 0.163153911549369,
        0.168104352432279, 0.173058340307735, 0.17801579307965, 0.182976630375623,
        0.187940773441859, 0.192908145045066, 0.197878669380851, 0.202852271987956,
        0.207828879667927, 0.212808420409758, 0.217790823319059, 0.222776018551441,
        0.22776393724976, 0.23275451148494, 0.23774767420006, 0.24274335915746, 0.247741500888722,
        0.252742034647144, 0.257744896362724, 0.262750022599297, 0.267757350513733,
        0.272766817817104, 0.277778362737559, 0.28279192398487, 0.287807440716531,
        0.292824852505226, 0.297844099307679, 0.302865121434631, 0.307887859522079,
        0.312912254503426, 0.317938247582748, 0.322965780208875, 0.327994794050361,
        0.333025230971214, 0.338057033007319, 0.343090142343664, 0.348124501291958,
        0.353160052269069, 0.358196737775752, 0.363234500376068, 0.368273282677052,
        0.373313027308956, 0.378353676905731, 0.383395174085918, 0.388437461433761,
        0.3934804814807, 0.398524176686934, 0.4035684894234, 0.408613361953694, 0.413658736416369,
        0.418704554807193, 0.423750758961568, 0.428797290537075, 0.433844090995945,
        0.438891101587651, 0.443938263331498, 0.448985516999133, 0.454032803097068,
        0.459080061849138, 0.464127233178795, 0.469174256691452, 0.474221071656464,
        0.479267616989143, 0.484313831232609, 0.489359652539229, 0.494405018652075,
        0.49944986688598, 0.504494134108464, 0.509537756720166, 0.514580670635215,
        0.519622811261044, 0.524664113477939, 0.529704511618238, 0.534743939444931,
        0.539782330130143, 0.544819616232718, 0.54985572967573, 0.554890601723103,
        0.559924162955955, 0.564956343248095, 0.569987071741132, 0.575016276818654,
        0.580043886080044, 0.585069826313159, 0.590094023466635, 0.595116402620958,
        0.600136887959104, 0.605155402735792, 0.610171869246319, 0.615186208793919,
        0.620198341656172, 0.625208187050563, 0.630215663098445, 0.635220686788174,
        0.640223173936507, 0.645223039148975, 0.650220195778668, 0.655214555883518,
        0.660206030181812, 0.665194528006277, 0.670179957256213, 0.675162224347544,
        0.680141234161381, 0.685116889989973, 0.690089093480602, 0.695057744577252,
        0.700022741459604, 0.704983980479411, 0.7099413560942, 0.714894760797925,
        0.719844085048349, 0.724789217191602, 0.729730043382535, 0.734666447501737,
        0.739598311068619, 0.744525513149996, 0.749447930264411, 0.754365436281542,
        0.759277902316564, 0.764185196618908, 0.769087184455627, 0.773983727988008,
        0.778874686142052, 0.783759914471371, 0.788639265013084, 0.793512586135085,
        0.798379722374654, 0.803240514268084, 0.808094798169567, 0.812942406059962,
        0.817783165343265, 0.822616898630794, 0.827443423511821, 0.832262552309313,
        0.83707409181987, 0.841877843036309, 0.846673600851643, 0.851461153742919,
        0.85624028343216, 0.861010764524447, 0.865772364118185, 0.870524841388066,
        0.875267947135335, 0.880001423304433, 0.884725002460917, 0.889438407228122,
        0.894141349677726, 0.898833530668963, 0.903514639131919, 0.908184351288413,
        0.912842329802692, 0.917488222855274, 0.922121663129842, 0.926742266703105,
        0.931349631825832, 0.93594333758113, 0.940522942403796, 0.945087982443033,
        0.949637969745799, 0.954172390237246, 0.958690701467141, 0.963192330088644,
        0.967676669027314, 0.972143074292185, 0.97659086136892, 0.981019301125107,
        0.985427615141744, 0.989814970365784, 0.994180472956096, 0.998523161163599,
        1.00284166061697, 1.00710510349654, 1.01130443406165, 1.01543857319542, 1.01950807816146,
        1.02351382324942, 1.0274565913659, 1.03133692664458, 1.03515507587236, 1.03891096083144,
        1.0426041587794, 1.04623388061742, 1.04979894072481, 1.0532977136096, 1.05672807194235,
        1.06008729851524, 1.06337196080306, 1.06657772991159, 1.06969911314827, 1.07272904540054,
        1.07565823510185, 1.07847404950484, 1.08115844302186, 1.08368359572138, 1.08600074818489,
        1.08799915230123,
    ),
}
_ERRORS: dict[tuple[str, str, int], tuple[float, float]] = {
    ('gelu', 'none', 1): (3.844310e-02, 0.956905105),
    ('gelu', 'none', 2): (8.001143e-03, 0.991185095),
    ('gelu', 'none', 3): (1.901981e-03, 0.997911632),
    ('gelu', 'none', 4): (4.620873e-04, 0.999493031),
    ('gelu', 'none', 5): (1.137738e-04, 0.999875199),
    ('gelu', 'none', 6): (2.820198e-05, 0.999969066),
    ('gelu', 'none', 7): (7.033124e-06, 0.999992286),
    ('gelu', 'none', 8): (1.754562e-06, 0.999998076),
    ('gelu', 'tanh', 1): (3.844798e-02, 0.956896312),
    ('gelu', 'tanh', 2): (8.009703e-03, 0.991174981),
    ('gelu', 'tanh', 3): (1.903227e-03, 0.997910110),
    ('gelu', 'tanh', 4): (4.623781e-04, 0.999492675),
    ('gelu', 'tanh', 5): (1.138284e-04, 0.999875130),
    ('gelu', 'tanh', 6): (2.821469e-05, 0.999969050),
    ('gelu', 'tanh', 7): (7.036739e-06, 0.999992281),
    ('gelu', 'tanh', 8): (1.755489e-06, 0.999998074),
    ('silu', 'none', 1): (3.206356e-02, 0.956821355),
    ('silu', 'none', 2): (7.895327e-03, 0.989542561),
    ('silu', 'none', 3): (1.936549e-03, 0.997445170),
    ('silu', 'none', 4): (4.752410e-04, 0.999373634),
    ('silu', 'none', 5): (1.173065e-04, 0.999845427),
    ('silu', 'none', 6): (2.912415e-05, 0.999961626),
    ('silu', 'none', 7): (7.255573e-06, 0.999990440),
    ('silu', 'none', 8): (1.810742e-06, 0.999997614),
    ('mish', 'none', 1): (3.404091e-02, 0.963818344),
    ('mish', 'none', 2): (7.675295e-03, 0.991957267),
    ('mish', 'none', 3): (1.806610e-03, 0.998112735),
    ('mish', 'none', 4): (4.415282e-04, 0.999539089),
    ('mish', 'none', 5): (1.088522e-04, 0.999886389),
    ('mish', 'none', 6): (2.702617e-05, 0.999971794),
    ('mish', 'none', 7): (6.733085e-06, 0.999992973),
    ('mish', 'none', 8): (1.680412e-06, 0.999998246),
}


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
