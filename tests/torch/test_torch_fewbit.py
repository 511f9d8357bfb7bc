"""The k-bit derivative codebooks: validation, structure, and optimality checked independently.

References here never come from relukit: f' is written out in closed form (and checked against
torch autograd in float64), integrals use scipy.integrate.quad, and the global optimum is
re-derived by dynamic programming over a discretised f'(X), a different optimiser from the
Lloyd-Max/Newton search (``relukit.torch.fewbit_derive``) that produced the checked-in
tables. ``test_torch_fewbit_tables.py`` re-runs that search and compares.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special

torch = pytest.importorskip("torch")
fewbit = pytest.importorskip("relukit.torch.fewbit")

KINDS = [("gelu", "none"), ("gelu", "tanh"), ("silu", "none"), ("mish", "none")]
ALL = [(n, a, b) for n, a in KINDS for b in range(1, 9)]
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def fprime(name: str, approximate: str, x):
    x = np.asarray(x, dtype=np.float64)
    if name == "gelu" and approximate == "none":
        return special.ndtr(x) + x * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    if name == "gelu":
        u = SQRT_2_OVER_PI * (x + 0.044715 * x**3)
        t = np.tanh(u)
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (
            1.0 + 3.0 * 0.044715 * x * x
        )
    if name == "silu":
        s = special.expit(x)
        return s * (1.0 + x * (1.0 - s))
    sp = np.logaddexp(0.0, x)
    t = np.tanh(sp)
    return t + x * special.expit(x) * (1.0 - t * t)


def phi(x):
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def torch_fn(name, approximate):
    F = torch.nn.functional
    if name == "gelu":
        return lambda t: F.gelu(t, approximate=approximate)
    return getattr(F, name)


@pytest.mark.parametrize("name,approximate", KINDS)
def test_reference_derivative_matches_torch_autograd(name, approximate):
    x = torch.linspace(-12, 12, 4001, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(torch_fn(name, approximate)(x).sum(), x)
    np.testing.assert_allclose(fprime(name, approximate, x.detach().numpy()), g.numpy(),
                               rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize("bits", [0, 9, -1, 16])
def test_bits_out_of_range_is_a_value_error_naming_bits(bits):
    with pytest.raises(ValueError, match=r"bits=.*1\.\.8"):
        fewbit.get_codebook("gelu", bits)


@pytest.mark.parametrize("bits", [2.0, "4", True, None])
def test_bits_of_wrong_type_is_a_type_error_naming_bits(bits):
    with pytest.raises(TypeError, match="bits"):
        fewbit.get_codebook("gelu", bits)


@pytest.mark.parametrize("name", ["relu", "elu", "nonsense", ""])
def test_unknown_or_unsupported_name_is_a_value_error_naming_name(name):
    with pytest.raises(ValueError, match=r"name=.*gelu, silu, mish"):
        fewbit.get_codebook(name, 4)


def test_name_of_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="name"):
        fewbit.get_codebook(3, 4)


@pytest.mark.parametrize("name,approximate", [("silu", "tanh"), ("gelu", "fast"),
                                              ("mish", None)])
def test_bad_approximate_is_a_value_error_naming_it(name, approximate):
    with pytest.raises(ValueError, match="approximate="):
        fewbit.get_codebook(name, 4, approximate)


def test_catalogue_aliases_and_numpy_ints_are_accepted():
    assert fewbit.get_codebook("swish", np.int64(3)) is fewbit.get_codebook("silu", 3)
    assert fewbit.get_codebook("GELU", 2).name == "gelu"


# ----------------------------------------------------------------------------- structure


@pytest.mark.parametrize("name,approximate,bits", ALL)
def test_codebook_structure(name, approximate, bits):
    cb = fewbit.get_codebook(name, bits, approximate)
    b = np.array(cb.boundaries)
    assert (cb.name, cb.approximate, cb.bits) == (name, approximate, bits)
    assert len(cb.levels) == 2**bits
    assert np.all(np.diff(cb.levels) > 0)
    assert np.all(np.diff(b) > 0) and np.all(np.isfinite(b))
    assert len(cb.interval_codes) == len(b) + 1
    codes = np.array(cb.interval_codes)
    assert codes.min() >= 0 and codes.max() < 2**bits
    assert set(codes.tolist()) == set(range(2**bits)), "every level serves some interval"
    # f' is continuous, so it crosses one midpoint at a time: neighbours have adjacent levels.
    assert np.all(np.abs(np.diff(codes)) == 1)
    # f' -> 0 on the far left and -> 1 on the far right.
    assert abs(cb.levels[codes[0]]) < abs(cb.levels[codes[0]] - 1)
    assert abs(cb.levels[codes[-1]] - 1) < abs(cb.levels[codes[-1]])
    with pytest.raises(AttributeError):
        cb.bits = 3


@pytest.mark.parametrize("name,approximate,bits", ALL)
def test_boundaries_sit_where_fprime_crosses_a_midpoint(name, approximate, bits):
    cb = fewbit.get_codebook(name, bits, approximate)
    lv, codes = np.array(cb.levels), np.array(cb.interval_codes)
    mid = 0.5 * (lv[codes[:-1]] + lv[codes[1:]])
    np.testing.assert_allclose(fprime(name, approximate, cb.boundaries), mid, atol=1e-12)


def _x_sets(cb):
    edges = [-np.inf, *cb.boundaries, np.inf]
    return [(edges[i], edges[i + 1], c) for i, c in enumerate(cb.interval_codes)]


def _quad(f, a, b):
    return integrate.quad(f, a, b, epsabs=1e-15, epsrel=1e-12, limit=200)[0]


def _check_against_quadrature(name, approximate, bits, level_atol=1e-9):
    cb = fewbit.get_codebook(name, bits, approximate)
    fp = lambda x: float(fprime(name, approximate, x))  # noqa: E731
    n = 2**bits
    mass, first = np.zeros(n), np.zeros(n)
    sq_err = 0.0
    for a, b, c in _x_sets(cb):
        lv = cb.levels[c]
        mass[c] += _quad(phi, a, b)
        first[c] += _quad(lambda x: fp(x) * phi(x), a, b)
        sq_err += _quad(lambda x, lv=lv: (fp(x) - lv) ** 2 * phi(x), a, b)
    second = _quad(lambda x: fp(x) ** 2 * phi(x), -np.inf, np.inf)
    lv = np.array(cb.levels)
    # Lloyd condition: each level is the conditional mean of f' over its x-set.
    np.testing.assert_allclose(lv, first / mass, rtol=0, atol=level_atol)
    assert cb.expected_sq_error == pytest.approx(sq_err, rel=1e-5)
    cos = np.dot(lv, first) / math.sqrt(second * np.dot(lv * lv, mass))
    assert cb.expected_cosine == pytest.approx(cos, abs=2e-9)


@pytest.mark.parametrize("name,approximate,bits", [k for k in ALL if k[2] <= 6])
def test_levels_error_and_cosine_match_quadrature(name, approximate, bits):
    _check_against_quadrature(name, approximate, bits)


def test_levels_error_and_cosine_match_quadrature_at_8_bits():
    # With 256 levels the error surface is so flat (a Newton Jacobian with condition ~1e5)
    # that the search stopped 2e-7 from the exact fixed point: that costs < 1e-13 in mse.
    _check_against_quadrature("gelu", "none", 8, level_atol=3e-7)


# ----------------------------------------------------------------------------- optimality


def _dp_quantiser(y, n_levels):
    """Globally optimal 1-D k-means of equally weighted sorted samples (O(K n^2) DP)."""
    y = np.sort(y)
    n = y.size
    s1 = np.concatenate([[0.0], np.cumsum(y)])
    s2 = np.concatenate([[0.0], np.cumsum(y * y)])
    i = np.arange(n)[:, None]  # cluster start
    j = np.arange(1, n + 1)[None, :]  # cluster end (exclusive)
    cnt = np.where(j > i, j - i, 1)
    cost = np.where(j > i, s2[j] - s2[i] - (s1[j] - s1[i]) ** 2 / cnt, np.inf)
    # best[m]: least cost of the first m points in the clusters so far (m = 0 is not allowed)
    best = np.concatenate([[np.inf], cost[0]])
    back = []
    for _ in range(n_levels - 1):
        total = best[:n, None] + cost  # [start, end - 1]
        arg = np.argmin(total, axis=0)
        back.append(arg)
        best = np.concatenate([[np.inf], total[arg, np.arange(n)]])
    cuts, end = [], n
    for arg in reversed(back):
        start = int(arg[end - 1])
        cuts.append(start)
        end = start
    cuts = [0, *reversed(cuts), n]
    return np.array([y[a:b].mean() for a, b in zip(cuts[:-1], cuts[1:], strict=True)])


def _nearest_level_mse(name, approximate, levels):
    """E[min_j (f'(X) - l_j)^2], X ~ N(0,1), by a fine composite Simpson rule on [-12, 12]."""
    x = np.linspace(-12.0, 12.0, 480001)
    y = fprime(name, approximate, x)
    lv = np.sort(levels)
    mids = 0.5 * (lv[1:] + lv[:-1])
    q = lv[np.searchsorted(mids, y)]
    return integrate.simpson((y - q) ** 2 * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi), x=x)


@pytest.mark.parametrize(
    "name,approximate,bits",
    [("gelu", "none", b) for b in range(1, 7)] + [(n, a, b) for n, a in KINDS[1:] for b in (2, 4)],
)
def test_table_is_at_least_as_good_as_an_independent_global_optimiser(name, approximate, bits):
    samples = fprime(name, approximate, special.ndtri((np.arange(1500) + 0.5) / 1500))
    dp_levels = _dp_quantiser(samples, 2**bits)
    dp_mse = _nearest_level_mse(name, approximate, dp_levels)
    cb = fewbit.get_codebook(name, bits, approximate)
    table_mse = _nearest_level_mse(name, approximate, np.array(cb.levels))
    assert table_mse <= dp_mse * (1 + 1e-9)
    # ... and the two found the same optimum, up to the DP's discretisation.
    assert dp_mse <= table_mse * 1.05
    np.testing.assert_allclose(dp_levels, cb.levels, atol=0.02)


@pytest.mark.parametrize("name,approximate", KINDS)
def test_error_falls_with_bits_and_cosine_reaches_0999_at_4_bits(name, approximate):
    errors = [fewbit.get_codebook(name, b, approximate).expected_sq_error for b in range(1, 9)]
    assert all(e2 < e1 / 3 for e1, e2 in zip(errors, errors[1:], strict=False))
    for bits in range(4, 9):
        assert fewbit.get_codebook(name, bits, approximate).expected_cosine >= 0.999


def test_docstring_table_is_current():
    derive = pytest.importorskip("relukit.torch.fewbit_derive")
    assert derive.format_doc_table(fewbit._ERRORS) in fewbit.__doc__


# ----------------------------------------------------------------------------- torch interface


@pytest.mark.parametrize("name,approximate,bits", [("gelu", "none", 1), ("gelu", "tanh", 4),
                                                   ("silu", "none", 3), ("mish", "none", 8)])
def test_bucketize_interface_gives_the_nearest_level_of_fprime(name, approximate, bits):
    cb = fewbit.get_codebook(name, bits, approximate)
    x = torch.cat([torch.randn(20000, generator=torch.Generator().manual_seed(0),
                               dtype=torch.float64) * 3,
                   torch.tensor([-1e4, -50.0, 50.0, 1e4], dtype=torch.float64)])
    idx = torch.bucketize(x, torch.tensor(cb.boundaries, dtype=torch.float64))
    code = torch.tensor(cb.interval_codes)[idx]
    q = torch.tensor(cb.levels, dtype=torch.float64)[code].numpy()
    y = fprime(name, approximate, x.numpy())
    lv = np.array(cb.levels)
    dist = np.abs(y[:, None] - lv[None, :])
    nearest = lv[np.argmin(dist, axis=1)]
    clear = np.sort(dist, axis=1)[:, 1] - np.sort(dist, axis=1)[:, 0] > 1e-9
    assert clear.mean() > 0.99
    np.testing.assert_array_equal(q[clear], nearest[clear])
    assert code.max() < 2**bits and code.dtype == torch.int64
