"""``saves=``: what each mode keeps, and that every mode gives torch's gradient."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402
from torch import nn  # noqa: E402

import relukit.torch as rt  # noqa: E402
from relukit.torch import functional as F  # noqa: E402

PIECEWISE = [
    ("relu", lambda x, s: F.relu(x, saves=s), TF.relu),
    ("leaky_relu", lambda x, s: F.leaky_relu(x, 0.2, saves=s), lambda x: TF.leaky_relu(x, 0.2)),
    ("relu6", lambda x, s: F.relu6(x, saves=s), TF.relu6),
    ("hardtanh", lambda x, s: F.hardtanh(x, -2.0, 3.0, saves=s),
     lambda x: TF.hardtanh(x, -2.0, 3.0)),
]
N = 4096


def _points(dtype=torch.float64):
    x = torch.linspace(-8, 8, N - 8, dtype=torch.float64)
    special = torch.tensor([0.0, -0.0, 6.0, -2.0, 3.0, 1e-30, -1e-30, float("nan")])
    return torch.cat([x, special.double()]).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16], ids=str)
@pytest.mark.parametrize("saves", ["mask", "output", "input"])
@pytest.mark.parametrize("name,ours,ref", PIECEWISE, ids=[p[0] for p in PIECEWISE])
def test_every_mode_gives_torchs_gradient(name, ours, ref, saves, dtype):
    grads = []
    for fn in (lambda t: ours(t, saves), ref):
        leaf = _points(dtype).requires_grad_()
        y = fn(leaf)
        y.backward(torch.linspace(-1, 1, N, dtype=dtype))
        grads.append(leaf.grad)
    assert torch.equal(grads[0].nan_to_num(7.0), grads[1].nan_to_num(7.0))


@pytest.mark.parametrize("name,ours,ref", PIECEWISE, ids=[p[0] for p in PIECEWISE])
def test_what_each_mode_keeps(name, ours, ref):
    x = _points(torch.float32).requires_grad_()

    def kept(saves):  # beyond the output, which the next layer keeps
        return rt.saved_tensor_bytes(lambda t: ours(t, saves), x, exclude=[x],
                                     exclude_output=True)

    assert kept("mask") == N // 8
    assert kept("output") == 0
    # torch's op keeps one full tensor: relu's the output, the others the input
    assert kept("input") == 0
    assert rt.saved_tensor_bytes(lambda t: ours(t, "input"), x) == N * 4


@pytest.mark.parametrize("saves", ["output", "mask"])
def test_double_backward_of_each_mode(saves):
    x = (torch.randn(64, dtype=torch.float64) * 4).requires_grad_()
    for fn in (lambda t: F.leaky_relu(t, 0.3, saves=saves),
               lambda t: F.hardtanh(t, -2.0, 3.0, saves=saves)):
        assert torch.autograd.gradcheck(fn, (x,))
        assert torch.autograd.gradgradcheck(fn, (x,))


def test_bad_saves_values_name_the_parameter():
    x = torch.randn(4, requires_grad=True)
    with pytest.raises(ValueError, match="saves='output' needs negative_slope >= 0"):
        F.leaky_relu(x, -0.1, saves="output")
    with pytest.raises(ValueError, match=r"saves='bits'.*mask, output, input"):
        F.relu(x, saves="bits")
    with pytest.raises(ValueError, match=r"saves='mask'.*output, input"):
        F.elu(x, saves="mask")
    with pytest.raises(TypeError, match="saves must be one of"):
        rt.ReLU(saves=1)
    with pytest.raises(ValueError, match="saves"):
        rt.Hardtanh(saves="everything")


@pytest.mark.parametrize("make,ref", [(rt.ReLU, nn.ReLU), (rt.LeakyReLU, nn.LeakyReLU),
                                      (rt.ReLU6, nn.ReLU6), (rt.Hardtanh, nn.Hardtanh)])
def test_modules_take_saves_and_train_like_torch(make, ref):
    torch.manual_seed(0)
    x = torch.randn(32, 16)
    grads = []
    for act in (make(saves="output"), make(saves="mask"), ref()):
        torch.manual_seed(1)
        model = nn.Sequential(nn.Linear(16, 32), act, nn.Linear(32, 4))
        model(x).square().sum().backward()
        grads.append([p.grad for p in model.parameters()])
    for ours in grads[:2]:
        for a, b in zip(ours, grads[2], strict=True):
            assert torch.equal(a, b)
    assert "saves='output'" in repr(make(saves="output"))
