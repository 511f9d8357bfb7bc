"""gelu/silu/mish with bits=k: the forward is torch's, the backward multiplies by the level of
the k-bit code of x's interval, as the codebook says (checked with numpy.searchsorted)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402

from relukit.torch import functional as F  # noqa: E402
from relukit.torch.fewbit import get_codebook  # noqa: E402

CASES = [("gelu", "none"), ("gelu", "tanh"), ("silu", "none"), ("mish", "none")]


def torch_fn(name, approximate):
    if name == "gelu":
        return lambda x: TF.gelu(x, approximate=approximate)
    return getattr(TF, name)


def ours_fn(name, approximate, bits):
    if name == "gelu":
        return lambda x: F.gelu(x, approximate, bits=bits)
    return lambda x: getattr(F, name)(x, bits=bits)


def expected_grad(name, approximate, bits, x, grad):
    cb = get_codebook(name, bits, approximate)
    xs = x.detach().double().numpy()
    interval = np.searchsorted(np.asarray(cb.boundaries), xs, side="left")
    level = np.asarray(cb.levels)[np.asarray(cb.interval_codes)[interval]]
    return torch.from_numpy(grad.double().numpy() * level)


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 5, 7, 8])
@pytest.mark.parametrize("name,approximate", CASES)
def test_kbit_forward_is_torch_and_backward_is_the_codebook(name, approximate, bits):
    g = torch.Generator().manual_seed(bits)
    x = torch.cat([torch.randn(3000, generator=g, dtype=torch.float64) * 3,
                   torch.tensor([0.0, -0.0, 8.0, -8.0, 50.0, -50.0], dtype=torch.float64)])
    grad = torch.randn(x.numel(), generator=g, dtype=torch.float64)
    leaf = x.clone().requires_grad_()
    y = ours_fn(name, approximate, bits)(leaf)
    y.backward(grad)
    assert torch.equal(y.detach(), torch_fn(name, approximate)(x))
    torch.testing.assert_close(leaf.grad, expected_grad(name, approximate, bits, x, grad),
                               rtol=1e-15, atol=0)


@pytest.mark.parametrize("name,approximate", CASES)
def test_kbit_gradient_approaches_exact(name, approximate):
    x = torch.randn(20000, generator=torch.Generator().manual_seed(0))
    exact_leaf = x.clone().requires_grad_()
    torch_fn(name, approximate)(exact_leaf).backward(torch.ones_like(x))
    cosines = {}
    for bits in (1, 4, 8):
        leaf = x.clone().requires_grad_()
        ours_fn(name, approximate, bits)(leaf).backward(torch.ones_like(x))
        cosines[bits] = TF.cosine_similarity(leaf.grad, exact_leaf.grad, dim=0).item()
    assert cosines[1] < cosines[4] < cosines[8]
    assert cosines[4] >= 0.999 and cosines[8] >= 0.99999


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_kbit_low_precision_and_shapes(dtype):
    x = torch.randn(3, 5, 7, generator=torch.Generator().manual_seed(2)).to(dtype)
    x = x.transpose(0, 2)  # non-contiguous
    leaf = x.clone().requires_grad_()
    y = F.silu(leaf, bits=4)
    assert y.dtype == dtype and torch.equal(y.detach(), TF.silu(x))
    y.sum().backward()
    assert leaf.grad.dtype == dtype and leaf.grad.shape == x.shape
    expected = expected_grad("silu", "none", 4, x.float(), torch.ones(x.shape))
    torch.testing.assert_close(leaf.grad.double(), expected, rtol=1e-2, atol=1e-2)
    empty = torch.empty(0, 4, dtype=dtype, requires_grad=True)
    F.gelu(empty, bits=2).sum().backward()
    assert empty.grad.shape == (0, 4)


def test_kbit_double_backward_raises_clearly():
    x = torch.randn(10, requires_grad=True)
    (g,) = torch.autograd.grad(F.gelu(x, bits=4).sum(), x, create_graph=False)
    assert g.shape == x.shape
    with pytest.raises(RuntimeError, match="double backward .* bits=k"):
        torch.autograd.grad(F.gelu(x, bits=4).sum(), x, create_graph=True)


def test_kbit_inplace_is_refused_and_no_grad_is_torch():
    x = torch.randn(10, requires_grad=True)
    with pytest.raises(ValueError, match="inplace=True is supported only with bits=None"):
        F.silu(x.clone(), bits=4, inplace=True)
    with torch.no_grad():
        assert torch.equal(F.mish(x, bits=3), TF.mish(x))


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_comparison_codes_equal_bucketize_codes(bits, dtype):
    from relukit.torch import packing

    cb = get_codebook("gelu", bits)
    edges = torch.tensor(cb.boundaries, dtype=dtype)
    codes = torch.tensor(cb.interval_codes, dtype=torch.uint8)
    x = torch.cat([torch.randn(1001, generator=torch.Generator().manual_seed(bits),
                               dtype=dtype) * 3,
                   edges, torch.nextafter(edges, torch.tensor(np.inf, dtype=dtype)),
                   torch.tensor([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0], dtype=dtype)])
    expected = packing.pack_codes(codes[torch.bucketize(x, edges)], bits)
    got = packing.pack_interval_codes(x, edges.tolist(), list(cb.interval_codes), bits)
    n = x.numel()
    assert torch.equal(packing.unpack_codes(got, n, bits), packing.unpack_codes(expected, n, bits))
