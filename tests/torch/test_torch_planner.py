"""convert(model, example_inputs=...): the planner's choice per site, on models where the right
answer differs, checked against the bytes torch's autograd actually keeps."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
rt = pytest.importorskip("relukit.torch")
from torch import nn  # noqa: E402

from relukit.torch import planner  # noqa: E402
from relukit.torch.convert import convert  # noqa: E402


def _plan(model: nn.Module, x: torch.Tensor):
    summary = convert(model, example_inputs=(x,))
    return {r.name: r for r in summary.replaced}, summary


def _grads(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    model.zero_grad()
    torch.manual_seed(1)
    model(x).square().sum().backward()
    return [p.grad.clone() for p in model.parameters()]


def _same_training_step(build, x: torch.Tensor, atol: float = 0.0, reference=None):
    """convert(example_inputs=) leaves outputs and gradients as torch's (bitwise for the exact
    modes of relu/elu, where f' is read from the mask or the output exactly). ``reference``
    builds torch's version where torch itself cannot run ``build``'s model."""
    torch.manual_seed(0)
    ref = (reference or build)()
    torch.manual_seed(0)
    model = build()
    plans, summary = _plan(model, x)
    got, want = _grads(model, x), _grads(ref, x)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, atol=atol, rtol=0)
    return plans, summary


def test_relu_before_linear_keeps_the_output():
    """Linear keeps its input, which is ReLU's output: keeping it costs nothing."""
    x = torch.randn(16, 32)
    plans, summary = _same_training_step(
        lambda: nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 8)), x)
    assert plans["1"].saves == "output"
    assert "keeps its output" in plans["1"].reason
    # torch keeps the same output tensor: nothing more, nothing less
    assert summary.saved_bytes_after == summary.saved_bytes_before
    bare = nn.Sequential(nn.Linear(32, 64), nn.Identity(), nn.Linear(64, 8))
    assert summary.saved_bytes_after == rt.saved_tensor_bytes(bare, x)


def test_relu_before_global_average_pool_keeps_a_mask():
    """AdaptiveAvgPool2d keeps nothing of its input: a 1-bit mask is the least."""
    x = torch.randn(4, 3, 16, 16)
    plans, summary = _same_training_step(
        lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                              nn.Flatten(), nn.Linear(8, 2)), x)
    assert plans["1"].saves == "mask"
    hidden = 4 * 8 * 16 * 16
    # torch keeps ReLU's float32 output; the mask is 1 bit per element
    assert summary.saved_bytes_before - summary.saved_bytes_after == hidden * 4 - hidden // 8


def test_relu_before_avg_pool2d_keeps_the_output():
    """Unlike the adaptive one, torch's avg_pool2d keeps its input (its backward reads it):
    so the output is already kept and the planner says so."""
    x = torch.randn(4, 3, 16, 16)
    plans, summary = _same_training_step(
        lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
                              nn.Flatten(), nn.Linear(8 * 64, 2)), x)
    assert plans["1"].saves == "output"
    assert summary.saved_bytes_after == summary.saved_bytes_before


def test_elu_before_inplace_dropout_keeps_the_input():
    """Dropout(inplace=True) overwrites ELU's output: it cannot be kept, and ELU's f' does not
    come from a mask, so the input (torch's behaviour)."""
    x = torch.randn(16, 32)

    def build():
        return nn.Sequential(nn.Linear(32, 64), nn.ELU(), nn.Dropout(0.5, inplace=True),
                             nn.Linear(64, 8))

    plans, summary = _same_training_step(build, x)
    assert plans["1"].saves == "input"
    assert "in place" in plans["1"].reason
    assert summary.saved_bytes_after == summary.saved_bytes_before


def test_relu_before_inplace_dropout_keeps_a_mask():
    """torch itself fails here (its ReLU keeps the output that the dropout overwrites); the
    planner keeps a mask, and the gradients are those of the out-of-place model."""
    x = torch.randn(16, 32)

    def build(inplace=True):
        return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Dropout(0.5, inplace=inplace),
                             nn.Linear(64, 8))

    plans, summary = _same_training_step(build, x, reference=lambda: build(False))
    assert plans["1"].saves == "mask"
    assert summary.saved_bytes_after is not None


def test_gelu_before_linear_keeps_the_input_on_cpu():
    """A GELU whose output the next Linear keeps: "output" would cost 1 bit per element, but on
    CPU recovering f' from the output costs several times torch's backward, so the planner keeps
    the input there and says why. On other devices it keeps the output."""
    x = torch.randn(16, 32)
    plans, summary = _same_training_step(
        lambda: nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 8)), x)
    assert plans["1"].saves == "input"
    assert "CPU" in plans["1"].reason and "saves='output'" in plans["1"].reason
    assert summary.saved_bytes_after == summary.saved_bytes_before
    gelu = rt.GELU()
    assert planner._choose("smooth", False, True, gelu, torch.device("cuda")) == (
        "output", "a later op keeps its output anyway: nothing extra")
    assert planner._choose("smooth", False, False, gelu, torch.device("cuda"))[0] == "input"
    assert planner._choose("smooth", True, True, gelu, torch.device("cuda"))[0] == "input"


def test_gelu_set_to_output_after_planning_keeps_one_bit():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 8))
    x = torch.randn(16, 32)
    before = rt.saved_tensor_bytes(model, x)
    convert(model, example_inputs=(x,))
    model[1].saves = "output"
    assert before - rt.saved_tensor_bytes(model, x) == 16 * 64 * 4 - 16 * 64 // 8


def test_mish_with_saves_output_trains_like_torch():
    """Mish keeps its input on CPU too; set to "output", it keeps 1 bit per element instead
    and its gradients stay within the inverse's error."""
    x = torch.randn(16, 32)
    torch.manual_seed(0)
    ref = nn.Sequential(nn.Linear(32, 64), nn.Mish(), nn.Linear(64, 8))
    model = nn.Sequential(nn.Linear(32, 64), nn.Mish(), nn.Linear(64, 8))
    model.load_state_dict(ref.state_dict())
    plans, _ = _plan(model, x)
    assert plans["1"].saves == "input"
    model[1].saves = "output"
    assert rt.saved_tensor_bytes(ref, x) - rt.saved_tensor_bytes(model, x) == (
        16 * 64 * 4 - 16 * 64 // 8)
    for g, w in zip(_grads(model, x), _grads(ref, x), strict=True):
        torch.testing.assert_close(g, w, atol=1e-4, rtol=1e-4)


class _Residual(nn.Module):
    """The same ReLU module at two sites: before a Linear (output kept) and before an in-place
    add (output modified). Only the mask is safe for both."""

    def __init__(self, inplace=True):
        super().__init__()
        self.fc1, self.fc2, self.act = nn.Linear(8, 8), nn.Linear(8, 8), nn.ReLU()
        self.inplace = inplace

    def forward(self, x):
        h = self.fc2(self.act(self.fc1(x)))
        y = self.act(h)
        if self.inplace:
            y += x
            return y
        return y + x


def test_a_module_at_two_sites_gets_the_mode_safe_for_both():
    x = torch.randn(4, 8)
    plans, _ = _same_training_step(_Residual, x, reference=lambda: _Residual(False))
    assert plans["act"].saves == "mask"


def test_planning_leaves_the_random_stream_and_batchnorm_statistics_alone():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5))
    stats = [b.clone() for b in model.buffers()]
    x = torch.randn(2, 3, 8, 8)
    torch.manual_seed(5)
    convert(model, example_inputs=(x,))
    after_convert = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(after_convert, torch.rand(3))
    for a, b in zip(stats, model.buffers(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("make, settles_on", [(nn.GELU, "input"), (nn.SiLU, "input"),
                                              (nn.Mish, "input"), (nn.ELU, "output")])
def test_without_example_inputs_modules_settle_by_device(make, settles_on):
    """No example inputs: the first training step settles the mode; on CPU GELU, SiLU and Mish
    keep the input (time), ELU the output (free before a Linear)."""
    model = nn.Sequential(nn.Linear(4, 8), make(), nn.Linear(8, 4))
    convert(model)
    assert model[1].saves is None
    for _ in range(2):
        model(torch.randn(3, 4)).sum().backward()
    assert model[1].saves == settles_on
