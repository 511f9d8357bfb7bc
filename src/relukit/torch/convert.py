"""``convert(model)``: swap a model's activation modules for relukit's lean ones, in place.

Recognised by *exact* qualified class name (subclasses may override ``forward``, so they are
left alone), without importing the third-party packages: the classes each catalogue entry lists
in its ``converts`` (``relukit.get("gelu").converts``), among them

- ``torch.nn``: ReLU, LeakyReLU, PReLU (the same weight Parameter is kept), RReLU, ReLU6, ELU,
  CELU, SELU, GELU, SiLU, Mish, Hardtanh, Hardswish, Hardsigmoid, Softplus, Sigmoid, Tanh;
- Hugging Face ``transformers.activations``: GELUActivation, NewGELUActivation, GELUTanh
  (PytorchGELUTanh is an alias), FastGELUActivation, AccurateGELUActivation, SiLUActivation,
  MishActivation, QuickGELUActivation, ReLUSquaredActivation; ACT2FN's other entries are the
  torch.nn classes above;
- timm ``timm.layers.activations`` (and ``timm.models.layers.activations``, ``activations_me``):
  GELU, GELUTanh, Swish(Me), Mish(Me), PReLU, QuickGELU, HardSwish(Me), HardSigmoid(Me).

Forward results: bitwise identical where the old module calls the same torch kernel
(torch.nn's modules, HF GELUActivation/GELUTanh/SiLUActivation/MishActivation in their default
form, timm's GELU/GELUTanh/PReLU); the *same function up to float rounding* (a few ulp) where the
old module spells the formula out in Python ops (HF NewGELUActivation, AccurateGELUActivation,
FastGELUActivation - whose sqrt(2/pi) = 0.7978845608 is rounded at 1e-10, below float32
resolution -, the ``use_*_python`` forms, timm's Swish/Mish/SwishMe/MishMe). The summary's
``forward`` column says which. Left alone, with the reason in the summary: the classes of
``catalogue.UNSERVED_CLASSES`` (ClippedGELUActivation, hard-mish, xIELU, ...).

Activations called as *functions* inside a model's ``forward`` (``F.gelu(x)``,
``torch.relu(x)``, ``x.sigmoid()``) are not modules and cannot be swapped: the summary says so
when a model has no activation modules. Use ``relukit.torch.functional`` in that code instead.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import inspect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from .. import catalogue
from . import _validate
from .autograd import saved_tensor_bytes

__all__ = ["convert", "ConversionSummary", "Replacement", "Skipped"]



@dataclass(frozen=True)
class _Spec:
    """How to rebuild one source class as a relukit module (from ``catalogue.Source``)."""

    activation: str  # catalogue name
    new_class: str  # attribute of relukit.torch
    copy: tuple[str, ...] = ()  # attributes of the old module passed as keyword arguments
    fixed: tuple[tuple[str, object], ...] = ()  # keyword arguments known from the class
    exact: bool = True  # does the old module run the same torch kernel?


def _specs() -> dict[str, _Spec]:
    """Every class convert() replaces, read off the catalogue's ``converts``."""
    out: dict[str, _Spec] = {}
    for act in catalogue.all_activations():
        for src in act.converts:
            assert act.module is not None, act.name
            out[src.qualname] = _Spec(act.name, act.module, src.copy, src.fixed, src.exact)
    return out


_SPECS = _specs()
#: gelu, silu, mish: the ones that take ``bits=k``.
_QUANTISABLE = frozenset(a.name for a in catalogue.all_activations() if a.kbit)
_LEFT_ALONE = catalogue.UNSERVED_CLASSES


def qualified_class_name(module: nn.Module) -> str:
    cls = type(module)
    return f"{cls.__module__}.{cls.__qualname__}"


# ----------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class Replacement:
    """One swapped module. ``saved_bits_*``: bits per element the activation keeps for
    backward beyond its output (which the next layer keeps anyway), measured on a probe
    tensor of the model's dtype; None where it could not be measured (meta tensors)."""

    name: str
    old_class: str
    new_class: str
    activation: str
    bits: int | None
    forward: str  # "bitwise" or "rounding"
    saved_bits_before: float | None
    saved_bits_after: float | None
    #: What the backward keeps ("mask", "output", "input"), or None: settled on the first
    #: training step (see relukit.torch.modules); "" for modules without a choice.
    saves: str | None = ""
    #: Why the planner chose ``saves`` (convert with example inputs).
    reason: str = ""


@dataclass(frozen=True)
class Skipped:
    name: str
    old_class: str
    reason: str


@dataclass
class ConversionSummary:
    model_class: str
    dtype: str
    replaced: list[Replacement] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    #: The model has no activation modules at all (it calls activations as functions).
    no_activation_modules: bool = False
    #: Saved-for-backward bytes of one training forward of the example inputs, before and
    #: after conversion (parameters excluded); None without example inputs.
    saved_bytes_before: int | None = None
    saved_bytes_after: int | None = None

    def __len__(self) -> int:
        return len(self.replaced)

    def notes(self) -> list[str]:
        out = []
        if self.no_activation_modules:
            out.append(
                f"{self.model_class} has no activation modules: it calls its activations as "
                "functions inside forward (F.gelu, torch.relu, ...), which convert() cannot "
                "swap. Call relukit.torch.functional in that code instead."
            )
        elif not self.replaced and not self.skipped:
            out.append("include/exclude left no activation module to convert.")
        if any(r.saves is None for r in self.replaced):
            out.append(
                "'settles': the module keeps its output for backward (the 'after' column) once "
                "its first training step has run torch's op and seen that nothing modifies the "
                "output in place; if something does (Dropout(inplace=True), y += residual), it "
                "keeps a mask or the input instead (module.saves tells which). Modules whose "
                "f' from the output would be slow on this device (GELU, SiLU, Mish on CPU) or "
                "approximate (Hardswish) keep the input (set module.saves = 'output' to trade "
                "for memory). Pass example_inputs= to decide now."
            )
        return out

    def __str__(self) -> str:
        head = (f"relukit.torch.convert({self.model_class}): {len(self.replaced)} replaced, "
                f"{len(self.skipped)} left alone")
        lines = [head]
        if self.replaced:
            lines.append(f"bits per element saved for backward beyond the output ({self.dtype}):")
            rows = [("module", "old class", "new class", "bits", "saves", "before", "after",
                     "forward")]
            for r in self.replaced:
                rows.append((r.name, r.old_class.rsplit(".", 1)[-1], r.new_class,
                             "exact" if r.bits is None else str(r.bits),
                             "settles" if r.saves is None else (r.saves or "-"),
                             _fmt_bits(r.saved_bits_before), _fmt_bits(r.saved_bits_after),
                             r.forward))
            lines.extend(_table(rows))
            reasons = [(r.name, r.saves or "", r.reason) for r in self.replaced if r.reason]
            if reasons:
                lines.append("why (one training forward of the example inputs):")
                lines.extend(_table([("module", "saves", "reason")] + reasons))
        if self.saved_bytes_before is not None and self.saved_bytes_after is not None:
            before, after = self.saved_bytes_before, self.saved_bytes_after
            change = f" ({(after - before) / before:+.1%})" if before else ""
            lines.append(f"saved for backward: {_mib(before)} -> {_mib(after)}{change}")
        if self.skipped:
            lines.append("left alone:")
            lines.extend(_table([("module", "class", "reason")]
                                + [(s.name, s.old_class, s.reason) for s in self.skipped]))
        lines.extend(self.notes())
        return "\n".join(lines)


def _mib(n: int) -> str:
    if n >= 2**20:
        return f"{n / 2**20:.2f} MiB"
    return f"{n / 2**10:.1f} KiB"


def _fmt_bits(v: float | None) -> str:
    return "?" if v is None else f"{v:g}"


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    return ["  " + fmt(rows[0]), "  " + "  ".join("-" * w for w in widths)] + [
        "  " + fmt(r) for r in rows[1:]
    ]


# ----------------------------------------------------------------------------- convert


def convert(
    model: nn.Module,
    bits: int | None = None,
    include: str | Iterable[str] | None = None,
    exclude: str | Iterable[str] | None = None,
    *,
    example_inputs: tuple | None = None,
    example_kwargs: dict | None = None,
) -> ConversionSummary:
    """Replace, in place, ``model``'s activation modules by relukit's lean equivalents.

    What each new module keeps for backward (its ``saves``): with ``example_inputs`` (a tuple
    of positional arguments for ``model``) and/or ``example_kwargs``, one training-mode
    forward under saved-tensor hooks picks per site the cheapest exact mode and says why
    (``relukit.torch.planner``), and the summary gives the model's saved bytes before and
    after. Without them every module settles on its first training step: it keeps its output
    (free when the next layer keeps it, as a Linear does) unless that output is modified in
    place later, in which case it keeps a mask or the input (``relukit.torch.modules``).

    ``bits`` (None or 1..8) applies to gelu, silu and mish only: None keeps their exact
    gradient (the input is saved, as torch does); k saves a k-bit code of the derivative (see
    ``relukit.torch.fewbit``). The other activations' gradients are always exact.

    ``include`` / ``exclude``: a pattern or a list of patterns. A module matches a pattern when
    its qualified name in the model matches it as an ``fnmatch`` glob (``"h.*.mlp.act"``,
    ``"encoder.*"``) or when the pattern is its activation's catalogue name, case-insensitive
    (``"gelu"``, ``"leaky_relu"``). None includes every module / excludes none; exclude wins.

    Returns a :class:`ConversionSummary` (print it for a table). Training mode, ``inplace``
    flags, PReLU's weight (the same Parameter object, so optimisers stay valid) and forward
    hooks are kept. Modules shared by several parents stay shared. Converting a converted
    model again sets ``bits`` on relukit's own GELU/SiLU/Mish (``bits=None``: exact again).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    bits = _validate.bits("convert", bits)
    include_patterns = _check_patterns("include", include)
    exclude_patterns = _check_patterns("exclude", exclude)
    planning = example_inputs is not None or example_kwargs is not None
    if example_inputs is not None and not isinstance(example_inputs, tuple):
        raise TypeError(
            f"example_inputs must be a tuple of positional arguments for the model, got "
            f"{type(example_inputs).__name__} (wrap a single tensor: (x,))")
    if example_kwargs is not None and not isinstance(example_kwargs, dict):
        raise TypeError(
            f"example_kwargs must be a dict of keyword arguments for the model, got "
            f"{type(example_kwargs).__name__}")
    inputs, kwargs = example_inputs or (), example_kwargs or {}

    from .. import torch as relukit_torch

    ref = next((t for t in _tensors(model) if t.is_floating_point()), None)
    dtype = ref.dtype if ref is not None else torch.get_default_dtype()
    device = ref.device if ref is not None else torch.device("cpu")
    summary = ConversionSummary(type(model).__name__, str(dtype).replace("torch.", ""))
    if planning:
        summary.saved_bytes_before = _model_saved_bytes(model, inputs, kwargs)

    seen_activation = False
    done: dict[int, tuple[nn.Module, Replacement]] = {}
    module_at: dict[str, nn.Module] = {}  # every replaced site, shared modules at each name
    created: set[int] = set()
    for parent_name, parent in list(model.named_modules(remove_duplicate=False)):
        for child_name, child in list(parent._modules.items()):  # duplicates too
            if child is None:
                continue
            name = f"{parent_name}.{child_name}" if parent_name else child_name
            key = qualified_class_name(child)
            if id(child) in created:
                continue
            if id(child) in done:  # a module shared by several parents stays shared
                new, entry = done[id(child)]
                setattr(parent, child_name, new)
                summary.replaced.append(dataclasses.replace(entry, name=name))
                module_at[name] = new
                continue
            spec = _SPECS.get(key)
            if spec is None:
                if key in _LEFT_ALONE:
                    seen_activation = True
                    summary.skipped.append(Skipped(name, key, _LEFT_ALONE[key]))
                elif type(child).__module__.startswith("relukit.torch"):
                    seen_activation = True
                continue
            seen_activation = True
            if not _selected(name, spec.activation, include_patterns, exclude_patterns):
                continue
            new_cls = getattr(relukit_torch, spec.new_class)
            new, exact = _build(child, spec, new_cls, bits)
            new.to(device=_device_of(child, device))
            if getattr(new, "_modes", ()) and getattr(new, "bits", None) is None:
                new._init_saves(None)  # settles on its first training step (or the planner)
            before = _saved_bits(child, dtype)
            after = _saved_bits(new, dtype)
            setattr(parent, child_name, new)
            entry = Replacement(
                name=name, old_class=key, new_class=f"relukit.torch.{spec.new_class}",
                activation=spec.activation,
                bits=bits if spec.activation in _QUANTISABLE else None,
                forward="bitwise" if exact else "rounding",
                saved_bits_before=before, saved_bits_after=after,
            )
            done[id(child)] = (new, entry)
            created.add(id(new))
            summary.replaced.append(entry)
            module_at[name] = new
    if _SPECS.get(qualified_class_name(model)) is not None:
        summary.skipped.append(Skipped(
            "", qualified_class_name(model),
            "the model itself is an activation: it has no parent to swap it in; use "
            "relukit.torch's module directly"))
        seen_activation = True
    summary.no_activation_modules = not seen_activation
    plans = {}
    if planning:
        from .planner import plan

        sites = [(e.name, m) for m, e in done.values()]  # one name per module
        plans = {id(module_at[p.name]): p for p in plan(model, sites, inputs, kwargs)}
        summary.saved_bytes_after = _model_saved_bytes(model, inputs, kwargs)
    for i, r in enumerate(summary.replaced):
        m = module_at[r.name]
        chosen = plans.get(id(m))
        after = r.saved_bits_after if chosen is None else _saved_bits(m, dtype)
        summary.replaced[i] = dataclasses.replace(
            r, saves=getattr(m, "saves", "") if getattr(m, "_modes", ()) else "",
            reason=chosen.reason if chosen else "", saved_bits_after=after)
    return summary


def _model_saved_bytes(model: nn.Module, inputs: tuple, kwargs: dict) -> int:
    """Saved-for-backward bytes of one training forward (parameters and buffers excluded),
    leaving the model and the random streams as before."""
    from .planner import probe_forward

    with probe_forward(model):
        return saved_tensor_bytes(lambda: model(*inputs, **kwargs),
                                  exclude=[*model.parameters(), *model.buffers()])


def _check_patterns(param: str, value) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple, set, frozenset)) and all(
        isinstance(p, str) for p in value
    ):
        return tuple(value)
    raise TypeError(
        f"{param} must be None, a str or a list/tuple/set of str (fnmatch patterns of module "
        f"names, or activation names such as 'gelu'), got {type(value).__name__} {value!r}"
    )


def _matches(name: str, activation: str, patterns: tuple[str, ...]) -> bool:
    return any(
        fnmatch.fnmatchcase(name, p) or p.lower() == activation for p in patterns
    )


def _selected(name, activation, include, exclude) -> bool:
    if include is not None and not _matches(name, activation, include):
        return False
    return not (exclude is not None and _matches(name, activation, exclude))


def _tensors(module: nn.Module):
    yield from module.parameters()
    yield from module.buffers()


def _device_of(module: nn.Module, default: torch.device) -> torch.device:
    t = next(_tensors(module), None)
    return t.device if t is not None else default


def _old_kwargs(old: nn.Module, spec: _Spec) -> tuple[dict, bool]:
    # torch.nn takes any truthy inplace and one-element tensors as floats: plain values here
    kwargs = {a: _plain(a, getattr(old, a)) for a in spec.copy if hasattr(old, a)}
    kwargs.update(dict(spec.fixed))
    exact = spec.exact
    act = getattr(old, "act", None)
    if act is not None:
        # HF classes pick their forward at construction: the torch kernel or a Python formula.
        F = nn.functional
        target = getattr(act, "func", act)  # functools.partial(F.gelu, approximate="tanh")
        exact = exact and target in (F.gelu, F.silu, F.mish)
    return kwargs, exact


def _plain(attribute: str, value):
    if attribute == "inplace":
        return bool(value)
    return _validate.real(value)


def _build(old: nn.Module, spec: _Spec, new_cls: type, bits: int | None):
    kwargs, exact = _old_kwargs(old, spec)
    if spec.activation in _QUANTISABLE and bits is not None:
        kwargs["bits"] = bits
        # A k-bit backward codes the input, so it cannot overwrite it; the value is the same.
        kwargs.pop("inplace", None)
    accepted = inspect.signature(new_cls).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
    # A flag the new class does not take (inplace on a class without it) changes no value.
    kwargs = {k: v for k, v in kwargs.items() if takes_any or k in accepted or k == "bits"}
    new = new_cls(**kwargs)
    if spec.activation == "prelu":
        new.weight = old.weight
    new.train(old.training)
    for hooks in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
                  "_backward_pre_hooks", "_forward_hooks_with_kwargs",
                  "_forward_pre_hooks_with_kwargs", "_forward_hooks_always_called"):
        if getattr(old, hooks, None):
            setattr(new, hooks, getattr(old, hooks))
    return new, exact


# ----------------------------------------------------------------------------- measuring


def _saved_bits(module: nn.Module, dtype: torch.dtype) -> float | None:
    """Bits per element ``module`` saves for backward beyond its output and parameters.

    Measured on probes of 2 x C x 256 and 2 x C x 512 elements (C: PReLU's channels); the
    difference removes per-call constants such as a codebook's table of levels.
    """
    try:
        device = _device_of(module, torch.device("cpu"))
        if device.type == "meta":
            return None
        channels = getattr(module, "num_parameters", 1)
        small, large = (_saved_bytes(module, dtype, device, (2, channels, n)) for n in (256, 512))
        return (large - small) * 8 / (2 * channels * 256)
    except Exception:  # a probe must never break a conversion
        return None


def _saved_bytes(module, dtype, device, shape) -> int:
    gen = torch.Generator(device="cpu").manual_seed(0)
    leaf = torch.randn(shape, generator=gen, dtype=torch.float64)
    leaf = leaf.to(dtype=dtype if dtype.is_floating_point else torch.float32, device=device)
    leaf.requires_grad_(True)
    x = leaf.clone()  # a non-leaf, so in-place modules may write to it
    # module.forward, not module(x): the user's hooks must not fire. A module that settles
    # its mode on its first training call is measured in the mode it settles on when
    # nothing modifies its output in place.
    settles = getattr(module, "saves", "") is None
    if settles:
        module.saves = "output" if module._output_mode_ok(device) else module._safe_mode
    try:
        return saved_tensor_bytes(module.forward, x, exclude=list(module.parameters()),
                                  exclude_output=True)
    finally:
        if settles:
            module.saves = None
