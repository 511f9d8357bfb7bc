"""What the backward keeps, measured with saved_tensors_hooks (bytes, not time), and the
packing it relies on checked against numpy.packbits."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402
from torch import nn  # noqa: E402

import relukit.torch as rt  # noqa: E402
from relukit.torch import functional as F  # noqa: E402
from relukit.torch import packing  # noqa: E402

N = 1 << 16  # elements per probe: saved bytes per element are exact multiples of 1/8


def per_element(fn, n=N, dtype=torch.float32, **kw) -> float:
    x = torch.randn(n, dtype=dtype, requires_grad=True)
    return rt.saved_tensor_bytes(lambda t: fn(t, **kw), x) / n


# ----------------------------------------------------------------------------- packing


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 63, 64, 65, 1000, 4099])
def test_pack_mask_is_numpy_packbits(n):
    mask = torch.rand(n, generator=torch.Generator().manual_seed(n)) > 0.5
    expected = np.packbits(mask.numpy())  # MSB first, zero padding: the documented layout
    assert np.array_equal(packing.pack_mask(mask).numpy(), expected)
    assert torch.equal(packing.unpack_mask(packing.pack_mask(mask), n), mask)
    x = torch.where(mask, 1.0, -1.0)
    fast = packing.pack_flags(x, lambda t, out: torch.le(t, 0, out=out), writes_alive=False)
    assert np.array_equal(fast.numpy(), expected)
    alive = packing.pack_flags(x, lambda t, out: torch.gt(t, 0, out=out), writes_alive=True)
    assert np.array_equal(alive.numpy(), expected)
    assert torch.equal(packing.unpack_flags_bool(fast, n), mask)
    flags = packing.unpack_flags_float(fast, n, torch.float32)
    assert torch.equal(flags > 0, mask) and torch.all(flags >= 0)


@pytest.mark.parametrize("bits", range(1, 9))
def test_pack_codes_round_trip_and_size(bits):
    n = 1001
    codes = torch.randint(0, 2**bits, (n,), generator=torch.Generator().manual_seed(bits),
                          dtype=torch.uint8)
    packed = packing.pack_codes(codes, bits)
    assert packed.dtype == torch.uint8 and packed.numel() <= bits * ((n + 7) // 8) + 8
    assert torch.equal(packing.unpack_codes(packed, n, bits), codes)
    if bits < 8:  # plane b is numpy's packbits of bit b of every code
        for b in range(bits):
            plane = ((codes.numpy() >> b) & 1).astype(bool)
            assert np.array_equal(packed[b].numpy(), np.packbits(plane))


# ----------------------------------------------------------------------------- saved bytes


@pytest.mark.parametrize("name,fn", [
    ("relu", F.relu), ("leaky_relu", F.leaky_relu), ("relu6", F.relu6),
    ("hardtanh", F.hardtanh), ("rrelu_eval", F.rrelu),
])
def test_piecewise_save_one_bit(name, fn):
    assert per_element(fn) == 1 / 8
    assert per_element(fn, dtype=torch.bfloat16) == 1 / 8
    assert per_element(fn, n=N + 3) <= 1 / 8 + 1 / N  # padding to a whole byte


def test_torch_reference_saves_full_tensors():
    # the premise of the issue: torch's own functions keep the input (4 bytes in float32)
    assert per_element(TF.gelu) == 4
    assert per_element(TF.leaky_relu) == 4
    assert per_element(TF.elu) == 4
    assert per_element(TF.gelu, dtype=torch.bfloat16) == 2


def test_elu_family_saves_only_the_output():
    for fn in (F.elu, F.celu, F.selu):
        x = torch.randn(N, requires_grad=True)
        saved: list = []

        def keep(t, saved=saved):
            saved.append(t)
            return t

        with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
            y = fn(x)
        assert len(saved) == 1 and saved[0].data_ptr() == y.data_ptr()
    assert per_element(F.elu, alpha=-0.5) == 4 + 1 / 8  # output + the sign bit


def test_crelu_prelu_rrelu_bytes():
    assert per_element(F.crelu, dim=0) == 2 / 8  # 1 bit per output element
    w = nn.Parameter(torch.tensor([0.25]))
    x = torch.randn(N, requires_grad=True)
    # weight > 0: the output alone (kept anyway by the next layer); a Parameter is not counted
    assert rt.saved_tensor_bytes(F.prelu, x, w) == 4 * N
    with torch.no_grad():
        w.fill_(-0.5)
    assert rt.saved_tensor_bytes(F.prelu, x, w) == N // 8 + 4 * N  # + 1 bit for the region
    with torch.no_grad():
        w.zero_()
    assert rt.saved_tensor_bytes(F.prelu, x, w) == N // 8 + 4 * N  # the input, not the output
    frozen = torch.tensor([-0.25])
    assert rt.saved_tensor_bytes(lambda t: F.prelu(t, frozen), x) == N // 8 + 4
    state_bytes = torch.get_rng_state().numel()
    assert per_element(F.rrelu, training=True) == 1 / 8 + state_bytes / N


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_kbit_saves_k_bits(bits):
    levels_bytes = 8 * 2**bits  # the float64 level table, shared by all elements
    for name in ("gelu", "silu", "mish"):
        fn = getattr(F, name)
        assert per_element(fn, bits=bits) == bits / 8 + levels_bytes / N
    assert per_element(F.gelu) == 4  # bits=None saves the input, as torch


def test_linear_act_linear_block_extra_bits():
    """Saved tensors of Linear -> act -> Linear beyond the same block with nn.Identity."""
    d, h, batch = 32, 128, 64

    def block_bytes(act):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(d, h), act, nn.Linear(h, d))
        return rt.saved_tensor_bytes(model, torch.randn(batch, d))

    base = block_bytes(nn.Identity())
    hidden = batch * h
    extra_bits = {name: (block_bytes(act) - base) * 8 / hidden for name, act in [
        ("relukit relu", rt.ReLU()), ("relukit leaky", rt.LeakyReLU()),
        ("relukit elu", rt.ELU(saves="output")), ("relukit selu", rt.SELU(saves="output")),
        ("relukit relu6", rt.ReLU6()),
        ("relukit gelu4", rt.GELU(bits=4)),
        ("torch relu", nn.ReLU()), ("torch leaky", nn.LeakyReLU()), ("torch elu", nn.ELU()),
        ("torch gelu", nn.GELU()),
    ]}
    assert extra_bits["relukit relu"] == 1
    assert extra_bits["relukit leaky"] == 1
    assert extra_bits["relukit relu6"] == 1
    assert extra_bits["relukit elu"] == 0 and extra_bits["relukit selu"] == 0
    assert extra_bits["relukit gelu4"] == 4 + 8 * 16 * 8 / hidden
    assert extra_bits["torch leaky"] == 32 and extra_bits["torch elu"] == 32
    assert extra_bits["torch gelu"] == 32 and extra_bits["torch relu"] == 0


def test_saved_tensor_bytes_dedupes_storages_and_skips_parameters():
    lin = nn.Linear(8, 8)
    x = torch.randn(4, 8)
    # Linear saves its input and its weight; the weight is a parameter: only x counts
    assert rt.saved_tensor_bytes(lin, x) == x.numel() * 4

    def two_views(t):
        return (t * t[:2].sum()) + t.exp()  # mul saves t and a view of t; exp saves its output

    t = torch.randn(16, requires_grad=True)
    assert rt.saved_tensor_bytes(two_views, t) == 16 * 4 + 16 * 4 + 4
    with pytest.raises(TypeError, match="unexpected keyword"):
        rt.saved_tensor_bytes(lin, x, bogus=1)


@pytest.mark.parametrize("make", [rt.ELU, rt.CELU, rt.SELU, rt.PReLU])
def test_output_keeping_module_settles_after_one_training_step(make):
    """saves=None: the first training step runs torch's op (keeps the input), watches the
    output and settles on keeping the output, which Linear -> act -> Linear keeps anyway."""
    d, h, batch = 8, 64, 16
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(d, h), make(), nn.Linear(h, d))
    reference = nn.Sequential(nn.Linear(d, h), nn.Identity(), nn.Linear(h, d))
    x = torch.randn(batch, d)
    base = rt.saved_tensor_bytes(reference, x)
    assert model[1].saves is None
    assert rt.saved_tensor_bytes(model, x) - base == batch * h * 4  # the probe: torch's bytes
    model(x).sum().backward()
    assert rt.saved_tensor_bytes(model, x) - base == 0
    assert model[1].saves == "output"


class _GatedMLP(nn.Module):
    """Llama's MLP: down(act(gate(x)) * up(x)). The product keeps act's output."""

    def __init__(self, act, d=16, h=48):
        super().__init__()
        self.gate, self.up, self.down = nn.Linear(d, h), nn.Linear(d, h), nn.Linear(h, d)
        self.act = act

    def forward(self, x):
        return self.down(self.act(self.gate(x)) * self.up(x))


@pytest.mark.parametrize("make", [lambda s: rt.SiLU(saves=s), lambda s: rt.GELU(saves=s),
                                  lambda s: rt.Mish(saves=s)])
def test_gated_mlp_output_mode_costs_one_bit_beyond_the_product_inputs(make):
    torch.manual_seed(0)
    batch, h = 32, 48
    x = torch.randn(batch, 16)
    exact, lean = _GatedMLP(make("input")), _GatedMLP(make("output"))
    lean.load_state_dict(exact.state_dict())
    saved_exact = rt.saved_tensor_bytes(exact, x)
    saved_lean = rt.saved_tensor_bytes(lean, x)
    # the activation's input (float32) gives way to 1 bit per element
    assert saved_exact - saved_lean == batch * h * 4 - batch * h // 8
    for model in (exact, lean):
        model.zero_grad()
        model(x).square().sum().backward()
    for a, b in zip(exact.parameters(), lean.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, atol=2e-4, rtol=1e-4)
