"""The lean autograd functions behind ``relukit.torch.functional``, and ``saved_tensor_bytes``.

Each function saves for backward the least that gives torch's gradient (see the table in
``relukit.torch.functional``). Everything saved goes through ``ctx.save_for_backward`` so that
``saved_tensors_hooks`` see it and autograd's version counter catches a saved output that is
modified in place later.

Forward values come from torch's own kernels, so they are bitwise torch's. Backward values:
piecewise-linear functions call torch's own backward kernels (or, on CUDA, Triton kernels with
the same arithmetic) with the unpacked 1-bit mask in place of the input, so they are bitwise
torch's; elu/celu/selu compute f' from the output
exactly as torch's in-place ELU does (bitwise equal to it, within rounding of alpha of the
out-of-place ELU's ``alpha * exp(x)``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.autograd.forward_ad as _forward_ad
from torch import nn

from . import packing
from . import triton_kernels as _tk

_aten = torch.ops.aten


def use_lean(*tensors: torch.Tensor | None) -> bool:
    """Run a lean autograd function for these inputs? Only where it helps and composes: a
    gradient is being recorded, in plain eager autograd on CPU/CUDA tensors.

    Everywhere else torch's own op runs, which is exact and what the user had before (lean
    where it can be, never broken): under ``torch.compile``/``torch.export``/ONNX export
    (dynamo traces torch's op and its partitioner decides what to save), ``jit.trace``/
    ``jit.script``, ``torch.func`` transforms (grad, vjp, vmap, jacrev, jvp: they see torch's
    derivative formulas), forward-mode AD (``torch.autograd.forward_ad``), tensor subclasses
    (fake, functional, DTensor) and devices other than CPU/CUDA (meta).
    """
    if not torch.is_grad_enabled():
        return False
    if not any(t is not None and t.requires_grad for t in tensors):
        return False
    return plain_eager(*tensors)


def plain_eager(*tensors: torch.Tensor | None) -> bool:
    """Plain eager execution on ordinary CPU/CUDA tensors, no tracer or transform active."""
    if torch.compiler.is_compiling() or torch.jit.is_tracing() or torch.jit.is_scripting():
        return False
    if _forward_ad._current_level >= 0:  # inside torch.autograd.forward_ad.dual_level()
        return False
    if torch._C._functorch.peek_interpreter_stack() is not None:  # torch.func transforms
        return False
    for t in tensors:
        if t is None:
            continue
        if type(t) not in (torch.Tensor, nn.Parameter) or t.device.type not in ("cpu", "cuda"):
            return False
    return True


def _batched(t: torch.Tensor) -> bool:
    """Batched by torch.func.vmap or by autograd's own vmap (``is_grads_batched=True``,
    ``jacobian(vectorize=True)``), whose batching rules do not cover ``out=`` kernels."""
    if torch._C._functorch.peek_interpreter_stack() is not None:
        return True
    # autograd's legacy batching key has no name in torch._C.DispatchKey: read the set
    keys = repr(torch._C._dispatch_keys(t))
    return "Batched" in keys[keys.find("(") + 1:].replace(")", "").split(", ")


def in_backward() -> bool:
    """Inside the autograd engine (a backward pass, or the recomputation of a checkpoint)."""
    return torch._C._current_graph_task_id() != -1


# ----------------------------------------------------------------------------- layouts


def _dense_order(x: torch.Tensor) -> tuple[int, ...] | None:
    """The permutation that makes a dense, non-contiguous ``x`` (channels_last, a transpose)
    contiguous, or None (contiguous already, or not dense). Masks are packed in x's memory
    order, so the gradient comes back with x's strides, as torch's does."""
    if x.dim() < 2 or x.is_contiguous():
        return None
    strides = x.stride()
    perm = tuple(sorted(range(x.dim()), key=lambda d: (-strides[d], d)))
    return perm if x.permute(perm).is_contiguous() else None


def _in_memory_order(t: torch.Tensor, perm: tuple[int, ...] | None) -> torch.Tensor:
    return t if perm is None else t.permute(perm)


def _from_memory_order(flat: torch.Tensor, like: torch.Tensor, perm) -> torch.Tensor:
    """A flat tensor in memory order viewed with ``like``'s shape and x's layout."""
    if perm is None:
        return flat.view(like.shape)
    shape = like.shape
    inverse = sorted(range(len(perm)), key=perm.__getitem__)
    return flat.view([shape[p] for p in perm]).permute(inverse)


# ----------------------------------------------------------------------------- masks


@dataclass(frozen=True)
class _MaskRule:
    """Which elements are alive (pass the gradient through): ``write(x, out)`` puts bool
    flags into ``out``, the alive ones when ``writes_alive``, else the dead ones (comparisons
    such as ``x <= 0`` name the dead side); ``triton`` says the same to the Triton kernel."""

    write: Callable[[torch.Tensor, torch.Tensor], object]
    writes_alive: bool
    triton: tuple[int, float, float]


def _pack_alive(x: torch.Tensor, rule: _MaskRule, perm=None) -> torch.Tensor:
    """Pack x's alive flags under ``rule``, 1 bit per element, in the order of ``perm``."""
    x = _in_memory_order(x, perm)
    if _tk.available_for(x):
        return _tk.pack(x, *rule.triton)
    if packing.fast_ok():
        return packing.pack_flags(x, rule.write, rule.writes_alive)
    flags = torch.empty(x.shape, dtype=torch.bool, device=x.device)
    rule.write(x, flags)
    return packing.pack_mask(flags if rule.writes_alive else ~flags)


def _unpack(packed: torch.Tensor, n: int) -> torch.Tensor:
    """The first ``n`` packed flags as a flat bool tensor, in packing order."""
    if packing.fast_ok():
        return packing.unpack_flags_bool(packed, n)
    return packing.unpack_mask(packed, n)


def _alive(packed: torch.Tensor, like: torch.Tensor, perm=None) -> torch.Tensor:
    """The packed flags as a bool tensor shaped like ``like`` (laid out as ``perm`` says)."""
    return _from_memory_order(_unpack(packed, like.numel()), like, perm)


def _dead_le(threshold: float) -> _MaskRule:
    """dead where x <= threshold (NaN alive): torch's threshold_backward."""
    return _MaskRule(lambda x, out: torch.le(x, threshold, out=out), False,
                     (_tk.DEAD_LE, threshold, 0.0))


def _dead_ge(threshold: float) -> _MaskRule:
    """dead where x >= threshold (NaN alive)."""
    return _MaskRule(lambda x, out: torch.ge(x, threshold, out=out), False,
                     (_tk.DEAD_GE, threshold, 0.0))


def _dead_unless_gt(threshold: float) -> _MaskRule:
    """alive where x > threshold (NaN dead): torch's leaky_relu/prelu backward."""
    return _MaskRule(lambda x, out: torch.gt(x, threshold, out=out), True,
                     (_tk.DEAD_UNLESS_GT, threshold, 0.0))


def _dead_outside(lo: float, hi: float) -> _MaskRule:
    """alive where lo < x < hi: torch's hardtanh_backward. NaN counts as dead, as in
    torch's vectorised kernel (its scalar tail loop, used for the last < 16 elements of a
    tensor, lets NaN through: torch itself is inconsistent there)."""

    def write(x, out):
        low, high = lo, hi
        if x.dtype in (torch.float16, torch.bfloat16):
            # torch's kernel compares float(x) with float32 bounds; a comparison in x's own
            # dtype would round the bounds to it: use the nearest bounds on the right side
            low, high = _half_bound(lo, x.dtype, down=True), _half_bound(hi, x.dtype, down=False)
        torch.gt(x, low, out=out)
        out &= x < high

    return _MaskRule(write, True, (_tk.DEAD_OUTSIDE, lo, hi))


def _half_bound(value: float, dtype: torch.dtype, down: bool) -> float:
    """The largest (``down``) or smallest value of ``dtype`` on that side of float32(value),
    so that ``x > bound`` in ``dtype`` equals ``float(x) > float32(value)`` for every x."""
    v = float(np.float32(value))
    if dtype == torch.float16:
        with np.errstate(over="ignore"):  # beyond float16's range: inf, stepped back below
            c = np.float16(v)
        if down and float(c) > v:
            c = np.nextafter(c, np.float16(-np.inf))
        elif not down and float(c) < v:
            c = np.nextafter(c, np.float16(np.inf))
        return float(c)
    # bfloat16: the top half of a float32; truncation rounds toward zero
    bits = struct.unpack("<I", struct.pack("<f", v))[0]
    t = struct.unpack("<f", struct.pack("<I", bits & 0xFFFF0000))[0]
    if t == v:
        return t
    away = struct.unpack("<f", struct.pack("<I", (bits & 0xFFFF0000) + 0x10000))[0]
    toward_down = (v > 0) == down  # truncation is below v for positive v
    return t if toward_down else away


def _select(grad, packed, kernel, portable, rule: int, slope: float = 0.0,
            perm=None) -> torch.Tensor:
    """Backward of a masked function: grad where alive, 0 or slope * grad where dead.

    With Triton (CUDA), one kernel reads the packed bits and the gradient. Eagerly otherwise,
    ``kernel(grad, flags, out)`` is one of torch's own backward kernels reading float flags
    (> 0 where alive) where it would read the input, and writing over them. When compiling or
    building a graph of the backward (``out=`` kernels are not differentiable),
    ``portable(grad, alive_bool)``.
    """
    # ``out=`` kernels have no batching rule: a batched gradient (``is_grads_batched``,
    # ``jacobian(vectorize=True)``) takes the portable path
    plain = not torch.is_grad_enabled() and not _batched(grad)
    if plain and _tk.available_for(grad):
        g = _in_memory_order(grad, perm).contiguous()
        return _from_memory_order(_tk.select(g, packed, rule, slope).view(-1), grad, perm)
    if plain and packing.fast_ok():
        flags = packing.unpack_flags_float(packed, grad.numel(), grad.dtype)
        flags = _from_memory_order(flags, grad, perm)
        kernel(grad, flags, flags)
        return flags
    return portable(grad, _alive(packed, grad, perm))


def _zero_where_dead(grad, packed, perm=None):
    def kernel(g, flags, out):
        _aten.threshold_backward.grad_input(g, flags, 0, grad_input=out)

    return _select(grad, packed, kernel, lambda g, alive: torch.where(alive, g, 0), _tk.ZERO,
                   perm=perm)


def _slope_where_dead(grad, packed, slope: float, perm=None):
    def kernel(g, flags, out):
        _aten.leaky_relu_backward.grad_input(g, flags, slope, False, grad_input=out)

    return _select(grad, packed, kernel, lambda g, alive: torch.where(alive, g, g * slope),
                   _tk.SLOPE, slope, perm=perm)


# ----------------------------------------------------------------------------- piecewise linear


class FromOutputFunction(torch.autograd.Function):
    """leaky_relu (slope >= 0) and hardtanh/relu6 with ``saves="output"``: the output alone
    gives the region (y > 0 exactly where x > 0; lo < y < hi exactly where lo < x < hi), so
    torch's own backward kernel runs on the output, as for torch's in-place variants. Nothing
    is kept beyond the output, which the next layer usually keeps anyway."""

    @staticmethod
    def forward(ctx, x, kind: str, a: float, b: float, inplace: bool):
        F = torch.nn.functional
        if inplace:
            ctx.mark_dirty(x)
        if kind == "leaky_relu":
            y = F.leaky_relu(x, a, inplace=inplace)
        else:
            y = F.hardtanh(x, a, b, inplace=inplace)
        ctx.kind, ctx.a, ctx.b = kind, a, b
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        if ctx.kind == "leaky_relu":
            if torch.is_grad_enabled():
                g = torch.where(y > 0, grad, grad * ctx.a)
            else:
                g = _aten.leaky_relu_backward(grad, y, ctx.a, True)
        elif torch.is_grad_enabled():
            g = torch.where((y > ctx.a) & (y < ctx.b), grad, 0)
        else:
            g = _aten.hardtanh_backward(grad, y, ctx.a, ctx.b)
        return g, None, None, None, None


class ReLUFunction(torch.autograd.Function):
    """relu: saves 1 bit (x > 0, NaN counted as alive as in torch's threshold_backward)."""

    @staticmethod
    def forward(ctx, x, inplace: bool):
        ctx.perm = _dense_order(x)
        packed = _pack_alive(x, _dead_le(0.0), ctx.perm)
        if inplace:
            ctx.mark_dirty(x)
            y = torch.relu_(x)
        else:
            y = torch.relu(x)
        ctx.save_for_backward(packed)
        return y

    @staticmethod
    def backward(ctx, grad):
        (packed,) = ctx.saved_tensors
        g = _zero_where_dead(grad, packed, ctx.perm)
        return g, None


class LeakyReLUFunction(torch.autograd.Function):
    """leaky_relu (and rrelu in eval mode): 1 bit, x > 0 as torch's leaky_relu_backward."""

    @staticmethod
    def forward(ctx, x, negative_slope: float, inplace: bool):
        ctx.perm = _dense_order(x)
        packed = _pack_alive(x, _dead_unless_gt(0.0), ctx.perm)
        if inplace:
            ctx.mark_dirty(x)
            y = torch.nn.functional.leaky_relu(x, negative_slope, inplace=True)
        else:
            y = torch.nn.functional.leaky_relu(x, negative_slope)
        ctx.negative_slope = negative_slope
        ctx.save_for_backward(packed)
        return y

    @staticmethod
    def backward(ctx, grad):
        (packed,) = ctx.saved_tensors
        slope = ctx.negative_slope
        g = _slope_where_dead(grad, packed, slope, ctx.perm)

        return g, None, None


class HardtanhFunction(torch.autograd.Function):
    """hardtanh and relu6: 1 bit, min_val < x < max_val as torch's hardtanh_backward."""

    @staticmethod
    def forward(ctx, x, min_val: float, max_val: float, inplace: bool):
        ctx.perm = _dense_order(x)
        packed = _pack_alive(x, _dead_outside(min_val, max_val), ctx.perm)
        if inplace:
            ctx.mark_dirty(x)
            y = torch.nn.functional.hardtanh(x, min_val, max_val, inplace=True)
        else:
            y = torch.nn.functional.hardtanh(x, min_val, max_val)
        ctx.save_for_backward(packed)
        return y

    @staticmethod
    def backward(ctx, grad):
        (packed,) = ctx.saved_tensors
        g = _zero_where_dead(grad, packed, ctx.perm)
        return g, None, None, None


class CReLUFunction(torch.autograd.Function):
    """crelu = cat(relu(x), relu(-x)): 2 bits per input element, 1 per output element.

    One bit per input cannot tell x == 0 (both halves dead) from x < 0 (the second alive).
    """

    @staticmethod
    def forward(ctx, x, dim: int):
        ctx.perm = _dense_order(x)
        pos = _pack_alive(x, _dead_le(0.0), ctx.perm)
        neg = _pack_alive(x, _dead_ge(0.0), ctx.perm)  # relu(-x) is dead where -x <= 0
        y = torch.cat((torch.relu(x), torch.relu(-x)), dim)
        ctx.dim = dim
        ctx.save_for_backward(pos, neg)
        return y

    @staticmethod
    def backward(ctx, grad):
        pos, neg = ctx.saved_tensors
        g_pos, g_neg = grad.chunk(2, ctx.dim)
        perm = ctx.perm
        g = _zero_where_dead(g_pos, pos, perm) - _zero_where_dead(g_neg, neg, perm)
        return g, None


class PReLUFunction(torch.autograd.Function):
    """prelu. With every weight > 0 (the usual case: torch initialises 0.25) ``y > 0`` exactly
    where ``x > 0``, so torch's own backward kernel runs on the output: nothing is saved
    beyond it. Otherwise 1 bit for the region, plus, for the weight's gradient, the output:
    sum(grad * x) = sum(grad * y) / weight per channel (within rounding); where a weight is
    exactly 0 the output has lost x, and the input is saved instead. The input's gradient
    is bitwise torch's in every case."""

    @staticmethod
    def forward(ctx, x, weight):
        y = torch.nn.functional.prelu(x, weight)
        ctx.weight_grad = ctx.needs_input_grad[1]
        # one host sync on a per-channel tensor decides what is saved
        ctx.mode = "output" if bool((weight > 0).all()) else "mask"
        if ctx.mode == "output":
            ctx.save_for_backward(weight, y)
            return y
        ctx.perm = _dense_order(x)
        packed = _pack_alive(x, _dead_unless_gt(0.0), ctx.perm)
        if not ctx.weight_grad:
            ctx.save_for_backward(weight, packed)
        elif bool((weight == 0).any()):
            ctx.mode = "mask_input"
            ctx.save_for_backward(weight, packed, x)
        else:
            ctx.save_for_backward(weight, packed, y)
        return y

    @staticmethod
    def backward(ctx, grad):
        weight, *saved = ctx.saved_tensors
        shape = _weight_view_shape(grad, weight)
        w = weight.view(shape)
        dims = [d for d in range(grad.dim()) if shape[d] == 1 or weight.numel() == 1]

        def reduce(elementwise):
            total = elementwise.sum(dim=dims) if dims else elementwise
            total = total.reshape(weight.shape)
            return total if ctx.mode == "mask_input" else total / weight

        if ctx.mode == "output" and not torch.is_grad_enabled():
            (y,) = saved
            grad_x, grad_w_elementwise = _aten._prelu_kernel_backward(grad, y, w)
            return grad_x, reduce(grad_w_elementwise) if ctx.weight_grad else None
        if ctx.mode == "output":  # building a graph of the backward: differentiable ops
            (y,) = saved
            alive = y > 0
        else:
            alive = _alive(saved[0], grad, ctx.perm)
            y = saved[1] if len(saved) > 1 else None
        grad_x = torch.where(alive, grad, w * grad)
        grad_w = None
        if ctx.weight_grad:
            grad_w = reduce(torch.where(alive, 0, grad * y))
        return grad_x, grad_w


def _weight_view_shape(x: torch.Tensor, weight: torch.Tensor) -> list[int]:
    # torch.prelu: one weight for all, or one per channel along dim 1 (x.dim() >= 2)
    shape = [1] * x.dim()
    if weight.numel() > 1:
        shape[1] = weight.numel()
    return shape


class RReLUTrainFunction(torch.autograd.Function):
    """rrelu in training: 1 bit plus the generator state; the slopes are drawn again in
    backward by torch's own kernel from the saved state and the sign pattern, so they are
    the forward's slopes bit for bit."""

    @staticmethod
    def forward(ctx, x, lower: float, upper: float, inplace: bool):
        gen = _default_generator(x.device)
        state = gen.get_state()
        # torch draws the slopes in x's logical order and returns a contiguous gradient: the
        # stand-in that replays them in backward is contiguous, the mask in logical order
        ctx.perm = None
        packed = _pack_alive(x, _dead_le(0.0))
        noise = torch.empty_like(x)
        if inplace:
            ctx.mark_dirty(x)
            y = _aten.rrelu_with_noise_(x, noise, lower, upper, True)
        else:
            y = _aten.rrelu_with_noise(x, noise, lower, upper, True)
        del noise
        ctx.lower, ctx.upper = lower, upper
        ctx.shape, ctx.dtype = x.shape, x.dtype
        ctx.save_for_backward(packed, state)
        return y

    @staticmethod
    def backward(ctx, grad):
        packed, state = ctx.saved_tensors
        # torch draws a slope only where x <= 0: a stand-in with x's sign pattern replays it
        if packing.fast_ok() and not torch.is_grad_enabled():
            stand_in = packing.unpack_flags_float(packed, grad.numel(), ctx.dtype)
            # 0 where x <= 0, > 0 elsewhere
            stand_in = _from_memory_order(stand_in, grad, ctx.perm)
        else:
            stand_in = torch.where(_alive(packed, grad, ctx.perm), 1.0, -1.0).to(ctx.dtype)
        gen = torch.Generator(device=grad.device)
        gen.set_state(state)
        noise = torch.empty_like(stand_in)
        _aten.rrelu_with_noise_(stand_in, noise, ctx.lower, ctx.upper, True, gen)
        g = noise * grad if torch.is_grad_enabled() else noise.mul_(grad)
        return g, None, None, None


def _default_generator(device: torch.device) -> torch.Generator:
    if device.type == "cuda":
        return torch.cuda.default_generators[device.index or torch.cuda.current_device()]
    if device.type == "cpu":
        return torch.default_generator
    raise NotImplementedError(f"rrelu(training=True): no generator state for {device.type}")


# ----------------------------------------------------------------------------- output-based


class ELUFunction(torch.autograd.Function):
    """elu, celu, selu (torch's ``elu(x, alpha, scale, input_scale)``): saves only the output.

    With ``alpha >= 0`` (elu), any alpha (celu) and selu, ``y <= 0`` exactly where ``x <= 0``,
    so torch's in-place backward ``elu_backward(..., is_result=True, y)`` is exact and nothing
    beyond the output is kept. elu with ``alpha < 0`` maps x <= 0 to y >= 0: a 1-bit mask of
    x <= 0 is saved as well.
    """

    @staticmethod
    def forward(ctx, x, alpha: float, scale: float, input_scale: float, inplace: bool):
        packed = None
        if not _region_from_output(alpha, input_scale):
            # x > 0; NaN goes to the exp side, whose NaN torch's vectorised kernel returns
            packed = _pack_alive(x, _dead_unless_gt(0.0), _dense_order(x))
        ctx.perm = _dense_order(x)
        if inplace:
            ctx.mark_dirty(x)
            y = _aten.elu_(x, alpha, scale, input_scale)
        else:
            y = _aten.elu(x, alpha, scale, input_scale)
        ctx.coef = (alpha, scale, input_scale)
        if packed is None:
            ctx.save_for_backward(y)
        else:
            ctx.save_for_backward(y, packed)
        return y

    @staticmethod
    def backward(ctx, grad):
        y, *packed = ctx.saved_tensors
        alpha, scale, input_scale = ctx.coef
        if not packed and alpha >= 0:
            g = _aten.elu_backward(grad, alpha, scale, input_scale, True, y)
        else:  # torch's kernel refuses a negative alpha with is_result=True
            if packed:
                positive = _alive(packed[0], grad, ctx.perm)
            else:
                positive = y > 0
            negative = grad * input_scale * (y + alpha * scale)
            g = torch.where(positive, grad * scale, negative)
        return g, None, None, None, None


def _region_from_output(alpha: float, input_scale: float) -> bool:
    # x <= 0  =>  y = alpha*scale*(exp(x*input_scale) - 1) <= 0 unless alpha*input_scale < 0
    return alpha * input_scale >= 0


# ----------------------------------------------------------------------------- inverted


def _right_of_minimum(name: str, approximate: str) -> _MaskRule:
    """alive (right branch) where x >= x*, the minimum of f, compared in x's dtype as
    ``relukit.torch.inverse.branch_bits`` does (NaN: left, its gradient is NaN anyway)."""
    from . import inverse

    x_min = inverse.MINIMA[inverse.function_key(name, approximate)][0]

    thresholds: dict[torch.dtype, float] = {}

    def write(x, out):
        t = thresholds.get(x.dtype)
        if t is None:
            t = thresholds[x.dtype] = float(inverse._threshold(x_min, x.dtype).item())
        torch.ge(x, t, out=out)  # t is a value of x's dtype: compared exactly

    # the Triton kernel compares in float32: x > the float32 below x* is x >= x* there
    below = float(np.nextafter(np.float32(x_min), np.float32(-np.inf)))
    return _MaskRule(write, True, (_tk.DEAD_UNLESS_GT, below, 0.0))


def _smooth_forward(name: str, x: torch.Tensor, approximate: str,
                    inplace: bool = False) -> torch.Tensor:
    """torch's own forward of the smooth functions with an inverted or k-bit backward."""
    F = torch.nn.functional
    if name == "gelu":
        return F.gelu(x, approximate=approximate)  # torch has no in-place gelu
    if name == "silu":
        return F.silu(x, inplace=inplace)
    if name == "mish":
        return F.mish(x, inplace=inplace)
    raise ValueError(f"relukit: no inverted or k-bit backward for {name!r}; valid: gelu, "
                     "silu, mish")


class InvertedFunction(torch.autograd.Function):
    """gelu (both forms), silu, mish with ``saves="output"``: the output and 1 bit per element
    (which side of the minimum x is on); f' is recovered from them by inverting f
    (``relukit.torch.inverse``). Nothing beyond the bit when the next layer keeps the output."""

    @staticmethod
    def forward(ctx, x, name: str, approximate: str, inplace: bool):
        ctx.perm = _dense_order(x)
        packed = _pack_alive(x, _right_of_minimum(name, approximate), ctx.perm)
        if inplace:
            ctx.mark_dirty(x)
        y = _smooth_forward(name, x, approximate, inplace)
        ctx.name, ctx.approximate = name, approximate
        ctx.save_for_backward(y, packed)
        return y

    @staticmethod
    def backward(ctx, grad):
        from . import inverse

        if torch.is_grad_enabled():
            raise RuntimeError(
                f"relukit: double backward through {ctx.name}(saves='output') is not "
                "supported: its f' is recovered from the output by an iteration. Use "
                "saves='input' for higher derivatives."
            )
        y, packed = ctx.saved_tensors
        ym = _in_memory_order(y, ctx.perm)
        if _tk.available_for(ym) and ym.is_contiguous():
            from . import triton_inverse

            df = triton_inverse.derivative_from_packed(ym, packed, ctx.name, ctx.approximate)
            return grad * _from_memory_order(df.view(-1), y, ctx.perm), None, None, None
        flat = ym.reshape(-1)  # x's memory order, as the bits were packed
        # float32 (float64 for float64 y)
        df = inverse.derivative_from_flat(flat, _unpack(packed, flat.numel()), ctx.name,
                                          ctx.approximate)
        df = _from_memory_order(df, y, ctx.perm)
        if df.dtype == grad.dtype:
            return df.mul_(grad), None, None, None
        # half types: the product in float32, rounded once (as torch's half kernels do)
        return df.mul_(grad).to(grad.dtype), None, None, None


# ----------------------------------------------------------------------------- from a rule


def mask_rules(kind: str, values: tuple[float, ...]) -> tuple[_MaskRule, ...]:
    """The bits a ``catalogue.TorchRule`` keeps: "outside" (alive where lo < x < hi) or
    "above" (one bit ``x > t`` per threshold, NaN set)."""
    if kind == "outside":
        return (_dead_outside(values[0], values[1]),)
    return tuple(_dead_le(t) for t in values)


class RuleFunction(torch.autograd.Function):
    """An activation built from its catalogue ``TorchRule``: the forward is ``forward(torch,
    x, inplace)`` (torch's ops), the backward ``gradient(torch, grad, [y,] *bits)`` from the
    bits of ``rules`` (1 per element each) and, with ``keep_output``, the output."""

    @staticmethod
    def forward(ctx, x, forward, rules, gradient, keep_output: bool, inplace: bool):
        ctx.perm = _dense_order(x)
        packs = [_pack_alive(x, r, ctx.perm) for r in rules]
        if inplace:
            ctx.mark_dirty(x)
        y = forward(torch, x, inplace)
        ctx.gradient, ctx.keep_output = gradient, keep_output
        ctx.save_for_backward(*([y] if keep_output else []), *packs)
        return y

    @staticmethod
    def backward(ctx, grad):
        saved = ctx.saved_tensors
        lead = list(saved[:1]) if ctx.keep_output else []
        bits = [_alive(p, grad, ctx.perm) for p in saved[len(lead):]]
        return ctx.gradient(torch, grad, *lead, *bits), None, None, None, None, None


# ----------------------------------------------------------------------------- k-bit


#: Up to this many codebook boundaries (k <= 4), comparisons beat torch.bucketize on CPU.
_MAX_COMPARISONS = 24


class KBitFunction(torch.autograd.Function):
    """gelu/silu/mish with a k-bit code of f' (``relukit.torch.fewbit``): k bits per element."""

    @staticmethod
    def forward(ctx, x, name: str, approximate: str, boundaries, interval_codes, levels, bits: int):
        y = _smooth_forward(name, x, approximate)
        ctx.bits, ctx.shape = bits, x.shape
        if bits < 8 and _tk.available_for(x):
            ctx.save_for_backward(_tk.kbit_pack(x, boundaries, interval_codes, bits), levels)
            return y
        # half types compare in float32: rounding the boundaries to bf16 would move them
        xc = x.contiguous() if x.dtype in (torch.float32, torch.float64) else x.to(
            torch.float32, memory_format=torch.contiguous_format)
        if packing.fast_ok() and bits < 8 and boundaries.numel() <= _MAX_COMPARISONS:
            edges = boundaries.to(xc.dtype).tolist()  # rounded as bucketize would compare
            packed = packing.pack_interval_codes(xc, edges, interval_codes.tolist(), bits)
        else:
            idx = torch.bucketize(xc, boundaries.to(xc.dtype), out_int32=True)
            packed = packing.pack_codes(interval_codes.index_select(0, idx.reshape(-1)), bits)
        ctx.save_for_backward(packed, levels)
        return y

    @staticmethod
    def backward(ctx, grad):
        if torch.is_grad_enabled():
            raise RuntimeError(
                "relukit: double backward through a bits=k activation is not supported: its "
                "k-bit derivative is piecewise constant. Use bits=None for higher derivatives."
            )
        packed, levels = ctx.saved_tensors
        if ctx.bits < 8 and _tk.available_for(grad):
            grad_x = _tk.kbit_grad(grad, packed, levels, ctx.bits)
        else:
            codes = packing.unpack_codes(packed, grad.numel(), ctx.bits)
            grad_x = grad * levels.to(grad.dtype).index_select(0, codes.int()).view(ctx.shape)
        return grad_x, None, None, None, None, None, None


# ----------------------------------------------------------------------------- measuring


def saved_tensor_bytes(model_or_fn, *inputs, **kwargs) -> int:
    """Bytes of the tensors autograd saves for backward during ``model_or_fn(*inputs)``.

    Counts every tensor passed to autograd's saved-tensor hooks while the call runs in grad
    mode (``torch.autograd.graph.saved_tensors_hooks``), by storage: tensors that share a
    storage (views, an output saved by two ops) count once, with the storage's full size.
    Not counted: storages of parameters and buffers of ``model_or_fn`` when it is an
    ``nn.Module``, and of any ``nn.Parameter`` (they are kept anyway). Counted: everything else,
    including the inputs and the outputs when an op saves them, so for a single activation
    ``relu``-like functions report their packed mask and output-saving ones report the output;
    pass ``exclude=[tensors]`` to leave more storages out, and ``exclude_output=True`` to leave
    out the storage of what the call returns (kept anyway by the next layer). Non-tensor state
    kept on an autograd
    ``ctx`` (e.g. Python floats) is not a tensor and is not counted; rrelu's generator state is
    saved as a tensor and is.
    """
    exclude = kwargs.pop("exclude", ())
    exclude_output = kwargs.pop("exclude_output", False)
    if kwargs:
        raise TypeError(f"saved_tensor_bytes: unexpected keyword(s) {sorted(kwargs)}")
    kept: set[tuple] = set()
    if isinstance(model_or_fn, nn.Module):
        for t in (*model_or_fn.parameters(), *model_or_fn.buffers()):
            kept.add(_storage_key(t))
    for t in exclude:
        kept.add(_storage_key(t))
    seen: dict[tuple, torch.Tensor] = {}  # holding them keeps storages from being reused

    def pack(t: torch.Tensor):
        key = _storage_key(t)
        if key not in kept and not isinstance(t, nn.Parameter):
            seen[key] = t
        return t

    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = model_or_fn(*inputs)
    if exclude_output and isinstance(result, torch.Tensor):
        seen.pop(_storage_key(result), None)
    return sum(t.untyped_storage().nbytes() for t in seen.values())


def _storage_key(t: torch.Tensor) -> tuple:
    s = t.untyped_storage()
    return (t.device.type, t.device.index, s.data_ptr(), s.nbytes())
