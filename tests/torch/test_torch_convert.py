"""relukit.torch.convert: what is swapped, that forwards are unchanged, and the summary."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
rt = pytest.importorskip("relukit.torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from relukit.torch.convert import convert  # noqa: E402


def is_relukit(module) -> bool:
    return type(module).__module__.startswith("relukit.torch")


def saved_bytes_of_training_step(model, *inputs) -> int:
    """Bytes of the distinct storages autograd keeps for one forward (deterministic)."""
    storages = {}

    def pack(t):
        storages[(t.device, t.untyped_storage().data_ptr())] = t.untyped_storage().nbytes()
        return t

    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(*inputs)
    return sum(n for (_, ptr), n in storages.items() if ptr not in params), out


# ----------------------------------------------------------------------------- torch.nn


def torch_zoo():
    return nn.Sequential(
        nn.ReLU(), nn.LeakyReLU(0.2, inplace=True), nn.PReLU(4, init=0.1), nn.RReLU(0.1, 0.3),
        nn.ReLU6(inplace=True), nn.ELU(alpha=0.7), nn.CELU(alpha=1.3), nn.SELU(),
        nn.GELU(), nn.GELU(approximate="tanh"), nn.SiLU(), nn.Mish(),
        nn.Hardtanh(-2.0, 3.0), nn.Softplus(beta=2.0, threshold=10.0),
    )


def test_every_torch_nn_activation_is_swapped_and_computes_the_same_forward():
    model = torch_zoo().eval()
    ref = copy.deepcopy(model)
    x = torch.randn(3, 4, 5, 6, generator=torch.Generator().manual_seed(0)) * 3
    x[0, 0, 0, :3] = torch.tensor([0.0, -0.0, 6.0])
    summary = convert(model)
    assert len(summary) == len(ref) and not summary.skipped
    for old, new in zip(ref, model, strict=True):
        assert is_relukit(new), type(new)
        assert type(new).__name__ == type(old).__name__
        for attr in ("inplace", "negative_slope", "lower", "upper", "alpha", "approximate",
                     "min_val", "max_val", "beta", "threshold"):
            if hasattr(old, attr) and hasattr(new, attr):
                assert getattr(new, attr) == getattr(old, attr), attr
        assert not new.training
    # each layer on its own, so that a chain of rounding cannot hide a difference
    for old, new in zip(ref, model, strict=True):
        assert torch.equal(new(x.clone()), old(x.clone())), type(old).__name__


def test_prelu_keeps_the_same_weight_parameter_and_its_dtype():
    model = nn.Sequential(nn.Linear(4, 4), nn.PReLU(4)).double()
    weight = model[1].weight
    convert(model)
    assert model[1].weight is weight and weight.dtype == torch.float64
    assert dict(model.named_parameters()).keys() == {"0.weight", "0.bias", "1.weight"}


def test_inplace_flag_and_training_mode_are_preserved():
    model = nn.Sequential(nn.ReLU(inplace=True), nn.ELU(inplace=True)).train()
    convert(model)
    assert all(is_relukit(m) and m.training for m in model)
    assert [getattr(m, "inplace", None) for m in model] == [True, True]


def test_subclasses_are_left_alone_because_they_may_override_forward():
    class Shifted(nn.ReLU):
        def forward(self, x):
            return super().forward(x - 1)

    model = nn.Sequential(Shifted(), nn.ReLU())
    summary = convert(model)
    assert type(model[0]) is Shifted and is_relukit(model[1])
    assert [r.name for r in summary.replaced] == ["1"]


def test_a_shared_module_stays_shared():
    act = nn.GELU()
    model = nn.Sequential(nn.Linear(3, 3), act, nn.Linear(3, 3), act)
    summary = convert(model)
    assert model[1] is model[3] and is_relukit(model[1])
    assert sorted(r.name for r in summary.replaced) == ["1", "3"]


def test_forward_hooks_survive():
    model = nn.Sequential(nn.GELU())
    calls = []
    model[0].register_forward_hook(lambda m, i, o: calls.append(type(m).__module__))
    convert(model)
    assert calls == [], "convert's probes must not fire user hooks"
    model(torch.ones(2))
    assert calls and calls[0].startswith("relukit.torch")


def test_bits_apply_to_gelu_silu_mish_only():
    model = nn.Sequential(nn.GELU(), nn.ReLU(), nn.SiLU(), nn.Mish(), nn.ELU())
    summary = convert(model, bits=4)
    bits = {r.activation: r.bits for r in summary.replaced}
    assert bits == {"gelu": 4, "relu": None, "silu": 4, "mish": 4, "elu": None}
    for m in (model[0], model[2], model[3]):
        assert m.bits == 4
    gelu = next(r for r in summary.replaced if r.activation == "gelu")
    assert gelu.saved_bits_before == 32 and gelu.saved_bits_after == 4


def test_inplace_silu_with_bits_still_runs_and_gives_the_same_values():
    model = nn.Sequential(nn.Linear(4, 4), nn.SiLU(inplace=True), nn.Mish(inplace=True))
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(5))
    expected = model(x)
    convert(model, bits=3)
    out = model(x)
    assert torch.equal(out, expected)
    out.sum().backward()
    assert model[0].weight.grad is not None


def test_converted_gelu_settles_on_the_input_on_cpu():
    """On CPU recovering f' from the output costs several times torch's backward, so a
    settling GELU keeps the input there (relukit.torch.inverse.output_mode_is_fast); an
    explicit saves="output" is honoured."""
    summary = convert(nn.Sequential(nn.GELU()))
    assert summary.replaced[0].saved_bits_before == 32
    assert summary.replaced[0].saved_bits_after == 32
    assert summary.replaced[0].saves is None and "settles" in str(summary)
    model = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 4))
    convert(model)
    model(torch.randn(3, 4)).sum().backward()
    model(torch.randn(3, 4)).sum().backward()
    assert model[1].saves == "input"
    model[1].saves = "output"
    x = torch.randn(3, 4)
    base = rt.saved_tensor_bytes(nn.Sequential(model[0], model[2]), x)
    assert rt.saved_tensor_bytes(model, x) - base == 3  # 24 bits, packed in bytes


def test_lean_activations_save_at_most_one_bit_beyond_the_output():
    summary = convert(nn.Sequential(nn.LeakyReLU(), nn.ELU(), nn.ReLU6(), nn.Hardtanh(),
                                    nn.SELU(), nn.CELU()))
    for r in summary.replaced:
        assert r.saved_bits_before == 32, r
        assert r.saved_bits_after <= 1, r


# ----------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("bits", [0, 9, -1])
def test_bits_out_of_range(bits):
    with pytest.raises(ValueError, match=r"bits=.*1\.\.8"):
        convert(nn.Sequential(nn.GELU()), bits=bits)


@pytest.mark.parametrize("bits", [2.5, "4", True])
def test_bits_of_wrong_type(bits):
    with pytest.raises(TypeError, match="bits"):
        convert(nn.Sequential(nn.GELU()), bits=bits)


@pytest.mark.parametrize("param", ["include", "exclude"])
@pytest.mark.parametrize("value", [3, [1, "gelu"], {"gelu": 1}, b"gelu"])
def test_patterns_of_wrong_type(param, value):
    with pytest.raises(TypeError, match=param):
        convert(nn.Sequential(nn.GELU()), **{param: value})


def test_model_must_be_a_module():
    with pytest.raises(TypeError, match="model"):
        convert(lambda x: x)


def test_include_and_exclude_by_name_glob_and_by_activation_name():
    def build():
        return nn.ModuleDict({
            "enc": nn.Sequential(nn.GELU(), nn.ReLU()),
            "dec": nn.Sequential(nn.GELU(), nn.ReLU()),
        })

    def swapped(model):
        return sorted(n for n, m in model.named_modules() if is_relukit(m))

    m = build()
    convert(m, include="enc.*")
    assert swapped(m) == ["enc.0", "enc.1"]
    m = build()
    convert(m, include=["gelu"])
    assert swapped(m) == ["dec.0", "enc.0"]
    m = build()
    convert(m, include="GELU", exclude="dec.*")
    assert swapped(m) == ["enc.0"]
    m = build()
    summary = convert(m, include=[])
    assert swapped(m) == [] and "include/exclude" in str(summary)


def test_a_model_without_activation_modules_is_reported():
    class FunctionalMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(4, 8), nn.Linear(8, 4)

        def forward(self, x):
            return self.fc2(F.gelu(self.fc1(x)))

    summary = convert(FunctionalMLP())
    assert summary.no_activation_modules and len(summary) == 0
    assert "functions" in str(summary) and "cannot" in str(summary)
    assert not convert(nn.Sequential(nn.ReLU())).no_activation_modules


def test_the_root_module_cannot_be_swapped_and_says_why():
    summary = convert(nn.GELU())
    assert len(summary) == 0 and "no parent" in summary.skipped[0].reason


def test_summary_table_names_every_replacement():
    model = nn.Sequential(nn.Linear(2, 2), nn.GELU(), nn.Sequential(nn.LeakyReLU()))
    text = str(convert(model, bits=2))
    assert "2 replaced" in text
    for token in ("1", "2.0", "GELU", "LeakyReLU", "relukit.torch.GELU", "before", "after"):
        assert token in text


# ----------------------------------------------------------------------------- transformers


def test_hugging_face_activation_classes():
    acts = pytest.importorskip("transformers.activations")
    model = nn.ModuleDict({
        "gelu": acts.GELUActivation(),
        "gelu_python": acts.GELUActivation(use_gelu_python=True),
        "gelu_new": acts.NewGELUActivation(),
        "gelu_tanh": acts.GELUTanh(),
        "gelu_tanh_python": acts.GELUTanh(use_gelu_tanh_python=True),
        "gelu_fast": acts.FastGELUActivation(),
        "gelu_accurate": acts.AccurateGELUActivation(),
        "silu": acts.SiLUActivation(),
        "mish": acts.MishActivation(),
        "quick": acts.QuickGELUActivation(),
        "clipped": acts.ClippedGELUActivation(-1.0, 1.0),
        "relu": acts.ACT2FN["relu"],
        "leaky": acts.ACT2FN["leaky_relu"],
        "swish": acts.ACT2FN["swish"],
        "relu2": acts.ReLUSquaredActivation(),
        "hardswish": acts.ACT2FN["hardswish"],
    })
    ref = copy.deepcopy(model)
    summary = convert(model)
    forward = {r.name: r.forward for r in summary.replaced}
    assert forward == {
        "gelu": "bitwise", "gelu_python": "rounding", "gelu_new": "rounding",
        "gelu_tanh": "bitwise", "gelu_tanh_python": "rounding", "gelu_fast": "rounding",
        "gelu_accurate": "rounding", "silu": "bitwise", "mish": "bitwise", "relu": "bitwise",
        "leaky": "bitwise", "swish": "bitwise", "quick": "bitwise", "relu2": "bitwise",
        "hardswish": "bitwise",
    }
    assert {s.name for s in summary.skipped} == {"clipped"}
    assert "clipped" in summary.skipped[0].reason
    x = torch.linspace(-8, 8, 4001, dtype=torch.float64)
    for name, kind in forward.items():
        new, old = model[name](x), ref[name](x)
        if kind == "bitwise":
            assert torch.equal(new, old), name
        else:  # FastGELU: 0.7978845608 is sqrt(2/pi) to 1e-10, which moves the output by < 1e-12
            torch.testing.assert_close(new, old, rtol=2e-11, atol=2e-12, msg=name)
        if kind == "bitwise":
            assert torch.equal(model[name](x.float()), ref[name](x.float())), name
    assert type(model["quick"]).__name__ == "QuickGELU"
    assert isinstance(model["hardswish"], nn.Hardswish)


def _gpt2(activation="gelu_new"):
    tr = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = tr.GPT2Config(n_layer=2, n_embd=64, n_head=2, vocab_size=128, n_positions=64,
                        activation_function=activation, attn_pdrop=0.0, embd_pdrop=0.0,
                        resid_pdrop=0.0)
    return tr.GPT2LMHeadModel(cfg)


def test_gpt2_outputs_unchanged_and_saved_bytes_fall():
    model = _gpt2().train()  # no dropout in this config, so train mode is deterministic
    ids = torch.randint(0, 128, (4, 64), generator=torch.Generator().manual_seed(1))
    before, out_before = saved_bytes_of_training_step(model, ids)
    summary = convert(model)
    assert len(summary) == 2 and all(r.old_class.endswith("NewGELUActivation")
                                     for r in summary.replaced)
    after, out_after = saved_bytes_of_training_step(model, ids)
    # NewGELU spells tanh-GELU out in Python ops; relukit runs torch's kernel: same function,
    # different float32 rounding (a few ulp per element).
    torch.testing.assert_close(out_after.logits, out_before.logits, rtol=1e-4, atol=1e-5)
    assert after <= 0.75 * before, (before, after)
    fresh = _gpt2().train()
    convert(fresh, bits=4)
    after4, _ = saved_bytes_of_training_step(fresh, ids)
    assert after4 <= 0.70 * before, (before, after4)
    # converting the converted model again changes its bits
    again = convert(model, bits=4)
    assert [r.bits for r in again.replaced] == [4, 4]
    assert saved_bytes_of_training_step(model, ids)[0] == after4


def test_gpt2_with_exact_gelu_is_bitwise_unchanged():
    model = _gpt2("gelu").eval()
    ids = torch.randint(0, 128, (2, 32), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        before = model(ids).logits
        convert(model)
        assert torch.equal(model(ids).logits, before)


def test_bert_outputs_unchanged():
    tr = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = tr.BertConfig(num_hidden_layers=2, hidden_size=64, num_attention_heads=2,
                        intermediate_size=128, vocab_size=128, max_position_embeddings=64)
    model = tr.BertModel(cfg).eval()
    ids = torch.randint(0, 128, (2, 32), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        before = model(ids).last_hidden_state
        summary = convert(model)
        assert sorted(r.activation for r in summary.replaced) == ["gelu", "gelu", "tanh"]
        assert torch.equal(model(ids).last_hidden_state, before)


# ----------------------------------------------------------------------------- conv net


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + x)


def conv_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         Block(8), Block(8), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 10))


def test_conv_net_forward_and_gradients_are_bitwise_unchanged():
    ref = conv_net().train()
    model = copy.deepcopy(ref)
    summary = convert(model)
    assert len(summary) == 3
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    out_ref, out = ref(x), model(x)
    assert torch.equal(out, out_ref)
    out_ref.square().sum().backward()
    out.square().sum().backward()
    for (name, p_ref), p in zip(ref.named_parameters(), model.parameters(), strict=True):
        assert torch.equal(p.grad, p_ref.grad), name
    ref.eval(), model.eval()
    assert torch.equal(model(x), ref(x))


# ----------------------------------------------------------------------------- timm


def _fake_timm_class(name, forward, module="timm.layers.activations", init=None):
    def __init__(self, inplace=False):
        nn.Module.__init__(self)
        self.inplace = inplace

    cls = type(name, (nn.Module,), {"__init__": init or __init__, "forward": forward,
                                    "__module__": module, "__qualname__": name})
    return cls


def test_timm_classes_are_recognised_by_qualified_name():
    GELU = _fake_timm_class("GELU", lambda self, x: F.gelu(x))
    GELUTanh = _fake_timm_class("GELUTanh", lambda self, x: F.gelu(x, approximate="tanh"))
    Swish = _fake_timm_class("Swish", lambda self, x: x.mul(x.sigmoid()))
    Mish = _fake_timm_class("Mish", lambda self, x: x.mul(F.softplus(x).tanh()))
    SwishMe = _fake_timm_class("SwishMe", lambda self, x: x.mul(x.sigmoid()),
                               module="timm.layers.activations_me")
    QuickGELU = _fake_timm_class("QuickGELU", lambda self, x: x * torch.sigmoid(1.702 * x))
    NotTimm = _fake_timm_class("GELU", lambda self, x: F.gelu(x), module="mylib.layers")
    model = nn.Sequential(GELU(), GELUTanh(), Swish(inplace=True), Mish(), SwishMe(),
                          QuickGELU(), NotTimm())
    ref = copy.deepcopy(model)
    summary = convert(model)
    assert [r.activation for r in summary.replaced] == ["gelu", "gelu", "silu", "mish", "silu",
                                                        "quick_gelu"]
    assert summary.skipped == []
    assert type(model[6]) is NotTimm and type(model[5]).__name__ == "QuickGELU"
    x = torch.linspace(-6, 6, 1001, dtype=torch.float64)
    for i in range(6):
        torch.testing.assert_close(model[i](x.clone()), ref[i](x.clone()), rtol=1e-14,
                                   atol=1e-15)
    assert torch.equal(model[0](x), ref[0](x)) and torch.equal(model[1](x), ref[1](x))


def test_real_timm_activations():
    timm_acts = pytest.importorskip("timm.layers.activations")
    model = nn.Sequential(timm_acts.GELU(), timm_acts.GELUTanh(), timm_acts.Swish(),
                          timm_acts.Mish(), timm_acts.PReLU(), timm_acts.QuickGELU())
    ref = copy.deepcopy(model)
    summary = convert(model)
    assert len(summary) == 6 and len(summary.skipped) == 0
    x = torch.linspace(-6, 6, 1001, dtype=torch.float64).reshape(1, 1, -1)
    for i in range(6):
        torch.testing.assert_close(model[i](x.clone()), ref[i](x.clone()))


def test_package_exports_the_convert_function_even_after_its_module_is_imported():
    # relukit.torch.convert is both a module and the function: the package must bind the
    # function (an eager ``from .convert import convert`` in relukit/torch/__init__.py).
    import relukit.torch.convert  # noqa: F401

    for _ in range(2):
        summary = rt.convert(nn.Sequential(nn.ReLU()))
        assert summary.replaced[0].new_class == "relukit.torch.ReLU"


def test_saved_tensor_bytes_can_leave_out_the_returned_output():
    from relukit.torch import saved_tensor_bytes

    x = torch.randn(1024, requires_grad=True).clone()
    # torch's sigmoid saves its output only: left out, nothing remains
    assert saved_tensor_bytes(torch.sigmoid, x) == 1024 * 4
    assert saved_tensor_bytes(torch.sigmoid, x, exclude_output=True) == 0
