"""Which modules are activations, and what counts as *active* for each of them.

Every recognised activation gets an :class:`ActivationSpec`: an open interval ``(low, high)``
of outputs in which the unit passes gradient. Outside it the unit sits in a zero-gradient
region (ReLU: ``y <= 0``; ReLU6: ``y <= 0`` or ``y >= 6``; Hardtanh: the clamps) or, for
sigmoid/tanh, is *saturated*. Both bounds come from the catalogue (``relukit.get(name)``):
the value at the breakpoints that bound ``dead_region`` for piecewise-linear functions, the
asymptotes for saturating smooth ones. Nothing about a function is re-typed here.

Saturation threshold (sigmoid, tanh): a unit is saturated when its output lies within
``saturation_margin`` (default 0.01) of the output range from an asymptote — sigmoid
``y < 0.01`` or ``y > 0.99`` (``|x| > 4.6``), tanh ``|y| > 0.98`` (``|x| > 2.3``). There the
derivative is below 4 % of its peak, so the gradient through the unit is practically gone.

Modules are recognised by, in this order: a ``catalogue_name`` attribute (``relukit.torch``
modules), the torch.nn class (walking the MRO, so subclasses count), the qualified class name
of Hugging Face ``transformers.activations`` classes. Activations called functionally
(``F.relu(x)`` inside a ``forward``) are invisible to hooks: wrap them in a module to observe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from .. import catalogue

#: "gate": has a zero-gradient/saturated region, can die (relu, relu6, hardtanh, sigmoid...);
#: "signed": no dead region but a negative side worth reporting (leaky, prelu, elu, gelu...);
#: "plain": neither (softplus and unknown extras): only sparsity is reported.
Kind = Literal["gate", "signed", "plain"]

DEFAULT_SATURATION_MARGIN = 0.01


@dataclass(frozen=True)
class ActivationSpec:
    """What the monitor needs to know about one activation module."""

    name: str  #: catalogue name, or the class name for activations outside the catalogue
    kind: Kind
    low: float | None = None  #: active iff low < y (None: no lower bound)
    high: float | None = None  #: active iff y < high (None: no upper bound)
    saturating: bool = False  #: sigmoid/tanh: inactive means saturated rather than dead

    @property
    def zero_floor(self) -> bool:
        """Output is >= 0 and active iff > 0 (relu, crelu): zeros need no second count."""
        return self.low == 0.0 and self.high is None


#: torch.nn activation classes by catalogue name (inverted): the one map the lab reads too.
TORCH_NN_NAMES: dict[type, str] = {
    nn.ReLU: "relu",
    nn.ReLU6: "relu6",
    nn.Hardtanh: "hardtanh",
    nn.LeakyReLU: "leaky_relu",
    nn.PReLU: "prelu",
    nn.RReLU: "rrelu",
    nn.ELU: "elu",
    nn.CELU: "celu",
    nn.SELU: "selu",
    nn.GELU: "gelu",
    nn.SiLU: "silu",
    nn.Mish: "mish",
    nn.Softplus: "softplus",
    nn.Sigmoid: "sigmoid",
    nn.Tanh: "tanh",
}

# torch.nn activations outside the catalogue: (low, high) read off their definitions.
_TORCH_EXTRAS: dict[type, ActivationSpec] = {
    nn.Hardsigmoid: ActivationSpec("Hardsigmoid", "gate", 0.0, 1.0, saturating=False),
    nn.Hardswish: ActivationSpec("Hardswish", "signed"),
    nn.LogSigmoid: ActivationSpec("LogSigmoid", "plain"),
    nn.Softsign: ActivationSpec("Softsign", "signed"),
    nn.Tanhshrink: ActivationSpec("Tanhshrink", "signed"),
}

_HF_PREFIX = "transformers.activations."
_HF_NAMES: dict[str, str] = {
    "GELUActivation": "gelu",
    "NewGELUActivation": "gelu",
    "FastGELUActivation": "gelu",
    "QuickGELUActivation": "gelu",
    "AccurateGELUActivation": "gelu",
    "ClippedGELUActivation": "gelu",
    "GELUTanh": "gelu",
    "PytorchGELUTanh": "gelu",
    "SiLUActivation": "silu",
    "MishActivation": "mish",
}
_HF_EXTRAS: dict[str, ActivationSpec] = {
    # relu(x)**2: zero, with zero gradient, for x <= 0.
    "ReLUSquaredActivation": ActivationSpec("ReLUSquaredActivation", "gate", 0.0, None),
    "LaplaceActivation": ActivationSpec("LaplaceActivation", "plain"),
    "SqrtSoftplusActivation": ActivationSpec("SqrtSoftplusActivation", "plain"),
    "XIELUActivation": ActivationSpec("XIELUActivation", "signed"),
}


def spec_for(module: nn.Module, saturation_margin: float = DEFAULT_SATURATION_MARGIN
             ) -> ActivationSpec | None:
    """The :class:`ActivationSpec` of ``module``, or None when it is not an activation."""
    name = getattr(module, "catalogue_name", None)
    if isinstance(name, str):
        return _catalogue_spec(name, _module_params(module), saturation_margin)
    for cls in type(module).__mro__:
        if cls in TORCH_NN_NAMES:
            return _catalogue_spec(TORCH_NN_NAMES[cls], _module_params(module), saturation_margin)
        if cls in _TORCH_EXTRAS:
            return _TORCH_EXTRAS[cls]
        qualified = f"{cls.__module__}.{cls.__qualname__}"
        if qualified.startswith(_HF_PREFIX):
            short = qualified[len(_HF_PREFIX):]
            if short in _HF_NAMES:
                return _catalogue_spec(_HF_NAMES[short], {}, saturation_margin, label=short)
            if short in _HF_EXTRAS:
                return _HF_EXTRAS[short]
    return None


def _module_params(module: nn.Module) -> dict:
    """Scalar hyper-parameters a module carries under the catalogue's parameter names."""
    out = {}
    for key in ("min_val", "max_val", "negative_slope", "alpha", "beta", "threshold"):
        value = getattr(module, key, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = float(value)
    return out


def _catalogue_spec(name: str, params: dict, margin: float, label: str | None = None
                    ) -> ActivationSpec:
    act = catalogue.get(name)
    params = {k: v for k, v in params.items() if k in {p.name for p in act.params}}
    label = label or act.name
    if act.doubles_axis:
        # crelu: both halves are relu outputs (of x and -x): active iff > 0.
        return ActivationSpec(label, "gate", 0.0, None)
    if act.dead_region is not None:
        points = act.breakpoints(**params)
        low = float(act(np.array([points[0]]), **params)[0])
        high = float(act(np.array([points[-1]]), **params)[0]) if act.saturating else None
        return ActivationSpec(label, "gate", low, high)
    if act.saturating:
        lo_asym, hi_asym = (float(v) for v in act(np.array([-np.inf, np.inf]), **params))
        span = hi_asym - lo_asym
        return ActivationSpec(label, "gate", lo_asym + margin * span, hi_asym - margin * span,
                              saturating=True)
    probe = float(act(np.array([-1.0]), **params)[0])
    if math.isfinite(probe) and probe < 0:
        return ActivationSpec(label, "signed")
    return ActivationSpec(label, "plain")


def resolve_unit_dim(shape: torch.Size, override: int | None, after_conv1d: bool) -> int:
    """The unit (feature/channel) dimension of an activation output of ``shape``.

    Rule: ``override`` when given; a 1-D tensor is one sample, its units along dim 0;
    3-D tensors are sequences ``(N, T, C)`` with units on the last dim — except right after a
    Conv1d, whose output is ``(N, C, L)``; every other tensor is ``(N, C, ...)``: dim 1.
    """
    ndim = len(shape)
    if override is not None:
        if not -ndim <= override < ndim:
            raise ValueError(
                f"unit_dim={override} is out of range for an activation output of shape "
                f"{tuple(shape)}; valid: {-ndim} .. {ndim - 1}"
            )
        return override % ndim
    if ndim <= 1:
        return 0
    if ndim == 3 and not after_conv1d:
        return 2
    return 1
