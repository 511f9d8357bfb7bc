"""nn.Modules with torch.nn's names, constructor signatures, ``extra_repr`` and state_dicts.

Each subclasses its torch.nn namesake (code that checks ``isinstance(m, nn.ReLU)`` keeps
working, and a state_dict loads either way) and only replaces ``forward`` by the lean
function of ``relukit.torch.functional``. ``catalogue_name`` names the catalogue entry.

``torch.jit.script`` compiles torch's own function in each forward (scripted code is for
deployment, where nothing is saved for backward); everywhere else the Python forward runs,
and it falls back to torch's op by itself where the lean path does not apply (see
``relukit.torch.autograd.use_lean``).

What the backward keeps is each module's ``saves``: "mask" (1 bit per element, the
piecewise-linear ones), "output" (f' recovered from the output, which the next layer usually
keeps anyway) or "input" (torch's op). Keeping the output is only safe if nothing modifies it
in place afterwards (``Dropout(inplace=True)``, ``y += residual``), so ``saves=None`` settles
the mode on the first training call: that call runs torch's op and watches the output; when
its backward comes, an unmodified output settles the module on "output", a modified one on
its safe mode ("mask" for the piecewise-linear ones, else "input"). One step at torch's
memory, never a crash. ELU, CELU, SELU and PReLU default to None; ``convert()`` sets None (or
its planner's choice) on every module it creates.
"""

from __future__ import annotations

import inspect
import weakref

import torch
from torch import nn

from .. import catalogue
from . import _validate
from . import autograd as _ag
from . import functional as F

#: Each activation's parameter defaults, from the catalogue.
_D = {a.name: a.defaults for a in catalogue.all_activations()}


class _Watched:
    __slots__ = ("output", "version", "__weakref__")

    def __init__(self, output: torch.Tensor, version: int) -> None:
        self.output, self.version = output, version


#: Outputs a module watches at most while it has not seen a backward (see ``_watch``).
_MAX_WATCHED = 4


class _Lean:
    # relukit's own attributes, not for torch.jit.script (which runs torch's op)
    __jit_ignored_attributes__ = ["saves", "bits", "_probed", "_watched", "catalogue_name",
                                  "_modes", "_safe_mode", "_auto",
                                  "_inplace_keeps_output"]
    catalogue_name: str = ""
    #: The ``saves`` modes the module takes (empty: none, it always runs one way).
    _modes: tuple[str, ...] = ()
    #: The mode a settling module falls back to when its output is modified in place.
    _safe_mode: str = "input"
    #: "mask", "output", "input", or None: settled by the first training call.
    saves: str | None = None
    #: True when ``saves`` was left to the module (None at construction, or by convert).
    _auto: bool = False
    #: Does torch's in-place op keep its output (so that in place, "output" is torch's way)?
    _inplace_keeps_output: bool = True
    #: Is "output" within the half gradient's rounding in float16/bfloat16? When not, a module
    #: that chose "output" itself keeps the input for half inputs, as torch.
    _half_output_exact: bool = True

    def _init_saves(self, saves) -> None:
        self.saves = None if saves is None else _validate.saves(
            type(self).__name__, saves, self._modes)
        self._auto = saves is None
        self._probed: str | None = None

    def _call(self, input: torch.Tensor, saves: str) -> torch.Tensor:
        raise NotImplementedError

    @torch.jit.unused
    def _lean(self, input: torch.Tensor) -> torch.Tensor:
        mode = self._mode(input)
        if mode is None:
            return self._watch(self._call(input, "input"))
        if mode == "output" and self._auto and not self._half_output_exact and \
                input.dtype in (torch.float16, torch.bfloat16):
            mode = "input"  # chosen by the module, not asked for: torch's way in half
        return self._call(input, mode)

    def _output_mode_ok(self, device: torch.device) -> bool:
        """May the module choose "output" by itself on ``device`` (exact, and not slower than
        torch's backward)? Asked by settling and by ``convert``'s planner."""
        return True

    def _mode(self, input: torch.Tensor) -> str | None:
        """The mode for this call, or None: run torch's op and watch the output."""
        if self.saves is not None:
            return self.saves
        if not self._output_mode_ok(input.device):
            if _ag.use_lean(input, *self.parameters()):  # type: ignore[attr-defined]
                self.saves = self._safe_mode  # settled (never while a transform traces)
            return self._safe_mode
        if getattr(self, "inplace", False) and self._inplace_keeps_output:
            return "output"  # torch's in-place op keeps the output too
        probed = self.__dict__.get("_probed")
        # settle only outside backward: a checkpoint's recomputation must repeat the probe
        if probed is not None and not _ag.in_backward():
            self.saves = probed
            self.__dict__.pop("_watched", None)
            return probed
        if not _ag.use_lean(input, *self.parameters()):  # type: ignore[attr-defined]
            return "input"  # nothing to learn: no gradient, or a transform runs torch's op
        return None

    def _watch(self, output: torch.Tensor) -> torch.Tensor:
        """Keep ``output`` (this one step) and, when backward reaches its node, settle on
        "output" if it is unmodified, on the safe mode if anything wrote to it in place."""
        node = output.grad_fn
        if node is None:
            return output
        watched = self.__dict__.setdefault("_watched", [])
        holder = _Watched(output, output._version)
        watched.append(holder)
        # forwards without a backward (evaluation with grad on) keep at most a few outputs
        del watched[:-_MAX_WATCHED]
        module, held = weakref.ref(self), weakref.ref(holder)

        def settle(grad_outputs):
            m, h = module(), held()
            if m is None or h is None:
                return None
            if h.output._version != h.version:
                m._probed = m._safe_mode
            elif m.__dict__.get("_probed") is None:
                m._probed = "output"
            m.__dict__["_watched"] = [w for w in m._watched if w is not h]
            return None

        node.register_prehook(settle)
        return output

    def _default_saves(self) -> str | None:
        return None

    def extra_repr(self) -> str:
        base = super().extra_repr()  # type: ignore[misc]
        if not self._modes or self.saves == self._default_saves():
            return base
        return ", ".join(s for s in (base, f"saves={self.saves!r}") if s)


class _Piecewise(_Lean):
    """relu, leaky_relu, relu6, hardtanh: ``saves="mask"`` (1 bit per element, the default),
    ``"output"`` (the output only: free when the next layer keeps it, as Linear does),
    ``"input"`` (torch's op) or None (settle on the first training call)."""

    _modes = _validate.SAVES_PIECEWISE
    _safe_mode = "mask"

    def _default_saves(self) -> str | None:
        return "mask"


class ReLU(_Piecewise, nn.ReLU):
    catalogue_name = "relu"

    def __init__(self, inplace: bool = False, *, saves: str | None = "mask") -> None:
        super().__init__(inplace)
        self._init_saves(saves)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return nn.functional.relu(input, self.inplace)
        return self._lean(input)

    def _call(self, input: torch.Tensor, saves: str) -> torch.Tensor:
        return F.relu(input, self.inplace, saves=saves)


class LeakyReLU(_Piecewise, nn.LeakyReLU):
    catalogue_name = "leaky_relu"

    def _output_mode_ok(self, device: torch.device) -> bool:
        return float(_validate.real(self.negative_slope)) >= 0

    def __init__(self, negative_slope: float = _D["leaky_relu"]["negative_slope"],
                 inplace: bool = False, *,
                 saves: str | None = "mask") -> None:
        F._bind("leaky_relu", negative_slope=negative_slope)
        super().__init__(negative_slope, inplace)
        self._init_saves(saves)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return nn.functional.leaky_relu(input, self.negative_slope, self.inplace)
        return self._lean(input)

    def _call(self, input: torch.Tensor, saves: str) -> torch.Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace, saves=saves)


class ReLU6(_Piecewise, nn.ReLU6):
    catalogue_name = "relu6"

    def __init__(self, inplace: bool = False, *, saves: str | None = "mask") -> None:
        super().__init__(inplace)
        self._init_saves(saves)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return nn.functional.hardtanh(input, 0.0, 6.0, self.inplace)  # its breakpoints
        return self._lean(input)

    def _call(self, input: torch.Tensor, saves: str) -> torch.Tensor:
        # torch.nn.ReLU6 calls hardtanh(0, 6): the same op in traced graphs
        return F.hardtanh(input, F._RELU6_MIN, F._RELU6_MAX, self.inplace, saves=saves)


class Hardtanh(_Piecewise, nn.Hardtanh):
    catalogue_name = "hardtanh"

    def __init__(self, min_val: float = _D["hardtanh"]["min_val"],
                 max_val: float = _D["hardtanh"]["max_val"], inplace: bool = False,
                 min_value: float | None = None, max_value: float | None = None, *,
                 saves: str | None = "mask") -> None:
        F._bind("hardtanh", min_val=min_val if min_value is None else min_value,
                max_val=max_val if max_value is None else max_value)
        super().__init__(min_val, max_val, inplace, min_value, max_value)
        self._init_saves(saves)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return nn.functional.hardtanh(input, float(self.min_val), float(self.max_val),
                                          self.inplace)
        return self._lean(input)

    def _call(self, input: torch.Tensor, saves: str) -> torch.Tensor:
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace, saves=saves)


class RReLU(_Lean, nn.RReLU):
    """Random slopes in training; 1 bit per element plus the generator state per call."""

    catalogue_name = "rrelu"

    def __init__(self, lower: float = _D["rrelu"]["lower"], upper: float = _D["rrelu"]["upper"],
                 inplace: bool = False) -> None:
        F._bind("rrelu", lower=lower, upper=upper)
        super().__init__(lower, upper, inplace)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return nn.functional.rrelu(input, self.lower, self.upper, self.training,
                                       self.inplace)
        return self._lean(input)

    def _call(self, input: torch.Tensor, saves: str) -> torch.Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)


class PReLU(_Lean, nn.PReLU):
    """Learned slope(s), state_dict key ``weight`` as torch.nn.PReLU. ``saves``: "output"
    (with every weight > 0 nothing beyond the output), "input" (torch's op) or None."""

    catalogue_name = "prelu"
    _modes = _validate.SAVES

    def __init__(self, num_parameters: int = 1, init: float = _D["prelu"]["weight"],
                 device=None, dtype=None, *, saves: str | None = None) -> None:
        _validate.positive_int("PReLU", "num_parameters", num_parameters)
        super().__init__(num_parameters, init, device=device, dtype=dtype)
        self._init_saves(saves)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return nn.functional.prelu(input, self.weight)
        return self._lean(input)

    def _call(self, input: torch.Tensor, saves: str) -> torch.Tensor:
        return F.prelu(input, self.weight, saves=saves)


class CReLU(_Lean, nn.Module):
    """cat(relu(x), relu(-x)) along ``dim``: the output has twice the channels."""

    catalogue_name = "crelu"

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = _validate.dim("CReLU", dim)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            if input.dim() == 0:
                input = input.reshape(1)
            return torch.cat((torch.relu(input), torch.relu(-input)), self.dim)
        return self._lean(input)

    def _call(self, input: torch.Tensor, saves: str) -> torch.Tensor:
        return F.crelu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class _ELUFamily(_Lean):
    """ELU, CELU, SELU: ``saves`` "output" (f' from the output, nothing more), "input"
    (torch's op) or None (the default: settle on the first training call)."""

    _modes = _validate.SAVES


class ELU(_ELUFamily, nn.ELU):
    catalogue_name = "elu"

    def __init__(self, alpha: float = _D["elu"]["alpha"], inplace: bool = False, *,
                 saves: str | None = None) -> None:
        F._bind("elu", alpha=alpha)
        super().__init__(alpha, inplace)
        self._init_saves(saves)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return nn.functional.elu(input, self.alpha, self.inplace)
        return self._lean(input)

    def _call(self, input: torch.Tensor, saves: str) -> torch.Tensor:
        return F.elu(input, self.alpha, self.inplace, saves=saves)


class CELU(_ELUFamily, nn.CELU):
    catalogue_name = "celu"

    def __init__(self, alpha: float = _D["celu"]["alpha"], inplace: bool = False, *,
                 saves: str | None = None) -> None:
        F._bind("celu", alpha=alpha)
        super().__init__(alpha, inplace)
        self._init_saves(saves)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return nn.functional.celu(input, self.alpha, self.inplace)
        return self._lean(input)

    def _call(self, input: torch.Tensor, saves: str) -> torch.Tensor:
        return F.celu(input, self.alpha, self.inplace, saves=saves)


class SELU(_ELUFamily, nn.SELU):
    catalogue_name = "selu"

    def __init__(self, inplace: bool = False, *, saves: str | None = None) -> None:
        super().__init__(inplace)
        self._init_saves(saves)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return nn.functional.selu(input, self.inplace)
        return self._lean(input)

    def _call(self, input: torch.Tensor, saves: str) -> torch.Tensor:
        return F.selu(input, self.inplace, saves=saves)


class _Smooth(_Lean):
    """GELU, SiLU, Mish: ``saves`` "input" (torch's behaviour, the default), "output" (the
    output and 1 bit for the side of the minimum; f' recovered by inverting f) or None
    (settle); ``bits=k`` (1..8) keeps a k-bit code of f' instead (approximate). A settling
    module on CPU settles on "input" even when nothing modifies its output: recovering f'
    there costs several times torch's backward (``relukit.torch.inverse.
    output_mode_is_fast``); set ``saves="output"`` to trade that time for the memory."""

    _modes = _validate.SAVES
    _inplace_keeps_output = False
    bits: int | None = None

    _half_output_exact = False

    def _default_saves(self) -> str | None:
        return "input"

    def _output_mode_ok(self, device: torch.device) -> bool:
        # on CPU recovering f' from the output is several times slower than torch's backward
        from .inverse import output_mode_is_fast

        return output_mode_is_fast(device, self.catalogue_name)

    def _extra(self) -> str:
        return f"bits={self.bits}" if self.bits is not None else ""


class GELU(_Smooth, nn.GELU):
    catalogue_name = "gelu"

    def __init__(self, approximate: str = _D["gelu"]["approximate"], bits: int | None = None, *,
                 saves: str | None = "input") -> None:
        F._bind("gelu", approximate=approximate)
        super().__init__(approximate=approximate)
        self.bits = _validate.bits("GELU", bits)
        self._init_saves(saves)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return nn.functional.gelu(input, approximate=self.approximate)
        return self._lean(input)

    def _call(self, input: torch.Tensor, saves: str) -> torch.Tensor:
        return F.gelu(input, approximate=self.approximate, bits=self.bits,
                      saves=saves)

    def extra_repr(self) -> str:
        return ", ".join(s for s in (super().extra_repr(), self._extra()) if s)


class SiLU(_Smooth, nn.SiLU):
    catalogue_name = "silu"

    def __init__(self, inplace: bool = False, bits: int | None = None, *,
                 saves: str | None = "input") -> None:
        super().__init__(inplace=inplace)
        self.bits = _validate.bits("SiLU", bits)
        self._init_saves(saves)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return nn.functional.silu(input, self.inplace)
        return self._lean(input)

    def _call(self, input: torch.Tensor, saves: str) -> torch.Tensor:
        return F.silu(input, bits=self.bits, inplace=self.inplace,
                      saves=saves)

    def extra_repr(self) -> str:
        return ", ".join(s for s in (super().extra_repr(), self._extra()) if s)


class Mish(_Smooth, nn.Mish):
    catalogue_name = "mish"

    def __init__(self, inplace: bool = False, bits: int | None = None, *,
                 saves: str | None = "input") -> None:
        super().__init__(inplace=inplace)
        self.bits = _validate.bits("Mish", bits)
        self._init_saves(saves)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return nn.functional.mish(input, self.inplace)
        return self._lean(input)

    def _call(self, input: torch.Tensor, saves: str) -> torch.Tensor:
        return F.mish(input, bits=self.bits, inplace=self.inplace,
                      saves=saves)

    def extra_repr(self) -> str:
        return ", ".join(s for s in (super().extra_repr(), self._extra()) if s)


class Softplus(_Lean, nn.Softplus):
    catalogue_name = "softplus"

    def __init__(self, beta: float = _D["softplus"]["beta"],
                 threshold: float = _D["softplus"]["threshold"]) -> None:
        F._bind("softplus", beta=beta, threshold=threshold)
        super().__init__(beta, threshold)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return nn.functional.softplus(input, self.beta, self.threshold)
        return self._lean(input)

    def _call(self, input: torch.Tensor, saves: str) -> torch.Tensor:
        return F.softplus(input, self.beta, self.threshold)


class Sigmoid(_Lean, nn.Sigmoid):
    catalogue_name = "sigmoid"

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(input)


class Tanh(_Lean, nn.Tanh):
    catalogue_name = "tanh"

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return torch.tanh(input)


# ----------------------------------------------------------------------------- from the catalogue


def _rule_module(act: catalogue.Activation) -> type:
    """The module of an activation whose torch layer is its catalogue ``TorchRule``: it
    subclasses torch.nn's class when torch has one (so isinstance checks keep working)."""
    rule = act.torch_rule
    assert rule is not None and act.module is not None, act.name
    prefix = catalogue.TORCH_NN
    base = next((getattr(nn, s.qualname[len(prefix):]) for s in act.converts
                 if s.qualname.startswith(prefix)), nn.Module)
    modes = act.saves if len(act.saves) > 1 else ()
    fn = getattr(F, act.name)
    name, cls_name = act.name, act.module
    base_takes_inplace = "inplace" in inspect.signature(base.__init__).parameters

    def __init__(self, inplace: bool = False, *, saves: str | None = None) -> None:
        inplace = _validate.flag(cls_name, "inplace", inplace)
        if inplace and not rule.inplace:
            raise ValueError(f"{cls_name}: inplace=True is not supported (torch has no "
                             f"in-place {name}); valid: inplace=False")
        if base_takes_inplace:
            base.__init__(self, inplace)
        else:
            base.__init__(self)
        self.inplace = inplace
        if modes:
            self._init_saves(saves)
        elif saves is not None:  # one mode only: still name what is accepted
            _validate.saves(cls_name, saves, tuple(act.saves))

    __init__.__qualname__ = f"{cls_name}.__init__"

    # torch.jit.script calls this forward back in Python (torch.jit.ignore): a scripted model
    # runs, but cannot be saved without Python
    @torch.jit.ignore
    def forward(self, input):  # unannotated: script reads no string annotations here
        if isinstance(self, torch.jit.ScriptModule):  # scripted: torch's ops, as scripted
            return rule.forward(torch, input, self.inplace)  # code saves nothing anyway
        if not modes:
            return fn(input, self.inplace, saves="input")
        return self._lean(input)

    def _call(self, input: torch.Tensor, saves: str) -> torch.Tensor:
        return fn(input, self.inplace, saves=saves)

    def _output_mode_ok(self, device: torch.device) -> bool:
        # settling and the planner take "output" only where it is exact
        return "output" in modes and rule.output_exact

    def extra_repr(self) -> str:
        base_repr = "inplace=True" if self.inplace else ""
        if not modes or self.saves is None:
            return base_repr
        return ", ".join(s for s in (base_repr, f"saves={self.saves!r}") if s)

    namespace = {
        "__init__": __init__, "forward": forward, "_call": _call,
        "_output_mode_ok": _output_mode_ok,
        # f' from a half output (hardswish's square root near its minimum, relu2 where x^2
        # underflows) is off by more than the half gradient's rounding
        "_half_output_exact": "output" not in modes,
        "extra_repr": extra_repr, "catalogue_name": name, "_modes": modes,
        "_safe_mode": "mask" if "mask" in modes else "input",
        "_inplace_keeps_output": False, "saves": None if modes else "input",
        "__module__": __name__, "__qualname__": act.module,
        "__doc__": f"{act.title}: {act.formula}. ``saves``: {', '.join(act.saves)} or None "
                   "(settle on the first training call, the default); see "
                   f"relukit.torch.functional.{name}.",
    }
    return type(act.module, (_Lean, base), namespace)


#: Modules built from the catalogue's ``TorchRule`` entries, by class name.
FROM_RULES: dict[str, type] = {}
for _act in catalogue.all_activations():
    if _act.torch_rule is not None:
        FROM_RULES[_act.module] = globals()[_act.module] = _rule_module(_act)  # type: ignore
