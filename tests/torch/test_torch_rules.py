"""The activations whose torch layer is built from the catalogue's ``TorchRule``: forward values
are torch's (or Hugging Face's / timm's ops) bit for bit; each ``saves=`` mode's gradient against
torch's autograd; what each mode keeps; convert() of torch.nn / transformers / timm classes by
qualified name; the diagnostics' rule. One entry per activation in each table below."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import relukit
import relukit.torch as rt
from relukit.diagnostics.kinds import spec_for
from relukit.torch import functional as RF
from relukit.torch import saved_tensor_bytes
from relukit.torch.convert import convert

TF = torch.nn.functional


def _cls(name, module, forward):
    """A stand-in for a third-party class: only its qualified name matters to convert()."""
    return type(name, (nn.Module,), {"forward": forward, "__module__": module,
                                     "__qualname__": name})


#: name -> torch's (or HF's / timm's) function in torch ops
REFERENCE = {
    "hardswish": TF.hardswish,
    "hardsigmoid": TF.hardsigmoid,
    "relu2": lambda x: torch.square(torch.relu(x)),  # Hugging Face's ReLUSquaredActivation
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),  # HF QuickGELUActivation, timm
}
#: name -> {mode: bits per element kept beyond the output (None: the input, as torch)}
KEEPS = {
    "hardswish": {"output": 2, "input": None},
    "hardsigmoid": {"mask": 1, "input": None},
    "relu2": {"output": 0, "input": None},
    "quick_gelu": {"input": None},
}
#: name -> [(class as convert() meets it, forward "bitwise" or "rounding")]
CONVERTS = {
    "hardswish": [(nn.Hardswish, "bitwise"),
                  (_cls("HardSwish", "timm.layers.activations",
                        lambda self, x: x * TF.relu6(x + 3.0) / 6.0), "rounding")],
    "hardsigmoid": [(nn.Hardsigmoid, "bitwise"),
                    (_cls("HardSigmoid", "timm.layers.activations",
                          lambda self, x: TF.relu6(x + 3.0) / 6.0), "rounding")],
    "relu2": [(_cls("ReLUSquaredActivation", "transformers.activations",
                    lambda self, x: torch.square(torch.relu(x))), "bitwise")],
    "quick_gelu": [(_cls("QuickGELUActivation", "transformers.activations",
                         lambda self, x: x * torch.sigmoid(1.702 * x)), "bitwise"),
                   (_cls("QuickGELU", "timm.layers.activations",
                         lambda self, x: x * torch.sigmoid(1.702 * x)), "bitwise")],
}
#: name -> (read on the input, lowest active value, highest, can die)
DIAGNOSED = {
    "hardswish": (True, -3.0, None, True),
    "hardsigmoid": (False, 0.0, 1.0, True),
    "relu2": (False, 0.0, None, True),
    "quick_gelu": (True, pytest.approx(-3.61, abs=0.01), None, False),  # saturated tail
}
NAMES = sorted(REFERENCE)
DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]


def test_every_rule_activation_is_tested_here():
    built = {a.name for a in relukit.all_activations() if a.torch_rule is not None}
    assert built == set(REFERENCE) == set(KEEPS) == set(CONVERTS) == set(DIAGNOSED)


def _x(dtype):
    grid = torch.linspace(-7, 7, 2801, dtype=torch.float64)
    kinks = torch.tensor([-3.0, 3.0, -1.5, 0.0, -0.0, 1e-3, -1e-3])
    return torch.cat([grid, kinks, kinks.nextafter(torch.tensor(9.0)),
                      kinks.nextafter(torch.tensor(-9.0))]).to(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_every_mode_against_torch(name, dtype):
    act = relukit.get(name)
    fn, ref = getattr(RF, name), REFERENCE[name]
    for mode in act.saves:
        x = _x(dtype).requires_grad_()
        xr = _x(dtype).requires_grad_()
        y, yr = fn(x, saves=mode), ref(xr)
        assert torch.equal(y, yr), (name, mode)
        g, = torch.autograd.grad(y, x, torch.ones_like(y))
        gr, = torch.autograd.grad(yr, xr, torch.ones_like(yr))
        if name == "hardswish" and mode == "output":
            # f' = +-sqrt(9 + 24 y) / 6 from the rounded output: within its rounding, worst
            # at the minimum (x = -1.5), where f' is 0 and y's rounding is amplified
            tol = {torch.float64: 1e-7, torch.float32: 2e-3, torch.float16: 5e-2,
                   torch.bfloat16: 2e-1}[dtype]
            torch.testing.assert_close(g.double(), gr.double(), rtol=0, atol=tol)
        elif name == "relu2" and mode == "output":
            # 2 sqrt(y) is 2x exactly where x^2 is a normal number; below, y's underflow
            # loses bits of a gradient smaller than 2 sqrt(tiny)
            normal = yr.detach() >= torch.finfo(dtype).tiny
            assert torch.equal(g[normal], gr[normal])
            bound = 4 * torch.finfo(dtype).tiny ** 0.5
            assert (g[~normal] - gr[~normal]).abs().max() <= bound
        else:
            assert torch.equal(g, gr), (name, mode, (g - gr).abs().max())


@pytest.mark.parametrize("name", NAMES)
def test_what_each_mode_keeps(name):
    x = torch.randn(4096, requires_grad=True)
    for mode, bits in KEEPS[name].items():
        kept = saved_tensor_bytes(lambda t, m=mode: getattr(RF, name)(t, saves=m), x,
                                  exclude_output=True)
        if bits is None:
            assert kept >= 4 * x.numel(), (name, mode)  # torch's autograd keeps a tensor
        else:
            assert kept == bits * x.numel() // 8, (name, mode)


@pytest.mark.parametrize("name", NAMES)
def test_module_inplace_and_bad_arguments(name):
    act = relukit.get(name)
    cls = getattr(rt, act.module)
    x = torch.randn(100, dtype=torch.float64)
    if act.torch_rule.inplace:
        z = x.clone().requires_grad_() * 1
        assert cls(inplace=True)(z) is z
        assert torch.equal(z, REFERENCE[name](x))
    else:
        with pytest.raises(ValueError, match="inplace"):
            cls(inplace=True)
        with pytest.raises(ValueError, match="inplace"):
            getattr(RF, name)(x, True)
    with pytest.raises(ValueError, match="saves"):
        getattr(RF, name)(x, saves="bits")
    for base in (c for c, _ in CONVERTS[name] if c.__module__.startswith("torch.nn")):
        assert isinstance(cls(), base)


@pytest.mark.parametrize("name", NAMES)
def test_convert_recognises_their_classes_by_qualified_name(name):
    model = nn.Sequential(*(c() for c, _ in CONVERTS[name]))
    ref = copy.deepcopy(model)
    summary = convert(model)
    assert [r.activation for r in summary.replaced] == [name] * len(model)
    assert [r.forward for r in summary.replaced] == [f for _, f in CONVERTS[name]]
    x = torch.linspace(-6, 6, 1201, dtype=torch.float64)
    for new, old in zip(model, ref, strict=True):
        torch.testing.assert_close(new(x), old(x), rtol=1e-15, atol=1e-15)
        assert type(new).__module__ == "relukit.torch.modules"


@pytest.mark.parametrize("name", NAMES)
def test_diagnostics_read_their_rule(name):
    on_input, low, high, can_die = DIAGNOSED[name]
    spec = spec_for(getattr(rt, relukit.get(name).module)())
    assert (spec.on_input, spec.low, spec.high, spec.can_die) == (on_input, low, high, can_die)


def test_a_settling_module_keeps_the_output():
    m = nn.Sequential(nn.Linear(8, 8), rt.ReLUSquared(), nn.Linear(8, 8))
    x = torch.randn(4, 8)
    for _ in range(2):
        m(x).sum().backward()
    assert m[1].saves == "output"


def test_hardswish_module_left_to_itself_keeps_torchs_exact_gradient():
    """f' from hardswish's output is a square root of the rounded output near the minimum
    (x = -1.5): up to ~1e-4 off in float32. A module that picks its mode itself, and the
    planner, must keep the input there; saves="output" asked for explicitly is honoured."""
    torch.manual_seed(0)
    x = (-1.5 + 1e-3 * torch.randn(64, 16)).requires_grad_()
    ref = nn.Hardswish()
    (g_ref,) = torch.autograd.grad(ref(x).sum(), x)
    ours = rt.Hardswish()
    for _ in range(2):  # the first training call settles
        (g,) = torch.autograd.grad(ours(x).sum(), x)
    assert torch.equal(g, g_ref)
    model = nn.Sequential(nn.Linear(16, 16), nn.Hardswish(), nn.Linear(16, 4))
    summary = convert(model, example_inputs=(torch.randn(8, 16),))
    assert model[1].saves == "input", summary
    # without example inputs the summary reports what the module will keep: its input
    assert convert(nn.Sequential(nn.Hardswish())).replaced[0].saved_bits_after == 32
    (g_out,) = torch.autograd.grad(rt.Hardswish(saves="output")(x).sum(), x)
    assert not torch.equal(g_out, g_ref)  # the explicit mode is the approximate one


def test_single_mode_module_refuses_other_saves():
    with pytest.raises(ValueError, match="QuickGELU: invalid saves='output'; valid values: input"):
        rt.QuickGELU(saves="output")
    assert rt.QuickGELU(saves="input").saves == "input"


def test_hardswish_output_mode_error_near_its_minimum():
    """The README's bound for hardswish with saves="output" in float32: f' recovered from the
    rounded output is within 1.5e-4 of the exact one (measured about 1.2e-4 at x near -1.5)."""
    x64 = torch.cat([torch.linspace(-1.6, -1.4, 400_001, dtype=torch.float64),
                     torch.linspace(-7.0, 7.0, 100_001, dtype=torch.float64)])
    x = x64.float().requires_grad_()
    (g,) = torch.autograd.grad(RF.hardswish(x, saves="output").sum(), x)
    xd = x.detach().double()
    exact = torch.where(xd <= -3, 0.0, torch.where(xd >= 3, 1.0, (2 * xd + 3) / 6))
    err = (g.double() - exact).abs()
    assert err.max().item() <= 1.5e-4
    assert err.max().item() > 1e-5  # the bound is not vacuous: the rounding shows
