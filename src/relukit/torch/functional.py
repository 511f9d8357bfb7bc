"""Drop-in replacements for ``torch.nn.functional``'s activations with a lean backward.

Same names, parameters and forward values as torch (defaults from ``relukit.catalogue``).
When no gradient is needed the call is torch's own function; otherwise an autograd function
from ``relukit.torch.autograd`` saves only what the exact gradient needs:

==================================  ==================================================
function (default ``saves``)        saved for backward beyond the output
==================================  ==================================================
relu, leaky_relu, relu6, hardtanh   1 bit per element ("mask"); nothing ("output":
                                    torch's backward kernel on the output)
crelu                               1 bit per output element (2 per input element)
prelu                               nothing if every weight > 0 (the output suffices),
                                    else 1 bit (+ the input where a weight is exactly 0)
rrelu (training)                    1 bit + the generator state (once per call)
elu (alpha >= 0), celu, selu        nothing (f' from the output); elu alpha < 0: 1 bit
gelu, silu, mish ("input")          the input, as torch; "output": 1 bit per element
                                    (f' recovered by inverting f, approximate near the
                                    minimum: bounds in tests/torch/test_torch_inverse.py)
gelu, silu, mish (bits=k)           k bits per element (approximate gradient)
softplus                            the input, as torch
sigmoid, tanh                       nothing (torch already uses the output)
==================================  ==================================================

Gradients are bitwise torch's, except: elu/celu/selu use ``y + alpha`` for ``alpha * exp(x)``
(bitwise torch's *in-place* ELU, within rounding of the out-of-place one); prelu's weight
gradient is ``sum(grad * y) / weight`` (within rounding); hardtanh/relu6 give a NaN input the
gradient 0, as torch's vectorised kernel does (its scalar tail loop passes the gradient).
Double backward works for every exact mode and raises a clear error for ``bits=k`` and for
gelu/silu/mish with ``saves="output"``. Catalogue entries with a ``TorchRule`` (hardswish,
hardsigmoid, relu2, quick_gelu) are built at the end of this module; their ``saves`` modes are
in their docstrings.
The eager CPU path costs one extra pass over the input in forward (the comparison), and one
over the result in backward (the unpacked mask); ``bits=k`` is a memory-for-time trade on CPU
(interval search and table lookups); on CUDA Triton kernels (``relukit.torch.triton_kernels``)
do each of the mask, the k-bit codes and the gradient in one pass. Times against torch's:
``benchmarks/bench_torch_speed.py`` (README, "Benchmarks").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import catalogue
from .._numpy_impl import SELU_ALPHA as _SELU_ALPHA
from .._numpy_impl import SELU_SCALE as _SELU_SCALE
from . import _validate
from . import autograd as _ag

__all__ = [
    "relu", "leaky_relu", "prelu", "rrelu", "relu6", "crelu", "elu", "celu", "selu",
    "hardtanh", "gelu", "silu", "mish", "softplus", "sigmoid", "tanh",
]


def _defaults(name: str) -> dict:
    return catalogue.get(name).defaults


_LEAKY = _defaults("leaky_relu")
_RRELU = _defaults("rrelu")
_ELU = _defaults("elu")
_CELU = _defaults("celu")
_HARDTANH = _defaults("hardtanh")
_GELU = _defaults("gelu")
_SOFTPLUS = _defaults("softplus")
# ReLU6 is hardtanh between its breakpoints.
_RELU6_MIN, _RELU6_MAX = catalogue.get("relu6").breakpoints()
_HALF = (torch.float16, torch.bfloat16)


def _bind(name: str, **params) -> dict:
    params = {k: _validate.real(v) for k, v in params.items()}
    return catalogue.get(name).bind((), params)


def _check_tensor(name: str, x) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: x must be a torch.Tensor, got {type(x).__name__}")


def _check_inplace(name: str, inplace) -> bool:
    return _validate.flag(name, "inplace", inplace)


def _tracing() -> bool:
    """Under torch.compile/export/jit the call is torch's own op with no checks in Python:
    dynamo traces it without a graph break, and a symbolic float parameter
    (``dynamic=True``) is never handed to Python's math."""
    return torch.compiler.is_compiling() or torch.jit.is_tracing() or torch.jit.is_scripting()


# ----------------------------------------------------------------------------- piecewise linear


def relu(x: torch.Tensor, inplace: bool = False, *, saves: str = "mask") -> torch.Tensor:
    """max(0, x). ``saves="mask"``: backward keeps 1 bit per element; ``"output"`` or
    ``"input"``: torch's op, whose backward reads the output (free when the next layer keeps
    it, as a Linear does)."""
    if _tracing():
        return F.relu(x, inplace)
    _check_tensor("relu", x)
    inplace = _check_inplace("relu", inplace)
    saves = _validate.saves("relu", saves, _validate.SAVES_PIECEWISE)
    if saves == "mask" and _ag.use_lean(x):
        return _ag.ReLUFunction.apply(x, inplace)
    return torch.relu_(x) if inplace else torch.relu(x)


def leaky_relu(
    x: torch.Tensor, negative_slope: float = _LEAKY["negative_slope"], inplace: bool = False,
    *, saves: str = "mask",
) -> torch.Tensor:
    """x if x > 0 else negative_slope * x. ``saves="mask"``: backward keeps 1 bit per
    element; ``"output"``: the output only (negative_slope >= 0); ``"input"``: torch's op."""
    if _tracing():
        return F.leaky_relu(x, negative_slope, inplace)
    _check_tensor("leaky_relu", x)
    inplace = _check_inplace("leaky_relu", inplace)
    saves = _validate.saves("leaky_relu", saves, _validate.SAVES_PIECEWISE)
    p = _bind("leaky_relu", negative_slope=negative_slope)
    slope = float(p["negative_slope"])
    if saves == "output" and slope < 0:
        raise ValueError(
            f"leaky_relu: saves='output' needs negative_slope >= 0 (got {slope}): a negative "
            "slope maps x < 0 to y > 0, so the output does not tell the side; valid: "
            "saves='mask' or 'input'"
        )
    if saves != "input" and _ag.use_lean(x):
        if saves == "output":
            return _ag.FromOutputFunction.apply(x, "leaky_relu", slope, 0.0, inplace)
        return _ag.LeakyReLUFunction.apply(x, slope, inplace)
    return F.leaky_relu(x, slope, inplace=inplace)


def hardtanh(
    x: torch.Tensor,
    min_val: float = _HARDTANH["min_val"],
    max_val: float = _HARDTANH["max_val"],
    inplace: bool = False,
    *,
    saves: str = "mask",
) -> torch.Tensor:
    """clamp(x, min_val, max_val). ``saves="mask"``: backward keeps 1 bit per element;
    ``"output"``: the output only; ``"input"``: torch's op."""
    if _tracing():
        return F.hardtanh(x, min_val, max_val, inplace)
    _check_tensor("hardtanh", x)
    inplace = _check_inplace("hardtanh", inplace)
    saves = _validate.saves("hardtanh", saves, _validate.SAVES_PIECEWISE)
    p = _bind("hardtanh", min_val=min_val, max_val=max_val)
    lo, hi = float(p["min_val"]), float(p["max_val"])
    return _clamp(x, lo, hi, inplace, saves, lambda: F.hardtanh(x, lo, hi, inplace=inplace))


def _clamp(x, lo, hi, inplace, saves, torch_fn):
    if saves == "input" or not _ag.use_lean(x):
        return torch_fn()
    if saves == "output":
        return _ag.FromOutputFunction.apply(x, "hardtanh", lo, hi, inplace)
    return _ag.HardtanhFunction.apply(x, lo, hi, inplace)


def relu6(x: torch.Tensor, inplace: bool = False, *, saves: str = "mask") -> torch.Tensor:
    """min(max(0, x), 6). ``saves="mask"``: backward keeps 1 bit per element; ``"output"``:
    the output only; ``"input"``: torch's op."""
    if _tracing():
        return F.relu6(x, inplace)
    _check_tensor("relu6", x)
    inplace = _check_inplace("relu6", inplace)
    saves = _validate.saves("relu6", saves, _validate.SAVES_PIECEWISE)
    return _clamp(x, float(_RELU6_MIN), float(_RELU6_MAX), inplace, saves,
                  lambda: F.relu6(x, inplace=inplace))


def crelu(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """cat(relu(x), relu(-x)) along ``dim``; backward keeps 1 bit per output element."""
    if _tracing():
        return _torch_crelu(x, dim)
    _check_tensor("crelu", x)
    dim = _validate.dim("crelu", dim, x.dim())
    if _ag.use_lean(x):
        return _ag.CReLUFunction.apply(x.reshape(1) if x.dim() == 0 else x, dim)
    return _torch_crelu(x, dim)


def _torch_crelu(x: torch.Tensor, dim: int) -> torch.Tensor:
    """crelu in torch's own ops (torch has none): what runs where the lean path does not."""
    if x.dim() == 0:
        x = x.reshape(1)
    return torch.cat((torch.relu(x), torch.relu(-x)), dim)


def prelu(x: torch.Tensor, weight: torch.Tensor, *, saves: str = "output") -> torch.Tensor:
    """x if x > 0 else weight * x, one weight or one per channel (dim 1).

    ``saves="output"`` (default): with every weight > 0 the backward keeps only the output;
    ``saves="input"``: torch's own op (keeps the input), for code that modifies the output
    in place afterwards (``y += residual``), which would invalidate a kept output.
    """
    if _tracing():
        return F.prelu(x, weight)
    _check_tensor("prelu", x)
    saves = _validate.saves("prelu", saves)
    if not isinstance(weight, torch.Tensor):
        raise TypeError(
            f"prelu: weight must be a torch.Tensor (1 element or one per channel), got "
            f"{type(weight).__name__}"
        )
    if weight.dim() > 1:
        raise ValueError(f"prelu: weight must be 0-D or 1-D, got shape {tuple(weight.shape)}")
    if weight.numel() != 1:
        channels = x.shape[1] if x.dim() >= 2 else None
        if channels != weight.numel():
            raise ValueError(
                f"prelu: weight has {weight.numel()} elements; valid: 1 or the size of dim 1 "
                f"of x ({channels if channels is not None else 'x has no dim 1'})"
            )
    # half types: torch's op (the weight gradient from a rounded output is not exact enough),
    # and so under autocast, which rounds x before the op
    lean = (saves == "output" and x.dim() > 0 and x.dtype not in _HALF
            and weight.dtype not in _HALF and x.dtype == weight.dtype
            and not torch.is_autocast_enabled(x.device.type))
    if lean and _ag.use_lean(x, weight):
        return _ag.PReLUFunction.apply(x, weight)
    return F.prelu(x, weight)


def rrelu(
    x: torch.Tensor,
    lower: float = _RRELU["lower"],
    upper: float = _RRELU["upper"],
    training: bool = False,
    inplace: bool = False,
) -> torch.Tensor:
    """Randomized leaky ReLU; in training the slopes are redrawn in backward, not saved."""
    if _tracing():
        return F.rrelu(x, lower, upper, training, inplace)
    _check_tensor("rrelu", x)
    inplace = _check_inplace("rrelu", inplace)
    training = _validate.flag("rrelu", "training", training)
    p = _bind("rrelu", lower=lower, upper=upper, training=training)
    lo, hi = float(p["lower"]), float(p["upper"])
    # torch's eval-mode rrelu returns a contiguous output for any layout: its op there
    if not _ag.use_lean(x) or not (training or x.is_contiguous()):
        return F.rrelu(x, lo, hi, training, inplace)
    if training:
        return _ag.RReLUTrainFunction.apply(x, lo, hi, inplace)
    # torch's eval mode: leaky_relu with the mean slope
    return _ag.LeakyReLUFunction.apply(x, (lo + hi) / 2, inplace)


# ----------------------------------------------------------------------------- exponential


def _elu_family(name, x, alpha, scale, input_scale, inplace, saves, torch_fn):
    _check_tensor(name, x)
    saves = _validate.saves(name, saves)
    # half types keep the input, as torch: f' from an output rounded to 8-11 bits misses
    # torch's half gradient by more than its rounding in the saturated tail (in place, torch
    # itself keeps the output, and so does relukit)
    if saves == "output" and (inplace or x.dtype not in _HALF) and _ag.use_lean(x):
        return _ag.ELUFunction.apply(x, alpha, scale, input_scale, inplace)
    return torch_fn()


def elu(x: torch.Tensor, alpha: float = _ELU["alpha"], inplace: bool = False, *,
        saves: str = "output") -> torch.Tensor:
    """x if x > 0 else alpha * (exp(x) - 1); backward keeps the output only (alpha >= 0).

    ``saves="input"``: torch's own op, for code that modifies the output in place afterwards.
    """
    if _tracing():
        return F.elu(x, alpha, inplace)
    inplace = _check_inplace("elu", inplace)
    a = float(_bind("elu", alpha=alpha)["alpha"])
    return _elu_family("elu", x, a, 1.0, 1.0, inplace, saves, lambda: F.elu(x, a, inplace))


def celu(x: torch.Tensor, alpha: float = _CELU["alpha"], inplace: bool = False, *,
         saves: str = "output") -> torch.Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)); backward keeps the output only.

    ``saves="input"``: torch's own op, for code that modifies the output in place afterwards.
    """
    if _tracing():
        return F.celu(x, alpha, inplace)
    inplace = _check_inplace("celu", inplace)
    a = float(_bind("celu", alpha=alpha)["alpha"])
    return _elu_family("celu", x, a, 1.0, 1.0 / a, inplace, saves,
                       lambda: F.celu(x, a, inplace))


def selu(x: torch.Tensor, inplace: bool = False, *, saves: str = "output") -> torch.Tensor:
    """scale * elu(x, alpha) with the self-normalising constants; keeps the output only.

    ``saves="input"``: torch's own op, for code that modifies the output in place afterwards.
    """
    if _tracing():
        return F.selu(x, inplace)
    inplace = _check_inplace("selu", inplace)
    return _elu_family(
        "selu", x, _SELU_ALPHA, _SELU_SCALE, 1.0, inplace, saves, lambda: F.selu(x, inplace)
    )


# ----------------------------------------------------------------------------- smooth


_CODEBOOKS: dict[tuple, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}


def _codebook_tensors(name: str, approximate: str, bits: int, device: torch.device):
    """The codebook of (name, approximate, bits) as tensors on ``device``, cached.

    Only plain eager calls reach here (``use_lean``), and the tensors are built with every
    tracing and fake mode switched off, so no cached constant can be a tracer's tensor.
    """
    key = (name, approximate, bits, device)
    cached = _CODEBOOKS.get(key)
    if cached is None:
        from torch.utils._python_dispatch import _disable_current_modes

        from .fewbit import get_codebook

        cb = get_codebook(name, bits, approximate)
        with _disable_current_modes(), torch._C._DisableFuncTorch():
            cached = (
                torch.tensor(cb.boundaries, dtype=torch.float64, device=device),
                torch.tensor(cb.interval_codes, dtype=torch.uint8, device=device),
                torch.tensor(cb.levels, dtype=torch.float64, device=device),
            )
        if all(type(t) is torch.Tensor for t in cached):
            _CODEBOOKS[key] = cached
    return cached


def _smooth(name: str, x, approximate: str, bits, inplace: bool, saves, torch_fn):
    _check_tensor(name, x)
    _validate.bits(name, bits)
    saves = _validate.saves(name, saves)
    if not _ag.use_lean(x) or (bits is None and saves == "input"):
        return torch_fn()
    if bits is None:
        return _ag.InvertedFunction.apply(x, name, approximate, inplace)
    if inplace:
        raise ValueError(f"{name}: inplace=True is supported only with bits=None")
    boundaries, codes, levels = _codebook_tensors(name, approximate, bits, x.device)
    return _ag.KBitFunction.apply(x, name, approximate, boundaries, codes, levels, bits)


_SMOOTH_SAVES = """``saves="input"`` (default): torch's op, which keeps the input;
    ``saves="output"``: keeps the output and 1 bit per element (the side of f's minimum) and
    recovers f' from them (``relukit.torch.inverse``; error bounds in its tests), nothing more
    when the next layer keeps the output; ``bits=k`` (1..8): a k-bit code of f' instead
    (approximate), whatever ``saves`` says."""


def gelu(x: torch.Tensor, approximate: str = _GELU["approximate"], bits: int | None = None,
         *, saves: str = "input") -> torch.Tensor:
    """x * Phi(x) (or its tanh form)."""
    if _tracing():
        return F.gelu(x, approximate=approximate)
    approx = _bind("gelu", approximate=approximate)["approximate"]
    return _smooth("gelu", x, approx, bits, False, saves, lambda: F.gelu(x, approximate=approx))


def silu(x: torch.Tensor, bits: int | None = None, inplace: bool = False, *,
         saves: str = "input") -> torch.Tensor:
    """x * sigmoid(x)."""
    if _tracing():
        return F.silu(x, inplace)
    inplace = _check_inplace("silu", inplace)
    return _smooth("silu", x, "none", bits, inplace, saves,
                   lambda: F.silu(x, inplace=inplace))


def mish(x: torch.Tensor, bits: int | None = None, inplace: bool = False, *,
         saves: str = "input") -> torch.Tensor:
    """x * tanh(softplus(x))."""
    if _tracing():
        return F.mish(x, inplace)
    inplace = _check_inplace("mish", inplace)
    return _smooth("mish", x, "none", bits, inplace, saves,
                   lambda: F.mish(x, inplace=inplace))


for _fn in (gelu, silu, mish):
    _fn.__doc__ = f"{_fn.__doc__}\n\n    {_SMOOTH_SAVES}\n    "


def softplus(
    x: torch.Tensor,
    beta: float = _SOFTPLUS["beta"],
    threshold: float = _SOFTPLUS["threshold"],
) -> torch.Tensor:
    """log(1 + exp(beta x)) / beta, linear above ``threshold``; torch's function."""
    if _tracing():
        return F.softplus(x, beta, threshold)
    _check_tensor("softplus", x)
    p = _bind("softplus", beta=beta, threshold=threshold)
    return F.softplus(x, p["beta"], p["threshold"])


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """1 / (1 + exp(-x)); torch's function (its backward already uses the output)."""
    if not _tracing():
        _check_tensor("sigmoid", x)
    return torch.sigmoid(x)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh(x); torch's function (its backward already uses the output)."""
    if not _tracing():
        _check_tensor("tanh", x)
    return torch.tanh(x)


# ----------------------------------------------------------------------------- from the catalogue

_HALF_WIDE = {torch.float16: torch.float32, torch.bfloat16: torch.float32}


def _from_rule(act: catalogue.Activation):
    """The function of an activation whose torch layer is its catalogue ``TorchRule``."""
    rule = act.torch_rule
    assert rule is not None and not act.params, act.name
    name = act.name

    def output_gradient(t, grad, y, *bits):
        wide = _HALF_WIDE.get(y.dtype)
        if wide is None:
            return grad * rule.from_output(t, y, *bits)
        # half types: f' in float32, the product rounded once (as torch's half kernels do)
        return (grad.to(wide) * rule.from_output(t, y.to(wide), *bits)).to(grad.dtype)

    lo, hi, slope = rule.mask or (0.0, 0.0, 0.0)

    def mask_gradient(t, grad, alive):
        if rule.mask_kernel is not None:  # torch's kernel on a stand-in input: bitwise
            return rule.mask_kernel(t, grad, t.where(alive, (lo + hi) / 2, hi).to(grad.dtype))
        return t.where(alive, grad * slope, 0.0)

    def fn(x: torch.Tensor, inplace: bool = False, *,
           saves: str = act.default_saves or "input") -> torch.Tensor:
        if _tracing():
            return rule.forward(torch, x, inplace)
        _check_tensor(name, x)
        inplace = _check_inplace(name, inplace)
        if inplace and not rule.inplace:
            raise ValueError(f"{name}: inplace=True is not supported (torch has no in-place "
                             f"{name}); valid: inplace=False")
        saves = _validate.saves(name, saves, act.saves or ("input",))
        if saves == "input" or not _ag.use_lean(x):
            return rule.forward(torch, x, inplace)
        if saves == "mask":
            rules = _ag.mask_rules("outside", (lo, hi))
            return _ag.RuleFunction.apply(x, rule.forward, rules, mask_gradient, False, inplace)
        rules = _ag.mask_rules("above", rule.output_bits)
        return _ag.RuleFunction.apply(x, rule.forward, rules, output_gradient, True, inplace)

    keeps = {"mask": "1 bit per element",
             "output": f"the output and {len(rule.output_bits)} bit(s) per element",
             "input": "torch's own autograd (the input)"}
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"{act.formula}; f' = {act.derivative_formula}.\n\n    ``saves``: "
                  + "; ".join(f'"{m}": {keeps[m]}' for m in (act.saves or ("input",)))
                  + f" (default {act.default_saves!r}). Built from ``relukit.get({name!r})``"
                  ".torch_rule.\n    ")
    return fn


for _act in catalogue.all_activations():
    if _act.torch_rule is not None:
        globals()[_act.name] = _from_rule(_act)
        __all__.append(_act.name)
