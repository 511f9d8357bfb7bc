"""Meta device, CPU bf16 autocast, channels_last, float16/bfloat16 inputs and
torch.utils.checkpoint: relukit's model (and after convert()) against torch's."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from compat_cases import (  # noqa: E402
    build_act,
    build_model,
    case_params,
    compare,
    randn_like,
    run_pair,
    x_input,
)
from torch.utils.checkpoint import checkpoint  # noqa: E402


def _fwd_bwd(model, x, gseed=2, ctx=None):
    leaf = x.clone().requires_grad_()
    if ctx is None:
        y = model(leaf.clone())  # a non-leaf, as in a network: in-place modules may run
    else:
        with ctx:
            y = model(leaf.clone())
    y.backward(randn_like(y, seed=gseed).to(y.dtype) if y.device.type != "meta"
               else torch.ones_like(y))
    return y.detach(), [leaf.grad] + [p.grad for p in model.parameters()]


def _grad_ref_flavour(case):
    return "relukit" if case.kbit else "torch"


@pytest.mark.parametrize("case,flavour", case_params())
def test_meta(case, flavour, note):
    """Forward+backward on the meta device: same shapes, dtypes and strides as torch's."""
    x = x_input().to("meta")

    def run(fl):
        model = build_model(case, fl).to("meta")
        return _fwd_bwd(model, x)

    def check(o, r):
        for a, b in zip([o[0]] + o[1], [r[0]] + r[1], strict=False):
            assert (a is None) == (b is None)
            if a is not None:
                assert a.device.type == "meta"
                assert (a.shape, a.dtype, a.stride()) == (b.shape, b.dtype, b.stride())

    run_pair(lambda: run("torch"), lambda: run(flavour), check, note)


def _bf16_close(o, r, case, what):
    # both run the activation in bfloat16 under autocast; gradients within bf16 rounding
    compare(o, r, case, what, tol=(2 * 2.0**-8, 1e-2))


@pytest.mark.parametrize("case,flavour", case_params())
def test_autocast_bf16(case, flavour, note):
    """CPU autocast to bfloat16 (Linear runs in bf16, the activation sees bf16), fwd+bwd."""
    x = x_input()
    ctx = torch.autocast("cpu", dtype=torch.bfloat16)

    def check(o, r):
        assert o[0].dtype == r[0].dtype
        compare(o[0], r[0], case, "forward", tol=(0, 0))
        _bf16_close(o[1], r[1], case, "grads")

    run_pair(lambda: _fwd_bwd(build_model(case, _grad_ref_flavour(case)), x, ctx=ctx),
             lambda: _fwd_bwd(build_model(case, flavour), x, ctx=ctx), check, note)


@pytest.mark.parametrize("case,flavour", case_params())
def test_channels_last(case, flavour, note):
    """A channels_last (N, C, H, W) input: output and input gradient have torch's strides."""
    x = x_input((2, 6, 3, 3), seed=4).contiguous(memory_format=torch.channels_last)

    def run(act):
        y, grads = _fwd_bwd(act, x)
        return y, grads[0], y.stride(), grads[0].stride()

    def check(o, r):
        compare(o[0], r[0], case, "forward", tol=(0, 0))
        compare(o[1], r[1], case, "input grad")
        assert o[2] == r[2], "output strides"
        assert o[3] == r[3], "input gradient strides"

    run_pair(lambda: run(build_act(case, _grad_ref_flavour(case))),
             lambda: run(build_act(case, flavour)), check, note)


def _ulp(t: torch.Tensor) -> torch.Tensor:
    """One unit of rounding of t's dtype at |t| (subnormal spacing below the normal range)."""
    fi = torch.finfo(t.dtype)
    a = t.abs().float().clamp_min(fi.tiny)
    return torch.exp2(torch.floor(torch.log2(a))) * fi.eps


@pytest.mark.parametrize("case,flavour", case_params())
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["fp16", "bf16"])
def test_half(dtype, case, flavour, note):
    """float16/bfloat16 inputs over [-12, 8]: forward bitwise torch's in that dtype; gradients
    never of the opposite sign to torch's and within 2 units of rounding at the gradient's own
    scale (bits=k: of relukit's bits=k gradient computed in float32)."""
    x = torch.linspace(-12, 8, 402).reshape(67, 6)
    x[0] = torch.tensor([0.0, -0.0, 6.0, -2.0, 3.0, -1.0])
    x = x.to(dtype)
    ours = build_act(case, flavour).to(dtype)
    ref = case.make_torch().to(dtype)
    y, g = _fwd_bwd(ours, x)
    y_ref, g_ref = _fwd_bwd(ref, x)
    compare(y, y_ref, case, "forward", tol=(0, 0))
    if case.kbit:
        y32, g32 = _fwd_bwd(build_act(case, flavour), x.float())
        g_ref = [t.to(dtype) if t is not None else None for t in g32]
    for i, (a, b) in enumerate(zip(g, g_ref, strict=False)):
        assert a.dtype == b.dtype == dtype
        if not case.kbit:
            opposite = (a.float() * b.float() < 0).sum().item()
            assert opposite == 0, f"grad[{i}]: {opposite} elements of the opposite sign"
        err = (a.float() - b.float()).abs()
        bound = 2 * _ulp(b)
        bad = (err > bound) & ~(torch.isnan(a) & torch.isnan(b))
        assert not bool(bad.any()), (
            f"grad[{i}]: {int(bad.sum())} elements off by more than 2 units, worst "
            f"{float((err / bound).max()) * 2:.1f} units")


@pytest.mark.parametrize("case,flavour", case_params())
@pytest.mark.parametrize("reentrant", [True, False], ids=["reentrant", "non_reentrant"])
def test_checkpoint(reentrant, case, flavour, note):
    """torch.utils.checkpoint around the model: values and gradients equal torch's."""
    x = x_input()

    class Ckpt(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return checkpoint(self.inner, x, use_reentrant=reentrant)

    def check(o, r):
        compare(o[0], r[0], case, "forward", tol=(0, 0))
        compare(o[1], r[1], case, "grads")

    run_pair(lambda: _fwd_bwd(Ckpt(build_model(case, _grad_ref_flavour(case))), x),
             lambda: _fwd_bwd(Ckpt(build_model(case, flavour)), x), check, note)
