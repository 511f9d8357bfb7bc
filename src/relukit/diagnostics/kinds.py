"""Which modules are activations, and what *inactive* and *dead* mean for each of them.

One definition for every activation, read off the catalogue (``relukit.get(name)``), nothing
re-typed here. On one sample a unit is

* **inactive** when its derivative is at the function's low-gradient end:
  - piecewise-linear functions: on the piece with the smallest slope — ReLU ``x <= 0``
    (f' = 0), ReLU6/Hardtanh beyond a clamp (f' = 0), Leaky ReLU/PReLU/RReLU the negative
    side ``x <= 0`` (f' = the slope);
  - smooth functions: ``|f'(x)| < saturation_margin * max |f'|`` (default margin 0.01) on
    the saturated tail(s): ELU/CELU/SELU ``alpha e^x < 0.01 alpha`` (``x < -4.6``), sigmoid
    ``y < 0.0025`` or ``y > 0.9975``, tanh ``|y| > 0.995``, softplus ``sigmoid(beta x) < 0.01``,
    GELU/SiLU/Mish far on the negative side (read on the input: their output is not monotone);
* **dead** when its derivative is exactly 0: ReLU/ReLU6/Hardtanh in their flat regions, a
  sigmoid/tanh/softplus output exactly at an asymptote (their f' is computed from the output,
  and is then exactly 0). Leaky/PReLU/RReLU (non-zero slope) and ELU/CELU/SELU
  (``alpha e^x`` stays > 0 in float32 down to x = -103, long after the output rounded to
  ``-alpha``) cannot die; GELU/SiLU/Mish are not counted (their f' underflows to 0 only far
  in the tail, x < -11 for GELU in float32, where they are reported inactive).

A unit is inactive (dead) *over a window* when it is inactive (dead) on every sample of the
window; one sample in the active region keeps it active. For ReLU-type functions dead and
inactive are the same thing.

Most regions are expressed on the output, which in-place modules leave behind, as an open
interval ``(low, high)`` of *active* outputs; PReLU (whose learned slope can turn negative,
making a negative input give a positive output) and the non-monotone GELU/SiLU/Mish/Hardswish
are read on the input (``on_input``).

Modules are recognised by, in this order: a ``catalogue_name`` attribute (``relukit.torch``
modules), the torch.nn class (walking the MRO, so subclasses count), the qualified class name
of Hugging Face ``transformers.activations`` classes. Activations called functionally
(``F.relu(x)`` inside a ``forward``) are invisible to hooks: wrap them in a module to observe.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from .. import catalogue

#: "gate": f' is exactly 0 on its inactive region (relu, relu6, hardtanh...): dead = inactive;
#: "signed": a negative side worth reporting (leaky, prelu, elu, gelu...);
#: "saturating": sigmoid-like, inactive = saturated;
#: "plain": no inactive region (softsign, unknown extras): only sparsity is reported.
Kind = Literal["gate", "signed", "saturating", "plain"]

DEFAULT_SATURATION_MARGIN = 0.01


@dataclass(frozen=True)
class ActivationSpec:
    """What the monitor needs to know about one activation module.

    ``low``/``high``: a unit is *active* on a sample iff ``low < v < high`` (None: unbounded),
    with ``v`` the output, or the input when ``on_input``; no bound at all means no inactive
    region (``has_inactive_region`` False). ``dead_low``/``dead_high``: the output is where
    f' is exactly 0 iff ``y <= dead_low`` or ``y >= dead_high`` (both None: never).
    """

    name: str  #: catalogue name, or the class name for activations outside the catalogue
    kind: Kind
    low: float | None = None
    high: float | None = None
    saturating: bool = False  #: inactive means saturated (smooth functions)
    on_input: bool = False
    dead_low: float | None = None
    dead_high: float | None = None
    rule: str = ""  #: the inactive region in words, for reports

    @property
    def has_inactive_region(self) -> bool:
        return self.low is not None or self.high is not None

    @property
    def can_die(self) -> bool:
        return self.dead_low is not None or self.dead_high is not None

    @property
    def dead_is_inactive(self) -> bool:
        """f' is exactly 0 on the whole inactive region (ReLU-type): one count serves both."""
        return self.can_die and self.dead_low == self.low and self.dead_high == self.high

    @property
    def zero_floor(self) -> bool:
        """Output is >= 0 and active iff > 0 (relu, crelu): zeros need no second count."""
        return self.low == 0.0 and self.high is None and not self.on_input \
            and self.dead_is_inactive


#: torch.nn activations outside the catalogue: (low, high) read off their definitions.
_TORCH_EXTRAS: dict[type, ActivationSpec] = {
    nn.LogSigmoid: ActivationSpec("LogSigmoid", "plain"),
    nn.Softsign: ActivationSpec("Softsign", "signed"),
    nn.Tanhshrink: ActivationSpec("Tanhshrink", "signed"),
}

# Hugging Face activations outside the catalogue.
_HF_EXTRAS: dict[str, ActivationSpec] = {
    catalogue.HF + "LaplaceActivation": ActivationSpec("LaplaceActivation", "plain"),
    catalogue.HF + "SqrtSoftplusActivation": ActivationSpec("SqrtSoftplusActivation", "plain"),
    catalogue.HF + "XIELUActivation": ActivationSpec("XIELUActivation", "signed"),
}


@functools.lru_cache(maxsize=1)
def _by_class() -> dict[str, tuple[str, tuple]]:
    """Qualified class name -> catalogue name: every class ``convert`` replaces, and the ones
    the catalogue says resemble an activation (HF's clipped GELU)."""
    out = {}
    for act in catalogue.all_activations():
        for src in act.converts:
            out[src.qualname] = (act.name, src.fixed)
        for qualname in act.resembles:
            out[qualname] = (act.name, ())
    return out


def spec_for(module: nn.Module, saturation_margin: float = DEFAULT_SATURATION_MARGIN
             ) -> ActivationSpec | None:
    """The :class:`ActivationSpec` of ``module``, or None when it is not an activation."""
    name = getattr(module, "catalogue_name", None)
    if isinstance(name, str):
        return _catalogue_spec(name, _module_params(module), saturation_margin)
    by_class = _by_class()
    for cls in type(module).__mro__:
        if cls in _TORCH_EXTRAS:
            return _TORCH_EXTRAS[cls]
        qualified = f"{cls.__module__}.{cls.__qualname__}"
        if qualified in by_class:
            # torch.nn classes (and their subclasses) are labelled by the catalogue name,
            # third-party ones by their class name
            label = None if qualified.startswith(catalogue.TORCH_NN) else cls.__qualname__
            name, fixed = by_class[qualified]
            return _catalogue_spec(name, {**_module_params(module), **dict(fixed)},
                                   saturation_margin, label=label)
        if qualified in _HF_EXTRAS:
            return _HF_EXTRAS[qualified]
    return None


def _module_params(module: nn.Module) -> dict:
    """Scalar hyper-parameters a module carries under the catalogue's parameter names."""
    out: dict = {}
    for key, default in _PARAMETERS.items():
        value = getattr(module, key, None)
        if isinstance(default, str) and isinstance(value, str):
            out[key] = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = float(value)
    return out


#: The catalogue's scalar parameters (name -> a default), which modules carry as attributes.
_PARAMETERS = {p.name: p.default for a in catalogue.all_activations() for p in a.params
               if isinstance(p.default, (float, str)) and not isinstance(p.default, bool)}


def _catalogue_spec(name: str, params: dict, margin: float, label: str | None = None
                    ) -> ActivationSpec:
    items = tuple(sorted((k, v) for k, v in params.items()))
    return _cached_spec(name, items, float(margin), label)


@functools.lru_cache(maxsize=256)
def _cached_spec(name: str, items: tuple, margin: float, label: str | None) -> ActivationSpec:
    act = catalogue.get(name)
    params = {k: v for k, v in items if k in {p.name for p in act.params}}
    label = label or act.name
    if act.doubles_axis:
        # crelu: both halves are relu outputs (of x and -x): active iff > 0.
        return ActivationSpec(label, "gate", 0.0, None, dead_low=0.0, rule="y <= 0 (f' = 0)")
    if act.dead_region is not None and not act.monotone:
        # hardswish: f' = 0 below its first breakpoint, but its output is 0 at x = 0 too:
        # read on the input
        low = float(act.breakpoints(**params)[0])
        return ActivationSpec(label, "signed", low, None, on_input=True, dead_low=low,
                              rule=f"{act.dead_region} (f' = 0)")
    if act.dead_region is not None:
        points = act.breakpoints(**params)
        low = float(act(np.array([points[0]]), **params)[0])
        high = float(act(np.array([points[-1]]), **params)[0]) if act.saturating else None
        return ActivationSpec(label, "gate", low, high, dead_low=low, dead_high=high,
                              rule=f"{act.dead_region} (f' = 0)")
    if act.shape == "piecewise_linear":
        # leaky_relu, prelu, rrelu: the negative side, where f' is the slope
        slope = float(act.derivative(np.array([-1.0]), **params)[0]) if name != "prelu" else None
        dead = 0.0 if slope == 0.0 else None
        # prelu's learned slope can turn negative (a negative x then gives y > 0): the input
        return ActivationSpec(label, "signed", 0.0, None, on_input=name == "prelu",
                              dead_low=dead, rule="x <= 0 (f' = the negative slope)")
    return _smooth_spec(act, params, margin, label)


def _smooth_spec(act: catalogue.Activation, params: dict, margin: float, label: str
                 ) -> ActivationSpec:
    """Saturated tails of a smooth function: |f'| < margin * max |f'|, found on a grid."""
    x = np.linspace(-60.0, 60.0, 240_001)
    with np.errstate(all="ignore"):
        d = np.abs(np.asarray(act.derivative(x, **params), dtype=np.float64))
        y = np.asarray(act(x, **params), dtype=np.float64)
        asym = [float(v) for v in act(np.array([-np.inf, np.inf]), **params)]
    peak = int(np.argmax(d))
    small = d < margin * d[peak]
    # the low tail: x below the last small point left of the peak; the high one likewise
    # a tail is the run of small |f'| that reaches the end of the grid (gelu's f' also
    # crosses 0 at its minimum, which is no tail)
    big = np.flatnonzero(~small)
    x_lo = float(x[big[0] - 1]) if small[0] and big[0] > 0 else None
    x_hi = float(x[big[-1] + 1]) if small[-1] and big[-1] < len(x) - 1 else None
    monotone = bool(np.all(np.diff(y) >= 0))
    signed = math.isfinite(asym[0]) and asym[0] < 0 or bool(np.any(y < 0))
    kind: Kind = "saturating" if act.saturating else ("signed" if signed else "saturating")
    where = []
    if x_lo is not None:
        where.append(f"x < {x_lo:.3g}")
    if x_hi is not None:
        where.append(f"x > {x_hi:.3g}")
    rule = (" or ".join(where) + f" (|f'| < {margin:g} of its peak)") if where else ""
    if not monotone:
        # gelu, silu, mish: the output does not tell the tail from x near 0: read the input
        return ActivationSpec(label, "signed", x_lo, x_hi, saturating=True, on_input=True,
                              rule=rule)
    low = float(act(np.array([x_lo]), **params)[0]) if x_lo is not None else None
    high = float(act(np.array([x_hi]), **params)[0]) if x_hi is not None else None
    # f' is exactly 0 where the output reached a finite asymptote in floating point, for the
    # functions whose backward computes f' from the output (sigmoid, tanh, softplus); ELU's
    # alpha*exp(x) stays > 0 long after its output rounded to -alpha
    from_output = act.backward_needs == "output"
    dead_low = asym[0] if from_output and x_lo is not None and math.isfinite(asym[0]) else None
    dead_high = asym[1] if from_output and x_hi is not None and math.isfinite(asym[1]) else None
    return ActivationSpec(label, kind, low, high, saturating=True, dead_low=dead_low,
                          dead_high=dead_high, rule=rule)


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
