"""relukit.torch.inverse: f' recovered from the output and the branch bit, against float64
exact f' (torch's float64 autograd at the same x)."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from relukit.torch import inverse
from relukit.torch.inverse import (
    MINIMA,
    branch_bits,
    derivative_from_output,
    reference_derivative,
)

FUNCS = {  # key: (name, approximate, torch function)
    "gelu": ("gelu", "none", lambda x: F.gelu(x)),
    "gelu_tanh": ("gelu", "tanh", lambda x: F.gelu(x, approximate="tanh")),
    "silu": ("silu", "none", F.silu),
    "mish": ("mish", "none", F.mish),
}
KEYS = list(FUNCS)
# (max abs, relative L2) of the issue. float32's max holds for a correctly rounded output;
# torch's own float32 forward is up to ~2-3 units in the last place off near x*, which moves
# the f' it determines by ~sqrt(2 f''(x*) * that): up to ~1.3e-4 (see _F32_TORCH_MAX).
BOUNDS = {torch.float32: (1e-4, 2e-6), torch.bfloat16: (2e-2, 5e-3),
          torch.float16: (1e-2, 1.5e-3)}
_F32_TORCH_MAX = 1.5e-4


def _inputs(key: str, dtype: torch.dtype, samples: int = 200_000, grid: int = 50_001):
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(samples, generator=g, dtype=torch.float64) * 2.0
    dense = MINIMA[key][0] + torch.linspace(-0.5, 0.5, grid, dtype=torch.float64)
    return torch.cat([x, dense]).to(dtype)


def _exact(fn, x: torch.Tensor) -> torch.Tensor:
    xd = x.to(torch.float64).requires_grad_(True)
    (g,) = torch.autograd.grad(fn(xd).sum(), xd)
    return g


def _recover(key: str, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    name, approximate, _ = FUNCS[key]
    return derivative_from_output(y, branch_bits(x, name, approximate), name, approximate)


def _errors(got: torch.Tensor, ref: torch.Tensor) -> tuple[float, float]:
    err = got.to(torch.float64) - ref
    return err.abs().max().item(), (err.norm() / ref.norm()).item()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16],
                         ids=str)
@pytest.mark.parametrize("key", KEYS)
def test_accuracy_from_torch_forward(key, dtype):
    fn = FUNCS[key][2]
    x = _inputs(key, dtype)
    y = fn(x)
    got = _recover(key, y, x)
    assert got.dtype == dtype and got.shape == x.shape
    max_abs, rel_l2 = _errors(got, _exact(fn, x))
    bound_max, bound_l2 = BOUNDS[dtype]
    if dtype == torch.float32:
        bound_max = _F32_TORCH_MAX
    assert max_abs <= bound_max, (max_abs, rel_l2)
    assert rel_l2 <= bound_l2, (max_abs, rel_l2)


@pytest.mark.parametrize("key", KEYS)
def test_float32_accuracy_from_correctly_rounded_output(key):
    fn = FUNCS[key][2]
    x = _inputs(key, torch.float32)
    y = fn(x.double()).float()  # f(x) rounded once
    max_abs, rel_l2 = _errors(_recover(key, y, x), _exact(fn, x))
    assert max_abs <= BOUNDS[torch.float32][0] and rel_l2 <= BOUNDS[torch.float32][1]


@pytest.mark.parametrize("key", KEYS)
def test_float64_output_recovers_f_prime_to_float64_precision(key):
    fn = FUNCS[key][2]
    x = torch.cat([torch.linspace(-30, 60, 20001, dtype=torch.float64),
                   MINIMA[key][0] + torch.linspace(-1e-3, 1e-3, 2001, dtype=torch.float64)])
    got = _recover(key, fn(x), x)
    # near x* the float64 output still limits f' to ~sqrt(2 f'' 1e-17) ~ 5e-9
    assert (got - _exact(fn, x)).abs().max().item() < 2e-8


@pytest.mark.parametrize("key", KEYS)
def test_stored_constants_match_mpmath(key):
    pytest.importorskip("mpmath")
    derived = inverse._derive_params(key, terms=6, dps=30)
    stored = inverse._PARAMS[key]
    assert derived.x_min == pytest.approx(stored.x_min, rel=1e-15, abs=1e-16)
    assert derived.f_min == pytest.approx(stored.f_min, rel=1e-15, abs=1e-16)
    assert derived.c2 == pytest.approx(stored.c2, rel=1e-14)
    for a, b in zip(derived.series, stored.series[:6], strict=True):
        assert a == pytest.approx(b, rel=1e-12)
    # f'(x*) = 0 at the stored x*
    fn = FUNCS[key][2]
    assert abs(_exact(fn, torch.tensor([stored.x_min], dtype=torch.float64)).item()) < 1e-15


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64],
                         ids=str)
@pytest.mark.parametrize("key", KEYS)
def test_special_values(key, dtype):
    name, approximate, fn = FUNCS[key]
    xm = MINIMA[key][0]
    inf, nan = math.inf, math.nan
    x = torch.tensor([0.0, -0.0, inf, -inf, 1e4, -1e4, -40.0, -200.0, 3e38, -3e38, xm, xm,
                      1e-30, -1e-30], dtype=torch.float64).to(dtype)
    y = fn(x)
    bits = branch_bits(x, name, approximate)
    got = derivative_from_output(y, bits, name, approximate)
    # torch's own y is NaN at x = -inf (-inf * 0), and at +inf for exact gelu: a NaN output
    # is the one NaN derivative
    assert torch.equal(torch.isnan(got), torch.isnan(y)), (y, got)
    finite = ~torch.isnan(y)
    ref = _exact(fn, x.double().clamp(-1e4, 1e4))  # f' at +-inf is its limit 1 / 0
    tol = {torch.float64: 1e-8, torch.float32: 1e-4}.get(dtype, 2e-2)
    assert ((got.double() - ref).abs()[finite] <= tol).all(), (x, y, got, ref)
    # the output of huge negative x underflows to -0: f' is the limit 0
    under = y[[5, 6, 7, 9]] == 0
    assert (got[[5, 6, 7, 9]][under] == 0).all()
    assert got[2].item() == 1.0 or torch.isnan(y[2])
    # +-0 on the right branch: f'(0)
    assert got[0].item() == got[1].item() == pytest.approx(ref[0].item(), abs=tol)
    # the same zeros read on the left branch are the underflowed tail: f' = 0
    left = derivative_from_output(y[:2], torch.zeros(2, dtype=torch.bool), name, approximate)
    assert (left == 0).all()
    # NaN output: NaN, whatever the bit; the bit of NaN is False
    for b in (True, False):
        out = derivative_from_output(torch.tensor([nan], dtype=dtype),
                                     torch.tensor([b]), name, approximate)
        assert torch.isnan(out).all()
    assert not branch_bits(torch.tensor([nan], dtype=dtype), name, approximate).item()
    # outputs below the minimum (rounding) and impossible ones read as the clamped value
    odd = torch.tensor([MINIMA[key][1] - 1e-3, -1.0, 5.0, -inf, inf], dtype=dtype)
    for b in (True, False):
        out = derivative_from_output(odd, torch.full((5,), b), name, approximate)
        assert torch.isfinite(out).all(), out


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64],
                         ids=str)
@pytest.mark.parametrize("key", KEYS)
def test_branch_at_the_minimum(key, dtype):
    name, approximate, fn = FUNCS[key]
    xm = torch.tensor(MINIMA[key][0], dtype=torch.float64)
    # the dtype's neighbours of x*: a few on each side
    up = xm.to(dtype)
    if up.double() < xm:
        up = torch.nextafter(up, torch.tensor(math.inf, dtype=dtype))
    xs = [up]
    for _ in range(3):
        xs.append(torch.nextafter(xs[-1], torch.tensor(math.inf, dtype=dtype)))
    down = torch.nextafter(up, torch.tensor(-math.inf, dtype=dtype))
    xs_left = [down]
    for _ in range(3):
        xs_left.append(torch.nextafter(xs_left[-1], torch.tensor(-math.inf, dtype=dtype)))
    x = torch.stack(xs_left[::-1] + xs)
    bits = branch_bits(x, name, approximate)
    assert bits.tolist() == [False] * 4 + [True] * 4
    assert ((x.double() >= xm) == bits).all()
    ref = _exact(fn, x)
    for y in (fn(x), fn(x.double()).to(dtype)):  # torch's forward, f(x) rounded once
        got = derivative_from_output(y, bits, name, approximate).double()
        # the bit picks the side: f' <= 0 on the left, >= 0 on the right (to float64's
        # rounding of f' near its zero)
        assert (got[:4] <= 1e-12).all() and (got[4:] >= -1e-12).all()
    # close to exact from a correctly rounded output (torch's float32 forward is further off
    # here: see _F32_TORCH_MAX)
    tol = BOUNDS[dtype][0] if dtype in BOUNDS else 1e-7
    assert (got - ref).abs().max().item() <= tol


def test_shapes_strides_and_errors():
    x = torch.randn(6, 5, dtype=torch.float32).t()  # not contiguous
    y = F.silu(x)
    got = derivative_from_output(y, branch_bits(x, "silu"), "silu")
    assert got.shape == x.shape
    assert torch.allclose(got.double(), _exact(F.silu, x), atol=1e-4)
    assert derivative_from_output(torch.empty(0), torch.empty(0, dtype=torch.bool),
                                  "mish").shape == (0,)
    with pytest.raises(ValueError):
        derivative_from_output(y, branch_bits(x, "silu"), "relu")
    with pytest.raises(ValueError):
        branch_bits(x, "gelu", approximate="sigmoid")
    with pytest.raises(ValueError):
        branch_bits(x, "silu", approximate="tanh")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("key", KEYS)
def test_table_matches_the_newton_reference(key, dtype):
    """The tabulated fast path against the Newton iterations it is built from, everywhere
    (tails, minimum, saturation), from correctly rounded outputs."""
    name, approximate, fn = FUNCS[key]
    x = torch.cat([torch.linspace(-30, 70, 200_001, dtype=torch.float64),
                   MINIMA[key][0] + torch.linspace(-0.05, 0.05, 20_001, dtype=torch.float64),
                   torch.randn(100_000, generator=torch.Generator().manual_seed(3),
                               dtype=torch.float64) * 2.0]).to(dtype)
    y = fn(x.double()).to(dtype)
    bits = branch_bits(x, name, approximate)
    got = derivative_from_output(y, bits, name, approximate).double()
    ref = reference_derivative(y, bits, name, approximate).double()
    # a few float32 units; halves round the result to their own (coarser) grid
    tol = 1e-6 if dtype == torch.float32 else torch.finfo(dtype).eps
    assert (got - ref).abs().max().item() <= tol


class _Dtypes(torch.utils._python_dispatch.TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.seen: set[torch.dtype] = set()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in torch.utils._pytree.tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self.seen.add(t.dtype)
        self.ops.append(str(func))
        return out


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("key", KEYS)
def test_backward_is_float32_whole_tensor_ops(key, dtype):
    """saves="output"'s backward on CPU: no float64 tensor, a fixed number of ops whatever
    the size (no loop over elements), and the gradient within the accuracy bounds."""
    from relukit.torch import functional as RF

    name, approximate, fn = FUNCS[key]
    lean = {"gelu": lambda t: RF.gelu(t, approximate=approximate, saves="output"),
            "silu": lambda t: RF.silu(t, saves="output"),
            "mish": lambda t: RF.mish(t, saves="output")}[name]
    counts = []
    for n in (1000, 100_000):
        x = (torch.randn(n, generator=torch.Generator().manual_seed(n)) * 2).to(dtype)
        xr = x.clone().requires_grad_(True)
        y = lean(xr)
        grad = torch.randn(n, generator=torch.Generator().manual_seed(1)).to(dtype)
        mode = _Dtypes()
        with mode:
            y.backward(grad)
        assert torch.float64 not in mode.seen, mode.ops
        counts.append(len(mode.ops))
        ref = (grad.double() * _exact(fn, x)).to(dtype)
        assert xr.grad.dtype == dtype
        tol = 1.5e-4 if dtype == torch.float32 else 4e-2
        assert (xr.grad.double() - ref.double()).abs().max().item() <= tol * 4
    assert counts[0] == counts[1] < 40


@pytest.mark.parametrize("layout", ["channels_last", "transposed", "strided"])
def test_backward_keeps_the_input_layout(layout):
    from relukit.torch import functional as RF

    g = torch.Generator().manual_seed(5)
    base = torch.randn(2, 3, 4, 5, generator=g) * 2
    x = {"channels_last": base.contiguous(memory_format=torch.channels_last),
         "transposed": base.transpose(1, 3),
         "strided": base[:, :, ::2]}[layout]
    xr, xt = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    if layout != "strided":
        xr, xt = (x.detach().clone(memory_format=torch.preserve_format).requires_grad_(True)
                  for _ in range(2))
    grad = torch.randn(x.shape, generator=g)
    RF.silu(xr, saves="output").backward(grad)
    F.silu(xt).backward(grad)
    assert xr.grad.stride() == xt.grad.stride()
    torch.testing.assert_close(xr.grad, xt.grad, atol=2e-4, rtol=0)



_TRITON_CHECK = """
import math, torch
import torch.nn.functional as F
from relukit.torch import triton_inverse, triton_kernels
from relukit.torch.inverse import (
    MINIMA,
    branch_bits,
    derivative_from_output,
    reference_derivative,
)
from relukit.torch.packing import pack_mask

FUNCS = {"gelu": ("gelu", "none", F.gelu),
         "gelu_tanh": ("gelu", "tanh", lambda x: F.gelu(x, approximate="tanh")),
         "silu": ("silu", "none", F.silu), "mish": ("mish", "none", F.mish)}
BOUND = {torch.float32: 1.5e-4, torch.bfloat16: 2e-2, torch.float16: 1e-2}
g = torch.Generator().manual_seed(7)
for key, (name, approximate, fn) in FUNCS.items():
    x64 = torch.cat([torch.randn(500, generator=g, dtype=torch.float64) * 2.0,
                     MINIMA[key][0] + torch.linspace(-0.01, 0.01, 101, dtype=torch.float64),
                     torch.tensor([0.0, -0.0, math.inf, -math.inf, math.nan, -1e4, 1e4, -40.0,
                                   -200.0, -10.0, -5.0], dtype=torch.float64)])
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        x = x64.to(dtype)
        assert triton_kernels.available_for(x)
        y = fn(x)
        bits = branch_bits(x, name, approximate)
        got = triton_inverse.derivative_from_packed(y, pack_mask(bits), name, approximate)
        ref = reference_derivative(y, bits, name, approximate)
        assert got.dtype == dtype and got.shape == y.shape
        assert torch.equal(torch.isnan(got), torch.isnan(ref)), key
        ok = ~torch.isnan(ref)
        # the same algorithm; halves may round the last place the other way
        tol = 1e-6 if dtype == torch.float32 else 2 * torch.finfo(dtype).eps
        diff = (got[ok].double() - ref[ok].double()).abs().max().item()
        assert diff <= tol, (key, dtype, diff)
        xd = x.double().requires_grad_(True)
        (exact,) = torch.autograd.grad(fn(xd).sum(), xd)
        ok &= torch.isfinite(x)  # torch's float64 f' is NaN at +-inf
        max_abs = (got[ok].double() - exact[ok]).abs().max().item()
        assert max_abs <= BOUND[dtype], (key, dtype, max_abs)
print("ok")
"""


def test_triton_kernel_matches_torch_path():
    """The one-pass kernel, on CPU tensors under Triton's interpreter (in a subprocess: the
    interpreter is chosen when triton is imported), against the torch path and exact f'."""
    pytest.importorskip("triton")
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-c", _TRITON_CHECK], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]
