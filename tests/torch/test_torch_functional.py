"""relukit.torch.functional against torch.nn.functional: values and gradients, bit for bit
where the math is the same, at every breakpoint, NaN, +-0, +-inf, in every float dtype."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402

from relukit.torch import functional as F  # noqa: E402

INF, NAN = math.inf, math.nan
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def assert_bitwise(a: torch.Tensor, b: torch.Tensor) -> None:
    """Same dtype, shape and bits, except that any NaN matches any NaN."""
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    nan_a, nan_b = torch.isnan(a), torch.isnan(b)
    assert torch.equal(nan_a, nan_b), (a, b)
    ints = {2: torch.int16, 4: torch.int32, 8: torch.int64}[a.element_size()]
    ia = a.detach().contiguous().view(ints)[~nan_a]
    ib = b.detach().contiguous().view(ints)[~nan_b]
    bad = (ia != ib).nonzero()
    assert bad.numel() == 0, (a[~nan_a][bad[:5, 0]], b[~nan_b][bad[:5, 0]])


def special_values(kinks, dtype) -> torch.Tensor:
    """Every kink, both neighbours of it in ``dtype``, +-0, tiny values, NaN and +-inf."""
    vals = [0.0, -0.0, 1.0, -1.0, 2.5, -3.0, 1e-30, -1e-30, 100.0, -100.0, INF, -INF, NAN]
    t = torch.tensor(vals, dtype=torch.float64).to(dtype)
    extra = []
    for k in kinks:
        k = torch.tensor(k, dtype=dtype)
        extra += [k, torch.nextafter(k, torch.tensor(INF, dtype=dtype)),
                  torch.nextafter(k, torch.tensor(-INF, dtype=dtype))]
    if extra and dtype in (torch.float16, torch.bfloat16):
        # nextafter is not implemented for the half types on CPU: step in float32
        extra = [e.to(dtype) for e in extra]
    return torch.cat([t, torch.stack(extra)]) if extra else t


def random_input(n, dtype, seed=0, scale=4.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, generator=g, dtype=torch.float64) * scale).to(dtype)


def run(fn, x, grad, **kw):
    leaf = x.clone().requires_grad_(True)
    inp = leaf.clone() if kw.pop("nonleaf", False) else leaf
    y = fn(inp, **kw)
    y.backward(grad)
    return y.detach(), leaf.grad


# name, relukit call, torch call, kinks
PIECEWISE = [
    ("relu", lambda x, **k: F.relu(x, **k), lambda x, **k: TF.relu(x, **k), [0.0]),
    ("leaky_relu", lambda x, **k: F.leaky_relu(x, **k), lambda x, **k: TF.leaky_relu(x, **k),
     [0.0]),
    ("leaky_relu_0.2", lambda x, **k: F.leaky_relu(x, 0.2, **k),
     lambda x, **k: TF.leaky_relu(x, 0.2, **k), [0.0]),
    ("leaky_relu_-0.5", lambda x, **k: F.leaky_relu(x, -0.5, **k),
     lambda x, **k: TF.leaky_relu(x, -0.5, **k), [0.0]),
    ("leaky_relu_3", lambda x, **k: F.leaky_relu(x, 3.0, **k),
     lambda x, **k: TF.leaky_relu(x, 3.0, **k), [0.0]),
    ("relu6", lambda x, **k: F.relu6(x, **k), lambda x, **k: TF.relu6(x, **k), [0.0, 6.0]),
    ("hardtanh", lambda x, **k: F.hardtanh(x, **k), lambda x, **k: TF.hardtanh(x, **k),
     [-1.0, 1.0]),
    ("hardtanh_-2_3", lambda x, **k: F.hardtanh(x, -2.0, 3.0, **k),
     lambda x, **k: TF.hardtanh(x, -2.0, 3.0, **k), [-2.0, 3.0]),
    ("rrelu_eval", lambda x, **k: F.rrelu(x, **k), lambda x, **k: TF.rrelu(x, **k), [0.0]),
]
IDS = [p[0] for p in PIECEWISE]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,ours,ref,kinks", PIECEWISE, ids=IDS)
def test_piecewise_bitwise_at_special_values(name, ours, ref, kinks, dtype):
    x = special_values(kinks, dtype)
    grad = random_input(x.numel(), dtype, seed=1)
    y, gx = run(ours, x, grad)
    y_ref, gx_ref = run(ref, x, grad)
    assert_bitwise(y, y_ref)
    if "hardtanh" in name or name == "relu6":
        # torch's hardtanh_backward gives NaN inputs 0 in its vectorised loop and the
        # gradient in its scalar tail: relukit always gives 0, the vectorised answer
        nan = torch.isnan(x)
        assert torch.all(gx[nan] == 0)
        gx, gx_ref = gx[~nan], gx_ref[~nan]
    assert_bitwise(gx, gx_ref)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("lo,hi", [(-0.7, 0.7), (-0.1, 0.3), (-2.3, 1.1), (1e-3, 5.9999999)])
def test_hardtanh_half_types_with_bounds_they_cannot_represent(dtype, lo, hi):
    # torch compares float(x) with float32 bounds: x equal to a bound rounded to x's dtype
    # must land on the same side as in torch
    bounds = torch.tensor([lo, hi], dtype=torch.float32)
    x = torch.cat([bounds, torch.nextafter(bounds, torch.tensor(INF)),
                   torch.nextafter(bounds, torch.tensor(-INF))]).to(dtype)
    x = torch.cat([x, random_input(40, dtype)]).repeat(3)
    grad = random_input(x.numel(), dtype, seed=12)
    y, gx = run(lambda t: F.hardtanh(t, lo, hi), x, grad)
    y_ref, gx_ref = run(lambda t: TF.hardtanh(t, lo, hi), x, grad)
    assert_bitwise(y, y_ref)
    assert_bitwise(gx, gx_ref)


def test_hardtanh_nan_gradient_is_torch_vectorised_answer():
    x = torch.full((64,), NAN, requires_grad=True)
    TF.hardtanh(x).backward(torch.ones(64))
    assert torch.all(x.grad[:16] == 0)  # the premise: torch's vectorised loop gives 0
    y, gx = run(F.relu6, torch.full((5,), NAN), torch.ones(5))
    assert torch.all(gx == 0)


@pytest.mark.parametrize("n", [1, 7, 8, 9, 1000, 65536, 70001])
@pytest.mark.parametrize("name,ours,ref,kinks", PIECEWISE, ids=IDS)
def test_piecewise_bitwise_sizes(name, ours, ref, kinks, n):
    # sizes around a byte and around the CPU block, whose tails are padded
    x = random_input(n, torch.float32)
    x[:: max(n // 7, 1)] = torch.tensor(kinks[-1])
    grad = random_input(n, torch.float32, seed=2)
    y, gx = run(ours, x, grad)
    y_ref, gx_ref = run(ref, x, grad)
    assert_bitwise(y, y_ref)
    assert_bitwise(gx, gx_ref)


@pytest.mark.parametrize("name,ours,ref,kinks", PIECEWISE, ids=IDS)
def test_piecewise_inplace(name, ours, ref, kinks):
    x = torch.cat([special_values(kinks, torch.float32), random_input(300, torch.float32)])
    grad = random_input(x.numel(), torch.float32, seed=3)
    y, gx = run(ours, x, grad, inplace=True, nonleaf=True)
    y_ref, gx_ref = run(ref, x, grad)  # torch's out-of-place gradient is the reference
    assert_bitwise(y, y_ref)
    assert_bitwise(gx, gx_ref)
    leaf = x.clone().requires_grad_(True)
    inp = leaf.clone()
    out = ours(inp, inplace=True)
    assert out.data_ptr() == inp.data_ptr()


@pytest.mark.parametrize("name,ours,ref,kinks", PIECEWISE[:1] + PIECEWISE[5:7],
                         ids=IDS[:1] + IDS[5:7])
def test_piecewise_non_contiguous_and_empty(name, ours, ref, kinks):
    base = random_input(64 * 48, torch.float32).view(64, 48)
    x = base.t()[::2]  # transposed and strided
    assert not x.is_contiguous()
    grad = random_input(x.numel(), torch.float32, seed=4).view(x.shape)
    for xx, gg in [(x, grad), (x, grad.t().contiguous().t())]:
        leaf = xx.detach().requires_grad_(True)
        y = ours(leaf)
        y.backward(gg)
        y_ref, gx_ref = run(ref, xx, gg)
        assert_bitwise(y.detach(), y_ref)
        assert_bitwise(leaf.grad, gx_ref)
    empty = torch.empty(0, 3, requires_grad=True)
    y = ours(empty)
    y.sum().backward()
    assert y.shape == (0, 3) and empty.grad.shape == (0, 3)


@pytest.mark.parametrize("ours,ref", [(F.relu, TF.relu), (F.elu, TF.elu),
                                      (F.leaky_relu, TF.leaky_relu), (F.hardtanh, TF.hardtanh)])
def test_inplace_on_a_view_and_on_a_leaf(ours, ref):
    base = random_input(24, torch.float32).view(4, 6).requires_grad_()
    weights = torch.arange(24.0).view(4, 6)
    grads = []
    for fn in (ours, ref):
        x = base.clone()
        fn(x[:, 1:4], inplace=True)  # autograd rebases the view's history onto ours
        (x * weights).sum().backward()
        grads.append(base.grad)
        base.grad = None
    assert_bitwise(grads[0], grads[1])
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        ours(torch.randn(3, requires_grad=True), inplace=True)


# ----------------------------------------------------------------------------- elu family

ELUS = [
    ("elu", lambda x, **k: F.elu(x, **k), lambda x, **k: TF.elu(x, **k)),
    ("elu_0.5", lambda x, **k: F.elu(x, 0.5, **k), lambda x, **k: TF.elu(x, 0.5, **k)),
    ("elu_0", lambda x, **k: F.elu(x, 0.0, **k), lambda x, **k: TF.elu(x, 0.0, **k)),
    ("elu_-0.7", lambda x, **k: F.elu(x, -0.7, **k), lambda x, **k: TF.elu(x, -0.7, **k)),
    ("celu", lambda x, **k: F.celu(x, **k), lambda x, **k: TF.celu(x, **k)),
    ("celu_2", lambda x, **k: F.celu(x, 2.0, **k), lambda x, **k: TF.celu(x, 2.0, **k)),
    ("celu_-1.5", lambda x, **k: F.celu(x, -1.5, **k), lambda x, **k: TF.celu(x, -1.5, **k)),
    ("selu", lambda x, **k: F.selu(x, **k), lambda x, **k: TF.selu(x, **k)),
]
ELU_IDS = [e[0] for e in ELUS]


def _rounding(dtype):
    return {torch.float64: 1e-13, torch.float32: 4e-6, torch.float16: 4e-3,
            torch.bfloat16: 3e-2}[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,ours,ref", ELUS, ids=ELU_IDS)
def test_elu_family_values_and_gradients(name, ours, ref, dtype):
    x = torch.cat([special_values([0.0], dtype), random_input(2000, dtype)])
    grad = random_input(x.numel(), dtype, seed=5, scale=1.0)
    y, gx = run(ours, x, grad)
    y_ref, gx_ref = run(ref, x, grad)
    assert_bitwise(y, y_ref)
    # f' = y + alpha on x <= 0 instead of alpha * exp(x): equal within rounding
    torch.testing.assert_close(gx, gx_ref, rtol=_rounding(dtype), atol=_rounding(dtype),
                               equal_nan=True)
    assert torch.equal(torch.isnan(gx), torch.isnan(gx_ref))
    # in place too, also for a negative alpha, which torch's own in-place ELU refuses
    y2, gx2 = run(ours, x, grad, inplace=True, nonleaf=True)
    assert_bitwise(y2, y_ref)
    torch.testing.assert_close(gx2, gx_ref, rtol=_rounding(dtype), atol=_rounding(dtype),
                               equal_nan=True)


@pytest.mark.parametrize("name,ours,ref", [e for e in ELUS if "-" not in e[0]],
                         ids=[i for i in ELU_IDS if "-" not in i])
def test_elu_family_bitwise_against_torch_inplace(name, ours, ref):
    # torch's own in-place ELU also takes f' from the output: the same bits
    x = torch.cat([special_values([0.0], torch.float32), random_input(3000, torch.float32)])
    grad = random_input(x.numel(), torch.float32, seed=6)
    y, gx = run(ours, x, grad)
    y_ref, gx_ref = run(ref, x, grad, inplace=True, nonleaf=True)
    assert_bitwise(y, y_ref)
    assert_bitwise(gx, gx_ref)
    y2, gx2 = run(ours, x, grad, inplace=True, nonleaf=True)
    assert_bitwise(y2, y_ref)
    assert_bitwise(gx2, gx_ref)


def test_elu_output_modified_in_place_is_caught():
    # the backward reads the output: autograd's version counter must catch a later write
    x = torch.randn(10, requires_grad=True)
    y = F.elu(x)
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# ----------------------------------------------------------------------------- prelu

@pytest.mark.parametrize("shape,channels", [((50,), 1), ((6, 5), 5), ((4, 3, 7), 3),
                                            ((2, 4, 3, 5), 4), ((2, 4, 3, 5), 1)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("weights", [(-0.5, 1.5), (0.1, 2.0)])  # mixed signs: 1-bit path
def test_prelu_matches_torch(shape, channels, dtype, weights):
    n = math.prod(shape)
    x = random_input(n, dtype).view(shape)
    x.view(-1)[:4] = torch.tensor([0.0, -0.0, NAN, -INF], dtype=dtype)
    x.view(-1)[-1] = 0.0
    w = torch.linspace(*weights, channels, dtype=torch.float64).to(dtype)
    grad = random_input(n, dtype, seed=7).view(shape)
    outs = []
    for fn in (F.prelu, TF.prelu):
        xl, wl = x.clone().requires_grad_(), w.clone().requires_grad_()
        y = fn(xl, wl)
        y.backward(grad)
        outs.append((y.detach(), xl.grad, wl.grad))
    (y, gx, gw), (y_ref, gx_ref, gw_ref) = outs
    assert_bitwise(y, y_ref)
    assert_bitwise(gx, gx_ref)
    # the weight's gradient is sum(grad * y) / w instead of sum(grad * x): within rounding
    tol = {torch.float32: 1e-4, torch.float64: 1e-10, torch.bfloat16: 5e-2}[dtype]
    torch.testing.assert_close(gw, gw_ref, rtol=tol, atol=tol, equal_nan=True)


def test_prelu_zero_weight_saves_input_and_stays_exact():
    x = random_input(60, torch.float64).view(4, 3, 5)
    w = torch.tensor([0.0, 0.25, -1.0], dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(F.prelu, (x.clone().requires_grad_(), w))
    grad = torch.ones_like(x)
    wl = w.detach().clone().requires_grad_()
    F.prelu(x, wl).backward(grad)
    expected = (x.clamp(max=0)).sum(dim=(0, 2))  # d/dw of sum(prelu) = sum of negative x
    torch.testing.assert_close(wl.grad, expected)


# ----------------------------------------------------------------------------- rrelu

@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rrelu_training_replays_torch_slopes(inplace, dtype):
    x = torch.cat([special_values([0.0], dtype), random_input(5000, dtype)])
    grad = random_input(x.numel(), dtype, seed=8)
    results = []
    for fn in (F.rrelu, TF.rrelu):
        torch.manual_seed(123)
        leaf = x.clone().requires_grad_()
        y = fn(leaf.clone() if inplace else leaf, 0.1, 0.4, training=True, inplace=inplace)
        after = torch.rand(3)  # the generator must advance exactly as torch's
        y.backward(grad)
        results.append((y.detach(), leaf.grad, after))
    (y, gx, after), (y_ref, gx_ref, after_ref) = results
    assert_bitwise(y, y_ref)
    assert_bitwise(gx, gx_ref)
    assert torch.equal(after, after_ref)
    slopes = (y / x)[(x < -1e-20) & torch.isfinite(x)]  # no denormals, no inf/inf
    assert slopes.min() >= 0.1 and slopes.max() <= 0.4 and slopes.std() > 0.01


def test_rrelu_backward_independent_of_later_random_draws():
    x = random_input(1000, torch.float32).requires_grad_()
    torch.manual_seed(5)
    y = F.rrelu(x, training=True)
    torch.rand(10_000)  # consumes the global generator between forward and backward
    y.backward(torch.ones_like(y))
    expected = torch.where(x > 0, 1.0, y / x).detach()
    torch.testing.assert_close(x.grad, expected)


# ----------------------------------------------------------------------------- crelu

@pytest.mark.parametrize("dim", [1, -1, 0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_crelu_bitwise(dim, dtype):
    x = random_input(6 * 70, dtype).view(6, 70)
    x.view(-1)[:5] = torch.tensor([0.0, -0.0, NAN, INF, -INF], dtype=dtype)

    def ref(t):
        return torch.cat((TF.relu(t), TF.relu(-t)), dim)

    shape = list(x.shape)
    shape[dim] *= 2
    grad = random_input(math.prod(shape), dtype, seed=9).view(shape)
    y, gx = run(lambda t: F.crelu(t, dim), x, grad)
    y_ref, gx_ref = run(ref, x, grad)
    assert_bitwise(y, y_ref)
    assert_bitwise(gx, gx_ref)


def test_crelu_bad_dim():
    with pytest.raises(ValueError, match="dim=3 is out of range"):
        F.crelu(torch.randn(2, 3), dim=3)


# ----------------------------------------------------------------------------- smooth

@pytest.mark.parametrize("name,ours,ref", [
    ("gelu", lambda x: F.gelu(x), lambda x: TF.gelu(x)),
    ("gelu_tanh", lambda x: F.gelu(x, "tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    ("silu", F.silu, TF.silu), ("mish", F.mish, TF.mish),
    ("softplus", lambda x: F.softplus(x, 2.0, 5.0), lambda x: TF.softplus(x, 2.0, 5.0)),
    ("sigmoid", F.sigmoid, torch.sigmoid), ("tanh", F.tanh, torch.tanh),
])
def test_smooth_exact_mode_is_torch(name, ours, ref):
    x = torch.cat([special_values([0.0], torch.float32), random_input(500, torch.float32)])
    grad = random_input(x.numel(), torch.float32, seed=10)
    y, gx = run(ours, x, grad)
    y_ref, gx_ref = run(ref, x, grad)
    assert_bitwise(y, y_ref)
    assert_bitwise(gx, gx_ref)


# ----------------------------------------------------------------------------- gradcheck

GRADCHECK = [
    ("relu", F.relu), ("leaky_relu", lambda x: F.leaky_relu(x, 0.3)), ("relu6", F.relu6),
    ("hardtanh", lambda x: F.hardtanh(x, -2.0, 3.0)), ("elu", F.elu),
    ("elu_neg", lambda x: F.elu(x, -0.5)), ("celu", lambda x: F.celu(x, 0.7)),
    ("selu", F.selu), ("crelu", lambda x: F.crelu(x, 1)), ("rrelu_eval", F.rrelu),
]


def _away_from_kinks(shape, kinks=(0.0, 6.0, -2.0, 3.0, -1.0, 1.0)):
    x = random_input(math.prod(shape), torch.float64, seed=11).view(shape)
    for k in kinks:
        near = (x - k).abs() < 1e-3
        x = torch.where(near, x + 0.01, x)
    return x.requires_grad_()


@pytest.mark.parametrize("name,fn", GRADCHECK, ids=[g[0] for g in GRADCHECK])
def test_gradcheck_and_gradgradcheck_float64(name, fn):
    x = _away_from_kinks((3, 4, 5))
    assert torch.autograd.gradcheck(fn, (x,))
    # double backward works: through the mask-select (and through the output for elu)
    assert torch.autograd.gradgradcheck(fn, (x,))


@pytest.mark.parametrize("weights", [[0.25, -0.5, 1.5, 0.1], [0.25, 0.5, 1.5, 0.1], [0.3]])
def test_gradcheck_prelu_both_arguments(weights):
    x = _away_from_kinks((3, 4, 5))
    w = torch.tensor(weights, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(F.prelu, (x, w))
    assert torch.autograd.gradgradcheck(F.prelu, (x, w))


def test_rrelu_training_gradcheck_with_fixed_seed():
    x = _away_from_kinks((40,))

    def fn(t):
        torch.manual_seed(0)
        return F.rrelu(t, training=True)

    assert torch.autograd.gradcheck(fn, (x,))


# ----------------------------------------------------------------------------- validation

def test_bad_parameters_are_named():
    x = torch.randn(4)
    with pytest.raises(ValueError, match="negative_slope"):
        F.leaky_relu(x, math.nan)
    with pytest.raises(ValueError, match="min_val"):
        F.hardtanh(x, 2.0, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        F.celu(x, 0.0)
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(x, "fast")
    with pytest.raises(ValueError, match="lower"):
        F.rrelu(x, 0.5, 0.1)
    with pytest.raises(ValueError, match="bits"):
        F.gelu(x, bits=9)
    with pytest.raises(ValueError, match="weight has 3 elements"):
        F.prelu(torch.randn(2, 4), torch.ones(3))
    with pytest.raises(TypeError, match="torch.Tensor"):
        F.relu(np.ones(3))
    with pytest.raises(TypeError, match="inplace"):
        F.relu(x, inplace="yes")


def test_no_grad_path_is_torch_and_keeps_integer_inputs():
    x = torch.arange(-3, 4)
    assert torch.equal(F.relu(x), TF.relu(x))
    with torch.no_grad():
        xf = torch.randn(10, requires_grad=True)
        assert F.relu(xf).grad_fn is None
