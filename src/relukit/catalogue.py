"""The catalogue: one ``Activation`` per function, the single source of truth for its name,
parameters (defaults and valid ranges), formulas, shape class and what a backward pass needs.

``act(x, **params)`` is the value and ``act.derivative(x, **params)`` the elementwise
derivative, on anything ``np.asarray`` accepts. The PyTorch layer, the diagnostics, the lab
and the docs read the metadata here; none of them re-types a default.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from . import _numpy_impl as impl

_FLOAT_DTYPES = (np.float16, np.float32, np.float64)

#: "piecewise_linear": exact in every dtype, kinks at ``breakpoints``; "piecewise_quadratic":
#: pieces of degree <= 2 joined at ``breakpoints`` (hardswish, relu2: f' is piecewise linear);
#: "smooth": everything else.
ShapeClass = Literal["piecewise_linear", "piecewise_quadratic", "smooth"]
#: What a backward pass needs beyond the output the next layer keeps anyway:
#: "mask"   - the sign (region) of the input, 1 bit per element, gives the exact gradient;
#: "output" - f' is an exact function of the output y (sigmoid, tanh, softplus);
#: "output_and_mask" - f' is recovered from y on one side of 0, the side from 1 bit (elu...);
#: "input"  - f' needs the input itself (gelu, silu, mish) unless quantised.
BackwardNeeds = Literal["mask", "output", "output_and_mask", "input"]


@dataclass(frozen=True)
class Parameter:
    """A parameter of an activation: its default, what it means and which values are valid."""

    name: str
    default: Any
    doc: str
    valid: str = "any float"
    check: Callable[[Any], bool] | None = field(default=None, repr=False, compare=False)

    def validate(self, act_name: str, value: Any) -> None:
        ok = True
        if self.check is not None:
            try:
                ok = bool(self.check(value))
            except (TypeError, ValueError):
                ok = False
        if not ok:
            raise ValueError(
                f"{act_name}: invalid {self.name}={value!r}; valid values: {self.valid}"
            )


@dataclass(frozen=True)
class Source:
    """A class ``relukit.torch.convert`` replaces by this activation's module, recognised by
    its exact qualified name (nothing is imported): ``copy`` names the old module's attributes
    passed on as keyword arguments, ``fixed`` keyword arguments implied by the class, ``exact``
    whether the old module runs the same torch kernel (bitwise) or spells the formula out in
    Python ops (equal up to rounding)."""

    qualname: str
    copy: tuple[str, ...] = ()
    fixed: tuple[tuple[str, Any], ...] = ()
    exact: bool = True


#: Qualified-name prefixes of the classes ``convert`` and the diagnostics recognise.
TORCH_NN = "torch.nn.modules.activation."
HF = "transformers.activations."
TIMM = ("timm.layers.activations.", "timm.models.layers.activations.")
TIMM_ME = ("timm.layers.activations_me.", "timm.models.layers.activations_me.")


def _timm(cls: str, *prefixes: str, **kw: Any) -> tuple[Source, ...]:
    return tuple(Source(p + cls, **kw) for p in (prefixes or TIMM))


#: What the lean backward may keep (``saves=``), per shape: see ``relukit.torch.functional``.
SAVES_PIECEWISE = ("mask", "output", "input")
SAVES = ("output", "input")


@dataclass(frozen=True)
class TorchRule:
    """The torch layer of an activation without hand-written code in ``relukit.torch``, as
    data: ``relukit.torch.functional`` and ``relukit.torch.modules`` build its function and
    module from it.

    ``forward(torch, x, inplace)``: the value with torch's own ops (bitwise what torch.nn,
    transformers or timm compute). What each ``saves=`` mode keeps: "mask": 1 bit, alive where
    ``lo < x < hi``, f' = ``slope`` there and 0 elsewhere (``mask = (lo, hi, slope)``), the
    gradient from ``mask_kernel(torch, grad, stand_in)`` when given (torch's own backward
    kernel fed a stand-in input on the right side of the interval: bitwise torch's);
    "output": the output and one bit ``x > t`` per ``t`` in ``output_bits`` (NaN: set), f' =
    ``from_output(torch, y, *bits)``; "input": torch's own autograd of ``forward``.
    """

    forward: Callable[..., Any] = field(repr=False)
    inplace: bool = False
    mask: tuple[float, float, float] | None = None
    mask_kernel: Callable[..., Any] | None = field(default=None, repr=False)
    from_output: Callable[..., Any] | None = field(default=None, repr=False)
    output_bits: tuple[float, ...] = ()
    #: Is f' from the output exact (bitwise torch's in float32)? When not (hardswish: a square
    #: root of the rounded output near its minimum), a module chooses "output" only when asked.
    output_exact: bool = True


@dataclass(frozen=True)
class Activation:
    """An activation function with its exact derivative and metadata."""

    name: str
    title: str
    formula: str
    latex: str
    derivative_formula: str
    derivative_latex: str
    shape: ShapeClass
    backward_needs: BackwardNeeds
    _value: Callable = field(repr=False, compare=False)
    _derivative: Callable = field(repr=False, compare=False)
    params: tuple[Parameter, ...] = ()
    #: Breakpoints of a piecewise-linear function (kinks), as a function of its parameters.
    _breakpoints: Callable[..., tuple[float, ...]] | None = field(
        default=None, repr=False, compare=False
    )
    #: Does the function saturate on both sides (sigmoid, tanh, hardtanh, relu6)?
    saturating: bool = False
    #: Where f' is exactly zero over a whole interval: the region a unit can die in.
    dead_region: str | None = None
    #: True when the value is computed in the input dtype (exact); else widened to float64.
    exact_in_dtype: bool = False
    #: The output has twice the input's size along ``axis`` (crelu).
    doubles_axis: bool = False
    #: Name of the same function in torch.nn.functional, when torch has it.
    torch_name: str | None = None
    #: Extra parameter derivatives, {param_name: f(x, **params) -> elementwise df/dparam}.
    _param_derivatives: dict[str, Callable] = field(default_factory=dict, repr=False, compare=False)
    _check_params: Callable[[str, dict], None] | None = field(
        default=None, repr=False, compare=False
    )
    #: Other names ``get`` resolves (timm's and Hugging Face's spellings included).
    aliases: tuple[str, ...] = ()
    #: Names that mean this activation with some parameters fixed (timm's/HF's "gelu_new" is
    #: gelu with approximate="tanh"): ``resolve`` gives both; ``get`` refuses them.
    presets: dict[str, tuple[tuple[str, Any], ...]] = field(default_factory=dict,
                                                            compare=False)
    #: The ``relukit.torch`` module class (torch.nn's name when torch has the function).
    module: str | None = None
    #: The ``saves=`` modes its torch function and module take ((): always one way), and the
    #: functional's default.
    saves: tuple[str, ...] = ()
    default_saves: str | None = None
    #: Takes ``bits=k``: a k-bit code of f' (``relukit.torch.fewbit``).
    kbit: bool = False
    #: torch.nn / transformers / timm classes ``convert()`` replaces by ``module``.
    converts: tuple[Source, ...] = ()
    #: Classes the diagnostics read as this activation though ``convert`` leaves them alone
    #: (the reason is in ``UNSERVED_CLASSES``).
    resembles: tuple[str, ...] = ()
    #: Is f non-decreasing? A non-monotone f (a minimum: gelu, hardswish) is diagnosed on its
    #: input, its lean backward needs the branch of the output.
    monotone: bool = True
    #: Its torch layer as data (None: hand-written in relukit.torch).
    torch_rule: TorchRule | None = None

    # -- parameters ------------------------------------------------------------------

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def bind(self, args: tuple = (), kwargs: dict | None = None) -> dict[str, Any]:
        """Resolve positional/keyword parameters against defaults and validate them."""
        kwargs = dict(kwargs or {})
        names = [p.name for p in self.params]
        if len(args) > len(names):
            raise TypeError(
                f"{self.name}() takes at most {len(names)} parameter(s) after x "
                f"({', '.join(names) or 'none'}), got {len(args)}"
            )
        values = self.defaults
        for name, value in zip(names, args, strict=False):
            if name in kwargs:
                raise TypeError(f"{self.name}() got multiple values for parameter {name!r}")
            values[name] = value
        for name, value in kwargs.items():
            if name not in values:
                raise TypeError(
                    f"{self.name}() got an unexpected parameter {name!r}; "
                    f"its parameters are: {', '.join(names) or 'none'}"
                )
            values[name] = value
        for p in self.params:
            p.validate(self.name, values[p.name])
        if self._check_params is not None:
            self._check_params(self.name, values)
        return values

    def breakpoints(self, **params: Any) -> tuple[float, ...]:
        """Kinks of a piecewise-linear function; () for a smooth one."""
        if self._breakpoints is None:
            return ()
        values = self.bind((), params)
        return self._breakpoints(**values)

    # -- evaluation --------------------------------------------------------------------

    def __call__(self, x: Any, *args: Any, out: np.ndarray | None = None, **params: Any):
        """Value f(x). ``out=`` receives the result (``act(x, out=x)`` works in place)."""
        values = self.bind(args, params)
        a = _as_float_array(self.name, x)
        values = self._prepare(a, values)
        shape = _out_shape(a, values) if self.doubles_axis else a.shape
        if out is not None:
            _check_out(self.name, out, shape, a.dtype)
            a = _unalias(a, out)
        with np.errstate(all="ignore"):
            target = out if out is not None else np.empty(shape, a.dtype)
            if self.exact_in_dtype:
                self._value(a, target, **values)
            else:
                _widened(self._value, a, target, values)
        if out is None and target.ndim == 0:
            return target[()]
        return target

    def derivative(self, x: Any, *args: Any, out: np.ndarray | None = None, **params: Any):
        """Elementwise derivative df/dx, in the input's dtype (crelu: in the output's layout).

        ``out=`` receives the result, as for the value.
        """
        values = self.bind(args, params)
        a = _as_float_array(self.name, x)
        values = self._prepare(a, values)
        shape = _out_shape(a, values) if self.doubles_axis else a.shape
        if out is not None:
            _check_out(self.name, out, shape, a.dtype)
            a = _unalias(a, out)
        with np.errstate(all="ignore"):
            target = out if out is not None else np.empty(shape, a.dtype)
            if self.exact_in_dtype:
                self._derivative(a, target, **values)
            else:
                _widened(self._derivative, a, target, values)
        if out is None and target.ndim == 0:
            return target[()]
        return target

    def param_derivative(self, x: Any, param: str, *args: Any, **params: Any):
        """Elementwise derivative of f with respect to a parameter (prelu: ``"weight"``).

        Reduce it over the axes the parameter is shared across to get its gradient.
        """
        if param not in self._param_derivatives:
            raise ValueError(
                f"{self.name}: no derivative with respect to {param!r}; available: "
                f"{', '.join(sorted(self._param_derivatives)) or 'none'}"
            )
        values = self.bind(args, params)
        a = _as_float_array(self.name, x)
        values = self._prepare(a, values)
        d = np.empty(a.shape, a.dtype)
        with np.errstate(all="ignore"):
            self._param_derivatives[param](a, d, **values)
        return d[()] if d.ndim == 0 else d

    def _prepare(self, a: np.ndarray, values: dict) -> dict:
        """Parameter checks that need the input (axes, weight shapes) and rng coercion."""
        values = dict(values)
        if "axis" in values:
            values["axis"] = _normalise_axis(self.name, a, values["axis"])
        if self.name == "prelu":
            _check_prelu_weight(a, values)
        if "rng" in values:
            values["rng"] = _as_generator(self.name, values["rng"]) if values["training"] else None
        return values

    def __repr__(self) -> str:
        params = ", ".join(f"{p.name}={p.default!r}" for p in self.params)
        return f"<Activation {self.name}({params}): {self.formula}>"

    def __reduce__(self):
        # one object per name: a pickled activation loads as the registered one
        return (get, (self.name,))


# ----------------------------------------------------------------------------- input checks


def _as_float_array(name: str, x: Any) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype in _FLOAT_DTYPES:
        return a
    if a.dtype.kind in "biu":
        raise TypeError(
            f"{name}: x has dtype {a.dtype}; activations take float16, float32 or float64 "
            f"input. Cast first, e.g. np.asarray(x, dtype=np.float32)."
        )
    raise TypeError(
        f"{name}: unsupported dtype {a.dtype}; accepted: float16, float32, float64."
    )


def _unalias(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``a`` itself when it is ``out`` or shares no memory with it, else a copy.

    Elementwise kernels may run in place (same element read before it is written), but a
    partly overlapping view (x = buf[:-1], out = buf[1:]) would read elements already written
    by an earlier block.
    """
    if a is out or not np.may_share_memory(a, out):
        return a
    same = (
        a.__array_interface__["data"][0] == out.__array_interface__["data"][0]
        and a.strides == out.strides
        and a.shape == out.shape
    )
    return a if same else a.copy()


def _widened(fn: Callable, a: np.ndarray, out: np.ndarray, values: dict) -> None:
    """out = fn(float64(a)) rounded once to out's dtype (``fn`` does the rounding: see
    ``_numpy_impl._into_out``), in cache-sized blocks.

    A smooth function is 10-40 NumPy steps on float64 temporaries; on the whole array each step
    would stream 8 bytes per element through main memory. Blocks of impl.WIDE_BLOCK elements keep
    the temporaries in cache and read x / write out once.
    """
    if a.dtype != np.float64:
        fn = impl.NARROW.get(fn, fn)
    block = impl.WIDE_BLOCK
    if a.size <= block or not (a.flags.c_contiguous and out.flags.c_contiguous):
        fn(a.astype(np.float64, copy=False), out, **values)
        return
    af = a.reshape(-1)
    of = out.reshape(-1)
    for start in range(0, af.size, block):
        stop = min(start + block, af.size)
        fn(af[start:stop].astype(np.float64, copy=False), of[start:stop], **values)


def _check_out(name: str, out: Any, shape: tuple, dtype: np.dtype) -> None:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name}: out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name}: out has shape {out.shape}; the result has shape {tuple(shape)}")
    if out.dtype != dtype:
        raise TypeError(f"{name}: out has dtype {out.dtype}; the result has dtype {dtype}")
    if not out.flags.writeable:
        raise ValueError(f"{name}: out is read-only")


def _normalise_axis(name: str, a: np.ndarray, axis: Any) -> int | None:
    ndim = max(a.ndim, 1)
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{name}: axis must be an int, got {axis!r}")
    if name == "prelu" and (a.ndim == 0 or (a.ndim == 1 and axis == 1)):
        return None  # as torch: below 2-D there is no channel axis, one weight for all
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{name}: axis={axis} is out of range for an input with {a.ndim} dimension(s); "
            f"valid: {-ndim} .. {ndim - 1}"
        )
    return int(axis) % ndim


def _out_shape(a: np.ndarray, values: dict) -> tuple:
    if a.ndim == 0:
        return (2,)
    shape = list(a.shape)
    shape[values["axis"]] *= 2
    return tuple(shape)


def _check_prelu_weight(a: np.ndarray, values: dict) -> None:
    w = np.asarray(values["weight"])
    if w.dtype.kind not in "fiu" or w.ndim > 1:
        raise ValueError(
            f"prelu: invalid weight of shape {w.shape} and dtype {w.dtype}; valid: a real scalar "
            "or a 1-D array"
        )
    if not np.all(np.isfinite(w)):
        raise ValueError("prelu: weight must be finite; valid: finite floats")
    axis = values["axis"]
    if axis is None:
        if w.size != 1:
            raise ValueError(
                f"prelu: weight has {w.size} elements but x has shape {a.shape}: below 2-D "
                "there is no channel axis (as in torch), so weight must have 1 element; "
                "pass axis=0 to use the first axis of a 1-D x as channels"
            )
        return
    channels = a.shape[axis]
    if w.size not in (1, channels):
        raise ValueError(
            f"prelu: weight has {w.size} elements; valid: 1 or the size of axis "
            f"{axis} of x ({channels})"
        )


def _as_generator(name: str, rng: Any) -> np.random.Generator:
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(
        f"{name}: rng must be None, an int seed or a numpy.random.Generator, got "
        f"{type(rng).__name__}"
    )


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(
        v, bool
    ) and math.isfinite(v)


def _real(v: Any) -> bool:
    """A real number (not bool); inf allowed."""
    return isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(
        v, bool
    ) and not math.isnan(v)


# ----------------------------------------------------------------------------- the registry

_REGISTRY: dict[str, Activation] = {}
_ALIASES: dict[str, str] = {}
_PRESETS: dict[str, tuple[str, tuple[tuple[str, Any], ...]]] = {}


def _help_text(act: Activation) -> str:
    """What ``help(relukit.<name>)`` prints: the formula, derivative, parameters, the
    convention at the kinks and an example (run by the doctests)."""
    lines = [f"{act.title}: f(x) = {act.formula}", "", f"f'(x) = {act.derivative_formula}", ""]
    if act.params:
        lines.append("Parameters (after x, positional or keyword):")
        lines += [f"    {p.name} = {p.default!r}: {p.doc} (valid: {p.valid})" for p in act.params]
    else:
        lines.append("No parameters.")
    kinks = act.breakpoints() if act.shape != "smooth" else ()
    shape = act.shape.replace("_", "-")
    if kinks:
        with np.errstate(all="ignore"):
            d = act.derivative(np.array(kinks).reshape(1, -1) if act.name == "prelu"
                               else np.array(kinks))
        first = np.ravel(d)[:len(kinks)]  # crelu: the first half
        at = ", ".join(f"f'({k:g}) = {float(v):g}" for k, v in zip(kinks, first, strict=True))
        lines += ["", f"Shape: {shape}, kinks at {', '.join(f'{k:g}' for k in kinks)}; at a "
                  f"kink f' takes PyTorch's side: {at}."]
    else:
        lines += ["", f"Shape: {shape} (no kinks)."]
    lines += ["NaN in gives NaN out (value and derivative); +-inf map to the limits; the result "
              "has the input's float dtype.", ""]
    lines.append(f"Other names: {', '.join(act.aliases) or '-'}.")
    for preset, fixed in act.presets.items():
        lines.append(f"{preset!r} is {act.name} with "
                     + ", ".join(f"{k}={v!r}" for k, v in fixed) + ".")
    lines += [f"Backward needs: {act.backward_needs.replace('_', ' ')}.", ""]
    x = [-1.0, 0.0, 2.0]
    with np.errstate(all="ignore"):
        y, d = act(np.array(x)), act.derivative(np.array(x))
    lines += ["Example::", "",
              "    >>> import relukit",
              f"    >>> relukit.{act.name}({x})",
              "    " + repr(y).replace("\n", "\n    "),
              f"    >>> relukit.{act.name}.derivative({x})",
              "    " + repr(d).replace("\n", "\n    "), ""]
    return "\n".join(lines)


def register(act: Activation) -> Activation:
    if act.name in _REGISTRY:
        raise ValueError(f"activation {act.name!r} is already registered")
    # its own class, whose docstring is this activation's: help(relukit.gelu) shows gelu
    call = inspect.Signature([
        inspect.Parameter("x", inspect.Parameter.POSITIONAL_ONLY),
        *(inspect.Parameter(p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=p.default)
          for p in act.params),
        inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, default=None)])
    own = type(act.name, (Activation,), {"__doc__": _help_text(act), "__module__": __name__,
                                         "__signature__": call})
    object.__setattr__(act, "__class__", own)
    _REGISTRY[act.name] = act
    for alias in (act.name, *act.aliases):
        _ALIASES[_normalise_name(alias)] = act.name
    for preset, fixed in act.presets.items():
        _PRESETS[_normalise_name(preset)] = (act.name, fixed)
    return act


def _normalise_name(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


def names() -> list[str]:
    """Sorted names of every activation in the catalogue."""
    return sorted(_REGISTRY)


def get(name: str) -> Activation:
    """The activation called ``name`` (case, '_' and '-' ignored: "LeakyReLU" works)."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"activation name must be a str, got {type(name).__name__}")
    key = _ALIASES.get(_normalise_name(name))
    if key is None and _normalise_name(name) in _PRESETS:
        base, fixed = _PRESETS[_normalise_name(name)]
        args = ", ".join(f"{k}={v!r}" for k, v in fixed)
        raise ValueError(
            f"{name!r} is {base} with {args}: call relukit.get({base!r}) with {args} "
            f"(relukit.catalogue.resolve({name!r}) gives both)"
        )
    if key is None:
        close = difflib.get_close_matches(name.lower(), names(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"unknown activation {name!r}.{hint} Valid names: {', '.join(names())}"
        )
    return _REGISTRY[key]


def resolve(name: str) -> tuple[Activation, dict[str, Any]]:
    """The activation a name means and the parameters it fixes: ``("gelu_new")`` gives
    ``(gelu, {"approximate": "tanh"})``, a plain name or alias ``(act, {})``."""
    if isinstance(name, str) and _normalise_name(name) in _PRESETS:
        base, fixed = _PRESETS[_normalise_name(name)]
        return _REGISTRY[base], dict(fixed)
    return get(name), {}


def all_activations() -> list[Activation]:
    return [_REGISTRY[n] for n in names()]


# ----------------------------------------------------------------------------- definitions

_SLOPE = Parameter("negative_slope", 0.01, "slope for x <= 0", "finite float", _finite)


def _check_rrelu(name: str, v: dict) -> None:
    if v["lower"] > v["upper"]:
        raise ValueError(
            f"{name}: lower={v['lower']!r} > upper={v['upper']!r}; valid: lower <= upper"
        )


def _check_hardtanh(name: str, v: dict) -> None:
    if v["min_val"] > v["max_val"]:
        raise ValueError(
            f"{name}: min_val={v['min_val']!r} > max_val={v['max_val']!r}; "
            "valid: min_val <= max_val"
        )


relu = register(Activation(
    name="relu", title="ReLU",
    formula="max(0, x)", latex=r"\max(0, x)",
    derivative_formula="1 if x > 0 else 0", derivative_latex=r"\mathbb{1}[x > 0]",
    shape="piecewise_linear", backward_needs="mask",
    _value=impl.relu, _derivative=impl.relu_d,
    _breakpoints=lambda: (0.0,), dead_region="x <= 0", exact_in_dtype=True, torch_name="relu",
    module="ReLU", saves=SAVES_PIECEWISE, default_saves="mask",
    converts=(Source(TORCH_NN + "ReLU", ("inplace",)),),
))

leaky_relu = register(Activation(
    name="leaky_relu", title="Leaky ReLU",
    formula="x if x > 0 else negative_slope * x",
    latex=r"\begin{cases} x & x > 0 \\ a x & x \le 0 \end{cases}",
    derivative_formula="1 if x > 0 else negative_slope",
    derivative_latex=r"\begin{cases} 1 & x > 0 \\ a & x \le 0 \end{cases}",
    shape="piecewise_linear", backward_needs="mask",
    _value=impl.leaky_relu, _derivative=impl.leaky_relu_d, params=(_SLOPE,),
    _breakpoints=lambda negative_slope: (0.0,), exact_in_dtype=True, torch_name="leaky_relu",
    aliases=("leakyrelu", "lrelu"), module="LeakyReLU", saves=SAVES_PIECEWISE,
    default_saves="mask",
    converts=(Source(TORCH_NN + "LeakyReLU", ("negative_slope", "inplace")),),
))

prelu = register(Activation(
    name="prelu", title="PReLU",
    formula="x if x > 0 else weight * x (weight learned, one per channel along axis)",
    latex=r"\begin{cases} x & x > 0 \\ a_c x & x \le 0 \end{cases}",
    derivative_formula="d/dx: 1 if x > 0 else weight; d/dweight: 0 if x > 0 else x",
    derivative_latex=r"\begin{cases} 1 & x > 0 \\ a_c & x \le 0 \end{cases}",
    shape="piecewise_linear", backward_needs="mask",
    _value=impl.prelu, _derivative=impl.prelu_d,
    params=(
        Parameter("weight", 0.25, "learned slope: a scalar or one per channel",
                  "a real scalar or 1-D array with 1 or x.shape[axis] elements"),
        Parameter("axis", 1, "channel axis the weight runs along", "an axis of x"),
    ),
    _breakpoints=lambda weight, axis: (0.0,), exact_in_dtype=True, torch_name="prelu",
    _param_derivatives={"weight": impl.prelu_d_weight},
    module="PReLU", saves=SAVES, default_saves="output",
    converts=(Source(TORCH_NN + "PReLU", ("num_parameters",)),
              *_timm("PReLU", copy=("num_parameters",))),
))

rrelu = register(Activation(
    name="rrelu", title="Randomized leaky ReLU",
    formula="x if x > 0 else a * x, a ~ U(lower, upper) per element in training, "
            "(lower + upper) / 2 otherwise",
    latex=r"\begin{cases} x & x > 0 \\ a x & x \le 0 \end{cases},\ "
          r"a \sim U(l, u)\ \text{(train)},\ a = \tfrac{l+u}{2}\ \text{(eval)}",
    derivative_formula="1 if x > 0 else a",
    derivative_latex=r"\begin{cases} 1 & x > 0 \\ a & x \le 0 \end{cases}",
    shape="piecewise_linear", backward_needs="mask",
    _value=impl.rrelu, _derivative=impl.rrelu_d,
    params=(
        Parameter("lower", 1 / 8, "lower bound of the random slope", "finite float <= upper",
                  _finite),
        Parameter("upper", 1 / 3, "upper bound of the random slope", "finite float >= lower",
                  _finite),
        Parameter("training", False, "draw a random slope per element", "True or False",
                  lambda v: isinstance(v, (bool, np.bool_))),
        Parameter("rng", None, "random source in training: an int seed gives the same slopes "
                  "to the value and the derivative; a Generator advances on every call",
                  "None, an int seed or a numpy.random.Generator"),
    ),
    _breakpoints=lambda **_: (0.0,), exact_in_dtype=True, torch_name="rrelu",
    _check_params=_check_rrelu,
    module="RReLU", converts=(Source(TORCH_NN + "RReLU", ("lower", "upper", "inplace")),),
))

relu6 = register(Activation(
    name="relu6", title="ReLU6",
    formula="min(max(0, x), 6)", latex=r"\min(\max(0, x), 6)",
    derivative_formula="1 if 0 < x < 6 else 0", derivative_latex=r"\mathbb{1}[0 < x < 6]",
    shape="piecewise_linear", backward_needs="mask",
    _value=impl.relu6, _derivative=impl.relu6_d,
    _breakpoints=lambda: (0.0, 6.0), saturating=True, dead_region="x <= 0 or x >= 6",
    exact_in_dtype=True, torch_name="relu6",
    module="ReLU6", saves=SAVES_PIECEWISE, default_saves="mask",
    converts=(Source(TORCH_NN + "ReLU6", ("inplace",)),),
))

hardtanh = register(Activation(
    name="hardtanh", title="Hardtanh",
    formula="min(max(min_val, x), max_val)",
    latex=r"\min(\max(x_{\min}, x), x_{\max})",
    derivative_formula="1 if min_val < x < max_val else 0",
    derivative_latex=r"\mathbb{1}[x_{\min} < x < x_{\max}]",
    shape="piecewise_linear", backward_needs="mask",
    _value=impl.hardtanh, _derivative=impl.hardtanh_d,
    params=(
        Parameter("min_val", -1.0, "lower clamp", "finite float <= max_val", _finite),
        Parameter("max_val", 1.0, "upper clamp", "finite float >= min_val", _finite),
    ),
    _breakpoints=lambda min_val, max_val: (float(min_val), float(max_val)),
    saturating=True, dead_region="x <= min_val or x >= max_val", exact_in_dtype=True,
    torch_name="hardtanh", _check_params=_check_hardtanh,
    module="Hardtanh", saves=SAVES_PIECEWISE, default_saves="mask",
    converts=(Source(TORCH_NN + "Hardtanh", ("min_val", "max_val", "inplace")),),
))

crelu = register(Activation(
    name="crelu", title="Concatenated ReLU",
    formula="concat(max(0, x), max(0, -x)) along axis",
    latex=r"\left[\max(0, x),\ \max(0, -x)\right]",
    derivative_formula="[1 if x > 0 else 0, -1 if x < 0 else 0] along axis",
    derivative_latex=r"\left[\mathbb{1}[x>0],\ -\mathbb{1}[x<0]\right]",
    shape="piecewise_linear", backward_needs="mask",
    _value=impl.crelu, _derivative=impl.crelu_d,
    params=(Parameter("axis", -1, "axis the two halves are concatenated along",
                      "an axis of x"),),
    _breakpoints=lambda axis: (0.0,), exact_in_dtype=True, doubles_axis=True,
    module="CReLU",
))

elu = register(Activation(
    name="elu", title="ELU",
    formula="x if x > 0 else alpha * (exp(x) - 1)",
    latex=r"\begin{cases} x & x > 0 \\ \alpha (e^x - 1) & x \le 0 \end{cases}",
    derivative_formula="1 if x > 0 else alpha * exp(x)  (= f(x) + alpha)",
    derivative_latex=r"\begin{cases} 1 & x > 0 \\ \alpha e^x & x \le 0 \end{cases}",
    shape="smooth", backward_needs="output_and_mask",
    _value=impl.elu, _derivative=impl.elu_d,
    params=(Parameter("alpha", 1.0, "value approached as x -> -inf is -alpha",
                      "finite float", _finite),),
    torch_name="elu",
    module="ELU", saves=SAVES, default_saves="output",
    converts=(Source(TORCH_NN + "ELU", ("alpha", "inplace")),),
))


def _nonzero_finite(v: Any) -> bool:
    return _finite(v) and v != 0


celu = register(Activation(
    name="celu", title="CELU",
    formula="max(0, x) + min(0, alpha * (exp(x / alpha) - 1))",
    latex=r"\max(0, x) + \min\!\left(0, \alpha (e^{x/\alpha} - 1)\right)",
    derivative_formula="1 if x > 0 else exp(x / alpha)",
    derivative_latex=r"\begin{cases} 1 & x > 0 \\ e^{x/\alpha} & x \le 0 \end{cases}",
    shape="smooth", backward_needs="output_and_mask",
    _value=impl.celu, _derivative=impl.celu_d,
    params=(Parameter("alpha", 1.0, "scale of the negative branch",
                      "finite float != 0", _nonzero_finite),),
    torch_name="celu",
    module="CELU", saves=SAVES, default_saves="output",
    converts=(Source(TORCH_NN + "CELU", ("alpha", "inplace")),),
))

selu = register(Activation(
    name="selu", title="SELU",
    formula="scale * (x if x > 0 else alpha * (exp(x) - 1)), "
            f"scale = {impl.SELU_SCALE!r}, alpha = {impl.SELU_ALPHA!r}",
    latex=r"\lambda \begin{cases} x & x > 0 \\ \alpha (e^x - 1) & x \le 0 \end{cases}",
    derivative_formula="scale if x > 0 else scale * alpha * exp(x)",
    derivative_latex=r"\lambda \begin{cases} 1 & x > 0 \\ \alpha e^x & x \le 0 \end{cases}",
    shape="smooth", backward_needs="output_and_mask",
    _value=impl.selu, _derivative=impl.selu_d, torch_name="selu",
    module="SELU", saves=SAVES, default_saves="output",
    converts=(Source(TORCH_NN + "SELU", ("inplace",)),),
))

_APPROX = ("none", "tanh")
_TANH = (("approximate", "tanh"),)

gelu = register(Activation(
    name="gelu", title="GELU",
    formula="x * Phi(x) (Phi: standard normal CDF); approximate='tanh': "
            "0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))",
    latex=r"x\,\Phi(x)",
    derivative_formula="Phi(x) + x * phi(x)",
    derivative_latex=r"\Phi(x) + x\,\varphi(x)",
    shape="smooth", backward_needs="input",
    _value=impl.gelu, _derivative=impl.gelu_d,
    params=(Parameter("approximate", "none", "exact erf form or the tanh approximation",
                      "'none' or 'tanh'", lambda v: v in _APPROX),),
    torch_name="gelu",
    aliases=("gelu_python",),
    presets={n: _TANH for n in ("gelu_tanh", "gelu_pytorch_tanh", "gelu_python_tanh",
                                 "gelu_new", "gelu_fast", "gelu_accurate")},
    module="GELU", saves=SAVES, default_saves="input", kbit=True, monotone=False,
    converts=(
        Source(TORCH_NN + "GELU", ("approximate",)),
        Source(HF + "GELUActivation"),
        Source(HF + "NewGELUActivation", fixed=_TANH, exact=False),
        Source(HF + "GELUTanh", fixed=_TANH),
        Source(HF + "PytorchGELUTanh", fixed=_TANH),
        Source(HF + "FastGELUActivation", fixed=_TANH, exact=False),
        Source(HF + "AccurateGELUActivation", fixed=_TANH, exact=False),
        *_timm("GELU"), *_timm("GELUTanh", fixed=_TANH),
        # relukit's own: converting again sets ``bits``
        Source("relukit.torch.modules.GELU", ("approximate",)),
    ),
    resembles=(HF + "ClippedGELUActivation",),
))

sigmoid = register(Activation(
    name="sigmoid", title="Sigmoid",
    formula="1 / (1 + exp(-x))", latex=r"\sigma(x) = \frac{1}{1 + e^{-x}}",
    derivative_formula="sigmoid(x) * (1 - sigmoid(x))",
    derivative_latex=r"\sigma(x)\,(1 - \sigma(x))",
    shape="smooth", backward_needs="output",
    _value=impl.sigmoid, _derivative=impl.sigmoid_d, saturating=True, torch_name="sigmoid",
    aliases=("logistic",), module="Sigmoid", converts=(Source(TORCH_NN + "Sigmoid"),),
))

tanh = register(Activation(
    name="tanh", title="Tanh",
    formula="tanh(x)", latex=r"\tanh(x)",
    derivative_formula="1 - tanh(x)^2", derivative_latex=r"1 - \tanh^2(x)",
    shape="smooth", backward_needs="output",
    _value=impl.tanh, _derivative=impl.tanh_d, saturating=True, torch_name="tanh",
    module="Tanh", converts=(Source(TORCH_NN + "Tanh"),),
))

silu = register(Activation(
    name="silu", title="SiLU (swish)",
    formula="x * sigmoid(x)", latex=r"x\,\sigma(x)",
    derivative_formula="sigmoid(x) * (1 + x * (1 - sigmoid(x)))",
    derivative_latex=r"\sigma(x)\,(1 + x(1 - \sigma(x)))",
    shape="smooth", backward_needs="input",
    _value=impl.silu, _derivative=impl.silu_d, torch_name="silu",
    aliases=("swish",), module="SiLU", saves=SAVES, default_saves="input", kbit=True,
    monotone=False,
    converts=(
        Source(TORCH_NN + "SiLU", ("inplace",)), Source(HF + "SiLUActivation"),
        *_timm("Swish", copy=("inplace",), exact=False),
        *_timm("SwishMe", *TIMM_ME, copy=("inplace",), exact=False),
        Source("relukit.torch.modules.SiLU", ("inplace",)),
    ),
))

mish = register(Activation(
    name="mish", title="Mish",
    formula="x * tanh(softplus(x))", latex=r"x \tanh(\ln(1 + e^x))",
    derivative_formula="tanh(sp) + x * sigmoid(x) * (1 - tanh(sp)^2), sp = softplus(x)",
    derivative_latex=r"\tanh(s) + x\,\sigma(x)\,\mathrm{sech}^2(s),\ s = \ln(1+e^x)",
    shape="smooth", backward_needs="input",
    _value=impl.mish, _derivative=impl.mish_d, torch_name="mish",
    module="Mish", saves=SAVES, default_saves="input", kbit=True, monotone=False,
    converts=(
        Source(TORCH_NN + "Mish", ("inplace",)), Source(HF + "MishActivation"),
        *_timm("Mish", exact=False), *_timm("MishMe", *TIMM_ME, exact=False),
        Source("relukit.torch.modules.Mish", ("inplace",)),
    ),
))

softplus = register(Activation(
    name="softplus", title="Softplus",
    formula="log(1 + exp(beta * x)) / beta, or x where beta * x > threshold",
    latex=r"\tfrac{1}{\beta}\ln(1 + e^{\beta x})",
    derivative_formula="sigmoid(beta * x), or 1 where beta * x > threshold",
    derivative_latex=r"\sigma(\beta x)",
    shape="smooth", backward_needs="output",
    _value=impl.softplus, _derivative=impl.softplus_d,
    params=(
        Parameter("beta", 1.0, "sharpness", "finite float > 0", lambda v: _finite(v) and v > 0),
        Parameter("threshold", 20.0, "above beta*x > threshold the function is linear",
                  "float >= 0", lambda v: _real(v) and v >= 0),
    ),
    torch_name="softplus",
    module="Softplus", converts=(Source(TORCH_NN + "Softplus", ("beta", "threshold")),),
))


# ----------------------------------------------------------------------------- hard, squared


def _hardswish_from_output(t: Any, y: Any, alive: Any, right: Any) -> Any:
    # y = x (x + 3) / 6 on [-3, 3]: 2x + 3 = +-sqrt(9 + 24 y), the sign from the side of the
    # minimum at x = -1.5; f' = (2x + 3) / 6 there, 0 from -3 down, 1 from 3 up (where y >= 3)
    root = t.sqrt(t.clamp(9.0 + 24.0 * y, min=0.0)) / 6.0
    mid = t.where(right, root, -root)
    return t.where(y >= 3.0, t.ones_like(y), t.where(alive, mid, t.zeros_like(y)))


hardswish = register(Activation(
    name="hardswish", title="Hard swish",
    formula="x * relu6(x + 3) / 6", latex=r"x\,\frac{\min(\max(0, x + 3), 6)}{6}",
    derivative_formula="0 if x <= -3, (2x + 3) / 6 if -3 < x < 3, 1 if x >= 3",
    derivative_latex=r"\begin{cases} 0 & x \le -3 \\ \frac{2x + 3}{6} & -3 < x < 3 \\ "
                     r"1 & x \ge 3 \end{cases}",
    shape="piecewise_quadratic", backward_needs="output_and_mask",
    _value=impl.hardswish, _derivative=impl.hardswish_d,
    _breakpoints=lambda: (-3.0, 3.0), dead_region="x <= -3", torch_name="hardswish",
    aliases=("hard_swish", "hswish"), module="Hardswish", saves=SAVES,
    default_saves="input", monotone=False,
    converts=(Source(TORCH_NN + "Hardswish", ("inplace",)),
              *_timm("HardSwish", copy=("inplace",), exact=False),
              *_timm("HardSwishMe", *TIMM_ME, copy=("inplace",), exact=False)),
    torch_rule=TorchRule(
        forward=lambda t, x, inplace: t.nn.functional.hardswish(x, inplace=inplace),
        inplace=True, from_output=_hardswish_from_output, output_bits=(-3.0, -1.5),
        output_exact=False),
))

hardsigmoid = register(Activation(
    name="hardsigmoid", title="Hard sigmoid",
    formula="relu6(x + 3) / 6", latex=r"\frac{\min(\max(0, x + 3), 6)}{6}",
    derivative_formula="1/6 if -3 < x < 3 else 0",
    derivative_latex=r"\tfrac{1}{6}\,\mathbb{1}[-3 < x < 3]",
    shape="piecewise_linear", backward_needs="mask",
    _value=impl.hardsigmoid, _derivative=impl.hardsigmoid_d,
    _breakpoints=lambda: (-3.0, 3.0), saturating=True, dead_region="x <= -3 or x >= 3",
    torch_name="hardsigmoid", aliases=("hard_sigmoid", "hsigmoid"), module="Hardsigmoid",
    saves=("mask", "input"), default_saves="mask",
    converts=(Source(TORCH_NN + "Hardsigmoid", ("inplace",)),
              *_timm("HardSigmoid", copy=("inplace",), exact=False),
              *_timm("HardSigmoidMe", *TIMM_ME, copy=("inplace",), exact=False)),
    torch_rule=TorchRule(
        forward=lambda t, x, inplace: t.nn.functional.hardsigmoid(x, inplace=inplace),
        inplace=True, mask=(-3.0, 3.0, 1.0 / 6.0),
        mask_kernel=lambda t, grad, x: t.ops.aten.hardsigmoid_backward(grad, x)),
))

relu2 = register(Activation(
    name="relu2", title="Squared ReLU",
    formula="max(0, x)^2", latex=r"\max(0, x)^2",
    derivative_formula="2 max(0, x)  (= 2 sqrt(f(x)))", derivative_latex=r"2\max(0, x)",
    shape="piecewise_quadratic", backward_needs="output",
    _value=impl.relu2, _derivative=impl.relu2_d,
    _breakpoints=lambda: (0.0,), dead_region="x <= 0",
    aliases=("relu_squared", "squared_relu", "relusq"), module="ReLUSquared", saves=SAVES,
    default_saves="output",
    converts=(Source(HF + "ReLUSquaredActivation"),),
    torch_rule=TorchRule(
        forward=lambda t, x, inplace: t.square(t.relu(x)),
        from_output=lambda t, y: 2.0 * t.sqrt(y)),
))

quick_gelu = register(Activation(
    name="quick_gelu", title="QuickGELU",
    formula=f"x * sigmoid({impl.QUICK_GELU_K} x)", latex=r"x\,\sigma(1.702\,x)",
    derivative_formula="s (1 + k x (1 - s)), s = sigmoid(k x), k = 1.702",
    derivative_latex=r"\sigma(kx)\,(1 + kx\,(1 - \sigma(kx))),\ k = 1.702",
    shape="smooth", backward_needs="input",
    _value=impl.quick_gelu, _derivative=impl.quick_gelu_d,
    aliases=("quickgelu",), module="QuickGELU", saves=("input",), default_saves="input",
    monotone=False,
    converts=(Source(HF + "QuickGELUActivation"), *_timm("QuickGELU"),
              *_timm("QuickGELU", *TIMM_ME)),
    torch_rule=TorchRule(forward=lambda t, x, inplace: x * t.sigmoid(1.702 * x)),
))


# ----------------------------------------------------------------------------- not served

_NO_EQUIVALENT = "relukit has no equivalent"
_CLIPPED = "clipped GELU (min/max clamp of the output): relukit has no clipped form"
_NOT_AN_ACTIVATION = "the identity is no activation: use torch.nn.Identity"

#: Names timm's ``get_act_layer`` or transformers' ``ACT2FN`` take that relukit refuses, and why.
UNSERVED_NAMES: dict[str, str] = {
    "gelu_10": _CLIPPED,
    "hard_mish": _NO_EQUIVALENT + " (hard mish: 0.5 x min(2, max(0, x + 2)))",
    "laplace": _NO_EQUIVALENT + " (the Laplace-CDF activation of MEGA)",
    "sqrtsoftplus": _NO_EQUIVALENT + " (sqrt of softplus)",
    "xielu": _NO_EQUIVALENT + " (xIELU has learned parameters of its own)",
    "linear": _NOT_AN_ACTIVATION,
    "identity": _NOT_AN_ACTIVATION,
}

#: Activation classes ``convert`` recognises but leaves alone, and why (qualified names).
UNSERVED_CLASSES: dict[str, str] = {
    HF + "ClippedGELUActivation": _CLIPPED,
    HF + "LaplaceActivation": UNSERVED_NAMES["laplace"],
    HF + "XIELUActivation": UNSERVED_NAMES["xielu"],
    HF + "SqrtSoftplusActivation": UNSERVED_NAMES["sqrtsoftplus"],
    **{TORCH_NN + c: _NO_EQUIVALENT for c in (
        "Hardshrink", "Softshrink", "Tanhshrink", "Softsign", "LogSigmoid", "Threshold", "GLU")},
    **{p + c: UNSERVED_NAMES["hard_mish"] for p in (*TIMM, *TIMM_ME)
       for c in ("HardMish", "HardMishMe")},
}


def unserved_reason(name: str) -> str | None:
    """Why relukit refuses a name timm or transformers take (None: it is not one of those)."""
    key = _normalise_name(name)
    return next((r for n, r in UNSERVED_NAMES.items() if _normalise_name(n) == key), None)
