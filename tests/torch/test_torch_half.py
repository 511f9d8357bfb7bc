"""16-bit inputs: every lean gradient in float16/bfloat16 equals torch's half-precision
gradient (the mask functions run torch's own backward kernels on the unpacked mask), and the
functions whose gradient would come from a rounded output keep what torch keeps."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402

import relukit  # noqa: E402
import relukit.torch as rt  # noqa: E402
from relukit.torch import functional as F  # noqa: E402

HALF = [torch.float16, torch.bfloat16]

# (name, relukit, torch): same parameters, out of place
PAIRS = [
    ("relu", F.relu, TF.relu),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    ("relu6", F.relu6, TF.relu6),
    ("hardtanh", lambda x: F.hardtanh(x, -2.0, 3.0), lambda x: TF.hardtanh(x, -2.0, 3.0)),
    ("rrelu_eval", lambda x: F.rrelu(x, 0.1, 0.3), lambda x: TF.rrelu(x, 0.1, 0.3)),
    ("crelu", lambda x: F.crelu(x, 1), lambda x: torch.cat((TF.relu(x), TF.relu(-x)), 1)),
    ("elu", lambda x: F.elu(x, 0.5), lambda x: TF.elu(x, 0.5)),
    ("celu", lambda x: F.celu(x, 0.3), lambda x: TF.celu(x, 0.3)),
    ("selu", F.selu, TF.selu),
    ("prelu", lambda x: F.prelu(x, torch.full((8,), 0.25, dtype=x.dtype)),
     lambda x: TF.prelu(x, torch.full((8,), 0.25, dtype=x.dtype))),
]


def _grid(dtype):
    x = torch.linspace(-12, 12, 4003, dtype=torch.float64).to(dtype)
    return torch.cat([x, torch.tensor([0.0, -0.0, 6.0, -2.0, 3.0], dtype=dtype)]).view(-1, 8)


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("name,ours,ref", PAIRS, ids=[p[0] for p in PAIRS])
def test_half_gradients_equal_torchs(name, ours, ref, dtype):
    x = _grid(dtype)
    grads = []
    for fn in (ours, ref):
        leaf = x.clone().requires_grad_()
        y = fn(leaf)
        g = torch.linspace(-1, 1, y.numel(), dtype=torch.float64).to(dtype).view(y.shape)
        y.backward(g)
        grads.append(leaf.grad)
    assert torch.equal(grads[0], grads[1])


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("name", ["elu", "celu", "selu"])
def test_half_elu_family_keeps_the_input_as_torch(name, dtype):
    x = _grid(dtype).requires_grad_()
    fn = {"elu": F.elu, "celu": lambda t: F.celu(t, 0.3), "selu": F.selu}[name]
    nbytes = rt.saved_tensor_bytes(fn, x, exclude=[x])
    assert nbytes == 0  # torch's op keeps x itself (excluded here), nothing else
    # float32 keeps only the output
    x32 = _grid(torch.float32).requires_grad_()
    assert rt.saved_tensor_bytes(fn, x32, exclude=[x32]) == x32.numel() * 4


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_half_elu_in_place_equals_torchs_in_place(dtype):
    """In place, torch's ELU keeps its output too: relukit's gradient is torch's."""
    grads = []
    for fn in (lambda t: F.elu(t, 0.5, inplace=True), lambda t: TF.elu(t, 0.5, inplace=True)):
        leaf = _grid(dtype).requires_grad_()
        y = fn(leaf.clone())
        y.backward(torch.ones_like(y))
        grads.append(leaf.grad)
    assert torch.equal(grads[0], grads[1])


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("cls", sorted(rt.modules.FROM_RULES), ids=str)
def test_half_settled_catalogue_modules_keep_what_torch_keeps(cls, dtype):
    """A module built from a catalogue TorchRule that picks "output" itself gives torch's half
    gradient bitwise (hardswish's f' from a half output is off near its minimum by far more than
    the half rounding; relu2's where x^2 underflows)."""
    module = getattr(rt, cls)()
    rule = relukit.get(module.catalogue_name).torch_rule
    x = _grid(dtype) * 0.5  # [-6, 6]: hardswish's and hardsigmoid's kinks at -3, 3 inside
    for _ in range(2):  # the first training call settles saves
        xr = x.clone().requires_grad_()
        (gr,) = torch.autograd.grad(module(xr).sum(), xr)
    xt = x.clone().requires_grad_()
    (gt,) = torch.autograd.grad(rule.forward(torch, xt, False).sum(), xt)
    assert gr.dtype == dtype
    assert torch.equal(gr, gt)
