"""convert() robustness on models torch.nn accepts, the issue 14 export-then-train regression,
and one validation path per parameter."""

from __future__ import annotations

import copy
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import relukit.torch as rt  # noqa: E402
from relukit.torch import functional as RF  # noqa: E402


class ResidualPReLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.act = nn.PReLU(6)
        with torch.no_grad():
            self.act.weight.copy_(torch.tensor([0.25, -0.5, 0.0, 1.5, -2.0, 0.1]))
        self.out = nn.Linear(6, 3)

    def forward(self, x):
        y = self.act(self.fc(x))
        y += x  # in place on the activation's output
        return self.out(y)


class MulAfter(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.act = act
        self.out = nn.Linear(6, 3)

    def forward(self, x):
        y = self.act(self.fc(x))
        y.mul_(2)
        return self.out(y)


MODELS = {
    "relu_inplace_int": lambda: nn.Sequential(nn.Linear(6, 6), nn.ReLU(inplace=1),
                                              nn.Linear(6, 3)),
    "leaky_tensor_slope": lambda: nn.Sequential(nn.Linear(6, 6), nn.LeakyReLU(torch.tensor(0.1)),
                                                nn.Linear(6, 3)),
    "elu_dropout_inplace": lambda: nn.Sequential(nn.Linear(6, 6), nn.ELU(0.5),
                                                 nn.Dropout(0.3, inplace=True), nn.Linear(6, 3)),
    "prelu_residual_iadd": ResidualPReLU,
    "celu_mul_": lambda: MulAfter(nn.CELU(0.5)),
    "selu_mul_": lambda: MulAfter(nn.SELU()),
}


def _train_step(model, x, seed):
    torch.manual_seed(seed)  # the same dropout mask for both models
    leaf = x.clone().requires_grad_()
    y = model(leaf)
    y.backward(torch.ones_like(y))
    return y.detach(), [leaf.grad] + [p.grad for p in model.parameters()]


@pytest.mark.parametrize("name", list(MODELS))
def test_convert_robust(name):
    """The converted model trains (train mode, forward+backward, twice) with torch's values and
    gradients, and convert() did replace its activation."""
    torch.manual_seed(0)
    ref = MODELS[name]().train()
    ours = copy.deepcopy(ref)
    summary = rt.convert(ours)
    assert len(summary.replaced) == 1, summary
    x = torch.randn(5, 6, generator=torch.Generator().manual_seed(1)) * 2
    for step in range(2):
        for m in (ref, ours):
            m.zero_grad(set_to_none=True)
        y_r, g_r = _train_step(ref, x, seed=step)
        y_o, g_o = _train_step(ours, x, seed=step)
        torch.testing.assert_close(y_o, y_r, rtol=0, atol=0)
        torch.testing.assert_close(g_o, g_r)


def test_issue14_export_then_train_in_a_fresh_process():
    """GELU(bits=4) first used inside torch.export, then an ordinary forward+backward of bits=4
    modules in the same (fresh) process: no crash, finite gradients equal run to run."""
    code = textwrap.dedent("""
        import torch
        import relukit.torch as rt
        x = torch.randn(4, 6)
        m = torch.nn.Sequential(torch.nn.Linear(6, 6), rt.GELU(bits=4)).eval()
        torch.export.export(m, (x,))
        for mod in (rt.GELU(bits=4), rt.SiLU(bits=4), rt.GELU("tanh", bits=4)):
            grads = []
            for _ in range(2):
                leaf = x.clone().requires_grad_()
                mod(leaf).sum().backward()
                grads.append(leaf.grad)
            assert torch.isfinite(grads[0]).all() and torch.equal(grads[0], grads[1])
        print("OK")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("OK"), proc.stderr[-2000:]


BAD_BITS = [2.5, 9, 0, "4", True]


def _entries(bits):
    x = torch.randn(3, 6, requires_grad=True)
    model = nn.Sequential(nn.Linear(6, 6), nn.GELU())
    return {
        "GELU": lambda: rt.GELU(bits=bits),
        "SiLU": lambda: rt.SiLU(bits=bits),
        "Mish": lambda: rt.Mish(bits=bits),
        "functional.gelu": lambda: RF.gelu(x, bits=bits),
        "functional.silu": lambda: RF.silu(x, bits=bits),
        "functional.mish": lambda: RF.mish(x, bits=bits),
        "convert": lambda: rt.convert(model, bits=bits),
    }


@pytest.mark.parametrize("bits", BAD_BITS, ids=[repr(b) for b in BAD_BITS])
def test_bad_bits_same_error_everywhere(bits):
    """The same bad value: the same exception type and a message naming ``bits`` wherever it
    enters (module, functional, convert)."""
    seen = {}
    for where, fn in _entries(bits).items():
        with pytest.raises((TypeError, ValueError)) as info:
            fn()
        assert "bits" in str(info.value), (where, str(info.value))
        seen[where] = type(info.value)
    assert len(set(seen.values())) == 1, seen


@pytest.mark.parametrize("param,value,make", [
    ("alpha", "a", lambda v: (rt.ELU(alpha=v), lambda x: RF.elu(x, alpha=v))),
    ("negative_slope", "a", lambda v: (rt.LeakyReLU(v), lambda x: RF.leaky_relu(x, v))),
    ("min_val", "a", lambda v: (rt.Hardtanh(v, 1.0), lambda x: RF.hardtanh(x, v, 1.0))),
], ids=["elu_alpha", "leaky_slope", "hardtanh_min"])
def test_bad_param_same_error_module_and_functional(param, value, make):
    x = torch.randn(3, 6, requires_grad=True)
    errors = []
    try:
        module, fn = make(value)
        calls = [lambda: module(x), lambda: fn(x)]
    except (TypeError, ValueError) as e:  # rejected at construction: fine, compare that
        errors.append(e)
        functional = {"alpha": RF.elu, "negative_slope": RF.leaky_relu,
                      "min_val": lambda x, v: RF.hardtanh(x, v, 1.0)}[param]
        calls = [lambda: functional(x, value)]
    for call in calls:
        with pytest.raises((TypeError, ValueError)) as info:
            call()
        errors.append(info.value)
    assert len({type(e) for e in errors}) == 1, errors
    assert all(param in str(e) for e in errors), [str(e) for e in errors]
