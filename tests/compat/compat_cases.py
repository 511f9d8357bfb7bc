"""The cases of the compatibility suite: each torch.nn activation next to relukit's.

A ``Case`` builds the torch module and relukit's equivalent with the same (often non-default)
parameters. ``build_model(case, flavour)`` builds the same tiny model ``Linear -> act -> Linear``
three ways: ``"torch"`` (torch.nn's activation), ``"relukit"`` (relukit's module put there
directly) and ``"convert"`` (the torch model after ``relukit.torch.convert``).

``compare`` checks a relukit result against the reference: bitwise where both run torch's
kernels on a piecewise-linear function, within float32 rounding otherwise.
``run_pair`` implements "relukit passes wherever torch passes": when the reference fails,
relukit must fail with the same exception type (and the cell records ``torch_fails``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as TF
from torch import nn

import relukit.torch as rt

FEATURES = 6  # channels / features everywhere (PReLU has one weight per channel)
PRELU_WEIGHTS = [0.25, -0.5, 0.0, 1.5, -2.0, 0.1]


class TorchCReLU(nn.Module):
    """torch has no nn.CReLU: the reference is cat(relu(x), relu(-x)) along ``dim``."""

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((TF.relu(x), TF.relu(-x)), self.dim)


class TorchReLUSquared(nn.Module):
    """Hugging Face's ReLUSquaredActivation, in its ops: relu(x) ** 2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.square(TF.relu(x))


class TorchQuickGELU(nn.Module):
    """Hugging Face's QuickGELUActivation / timm's QuickGELU, in their ops."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


def _prelu_many(cls):
    def make():
        m = cls(num_parameters=FEATURES)
        with torch.no_grad():
            m.weight.copy_(torch.tensor(PRELU_WEIGHTS))
        return m
    return make


@dataclass(frozen=True)
class Case:
    id: str
    row: str  # the module's name: one row of the matrix
    make_torch: Callable[[], nn.Module]
    make_ours: Callable[[], nn.Module]
    kind: str = "pwl"  # pwl | exp | smooth | kbit
    inplace: bool = False
    eval_only: bool = False  # RReLU: random in training, compared in eval
    convertible: bool = True  # CReLU: torch has no module that convert() could swap
    bits: int | None = None
    tags: tuple = field(default=())

    @property
    def bitwise(self) -> bool:
        """Gradients bitwise torch's (piecewise-linear with a torch kernel forward)."""
        return self.kind == "pwl" and self.row != "PReLU"

    @property
    def kbit(self) -> bool:
        return self.kind == "kbit"

    @property
    def out_features(self) -> int:
        return 2 * FEATURES if self.row == "CReLU" else FEATURES

    def __repr__(self) -> str:  # readable pytest ids
        return self.id


def _c(id, row, t, o, **kw):
    return Case(id, row, t, o, **kw)


CASES = [
    _c("relu", "ReLU", nn.ReLU, rt.ReLU),
    _c("relu_inplace", "ReLU", lambda: nn.ReLU(inplace=True), lambda: rt.ReLU(inplace=True),
       inplace=True),
    _c("leaky_relu_0.2", "LeakyReLU", lambda: nn.LeakyReLU(0.2), lambda: rt.LeakyReLU(0.2)),
    _c("leaky_relu_0.2_inplace", "LeakyReLU", lambda: nn.LeakyReLU(0.2, inplace=True),
       lambda: rt.LeakyReLU(0.2, inplace=True), inplace=True),
    _c("prelu", "PReLU", nn.PReLU, rt.PReLU),
    _c("prelu_6ch_neg", "PReLU", _prelu_many(nn.PReLU), _prelu_many(rt.PReLU)),
    _c("rrelu_0.1_0.3_eval", "RReLU", lambda: nn.RReLU(0.1, 0.3).eval(),
       lambda: rt.RReLU(0.1, 0.3).eval(), eval_only=True),
    _c("rrelu_eval_inplace", "RReLU", lambda: nn.RReLU(0.1, 0.3, inplace=True).eval(),
       lambda: rt.RReLU(0.1, 0.3, inplace=True).eval(), eval_only=True, inplace=True),
    _c("relu6", "ReLU6", nn.ReLU6, rt.ReLU6),
    _c("relu6_inplace", "ReLU6", lambda: nn.ReLU6(inplace=True),
       lambda: rt.ReLU6(inplace=True), inplace=True),
    _c("crelu", "CReLU", TorchCReLU, rt.CReLU, convertible=False),
    _c("elu_0.5", "ELU", lambda: nn.ELU(0.5), lambda: rt.ELU(0.5), kind="exp"),
    _c("elu_0.5_inplace", "ELU", lambda: nn.ELU(0.5, inplace=True),
       lambda: rt.ELU(0.5, inplace=True), kind="exp", inplace=True),
    _c("celu_0.5", "CELU", lambda: nn.CELU(0.5), lambda: rt.CELU(0.5), kind="exp"),
    _c("celu_0.5_inplace", "CELU", lambda: nn.CELU(0.5, inplace=True),
       lambda: rt.CELU(0.5, inplace=True), kind="exp", inplace=True),
    _c("selu", "SELU", nn.SELU, rt.SELU, kind="exp"),
    _c("selu_inplace", "SELU", lambda: nn.SELU(inplace=True), lambda: rt.SELU(inplace=True),
       kind="exp", inplace=True),
    _c("hardtanh_-2_3", "Hardtanh", lambda: nn.Hardtanh(-2.0, 3.0),
       lambda: rt.Hardtanh(-2.0, 3.0)),
    _c("hardtanh_-2_3_inplace", "Hardtanh", lambda: nn.Hardtanh(-2.0, 3.0, inplace=True),
       lambda: rt.Hardtanh(-2.0, 3.0, inplace=True), inplace=True),
    _c("gelu", "GELU", nn.GELU, rt.GELU, kind="smooth"),
    _c("gelu_tanh", "GELU", lambda: nn.GELU("tanh"), lambda: rt.GELU("tanh"), kind="smooth"),
    _c("gelu_bits4", "GELU", nn.GELU, lambda: rt.GELU(bits=4), kind="kbit", bits=4),
    _c("silu", "SiLU", nn.SiLU, rt.SiLU, kind="smooth"),
    _c("silu_inplace", "SiLU", lambda: nn.SiLU(inplace=True), lambda: rt.SiLU(inplace=True),
       kind="smooth", inplace=True),
    _c("silu_bits4", "SiLU", nn.SiLU, lambda: rt.SiLU(bits=4), kind="kbit", bits=4),
    _c("mish", "Mish", nn.Mish, rt.Mish, kind="smooth"),
    _c("mish_bits4", "Mish", nn.Mish, lambda: rt.Mish(bits=4), kind="kbit", bits=4),
    _c("softplus_b2_t5", "Softplus", lambda: nn.Softplus(beta=2.0, threshold=5.0),
       lambda: rt.Softplus(beta=2.0, threshold=5.0), kind="smooth"),
    _c("sigmoid", "Sigmoid", nn.Sigmoid, rt.Sigmoid, kind="smooth"),
    _c("tanh", "Tanh", nn.Tanh, rt.Tanh, kind="smooth"),
    _c("hardswish", "Hardswish", nn.Hardswish, rt.Hardswish, kind="smooth"),
    _c("hardsigmoid", "Hardsigmoid", nn.Hardsigmoid, rt.Hardsigmoid),
    _c("relu2", "ReLUSquared", TorchReLUSquared, rt.ReLUSquared, kind="smooth",
       convertible=False),
    _c("quick_gelu", "QuickGELU", TorchQuickGELU, rt.QuickGELU, kind="smooth",
       convertible=False),
]
BY_ID = {c.id: c for c in CASES}
ROWS = list(dict.fromkeys(c.row for c in CASES))

#: one case per module with its non-default parameters, the bits=4 modes and ReLU(inplace):
#: for the expensive cells (compile, ONNX)
CORE = [c for c in CASES if not c.inplace or c.id == "relu_inplace"]
CORE = [c for c in CORE if c.id not in ("prelu", "gelu")]  # prelu_6ch_neg, gelu_tanh cover them


def flavours(case: Case) -> list[str]:
    return ["relukit", "convert"] if case.convertible else ["relukit"]


def case_params(cases=CASES, with_flavour=True):
    """pytest params: (case, flavour) with ids ``<case>-<flavour>``."""
    import pytest

    if not with_flavour:
        return [pytest.param(c, id=c.id) for c in cases]
    return [pytest.param(c, f, id=f"{c.id}-{f}") for c in cases for f in flavours(c)]


# ----------------------------------------------------------------------------- building


def build_model(case: Case, flavour: str, seed: int = 0, hidden_in: int = FEATURES) -> nn.Module:
    """``Linear(hidden_in, 6) -> act -> Linear(6 or 12, 3)``, the same weights for every flavour."""
    torch.manual_seed(seed)
    lin1 = nn.Linear(hidden_in, FEATURES)
    act = case.make_ours() if flavour == "relukit" else case.make_torch()
    lin2 = nn.Linear(case.out_features, 3)
    model = nn.Sequential(lin1, act, lin2)
    if flavour == "convert":
        assert case.convertible
        summary = rt.convert(model, bits=case.bits)
        assert type(model[1]).__module__.startswith("relukit.torch"), summary
    model.train(not case.eval_only)
    if case.eval_only:
        model[1].eval()
    return model


def build_act(case: Case, flavour: str) -> nn.Module:
    """The activation module alone (for ``convert``: the one convert() put into a model)."""
    if flavour == "torch":
        return case.make_torch()
    if flavour == "relukit":
        return case.make_ours()
    return build_model(case, "convert")[1]


def reference_act(case: Case) -> nn.Module:
    """What a relukit module is compared with under a transform: torch's module, except for
    bits=k, whose gradient is approximate by design: there, relukit's own bits=k module (run
    without the transform, see ``eager=True`` in the cells)."""
    return case.make_ours() if case.kbit else case.make_torch()


def x_input(shape=(4, FEATURES), seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    """Random values with the kinks of every function in the first row (0, -0, 6, -2, 3, -1)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g) * 3
    flat = x.view(-1)
    kinks = torch.tensor([0.0, -0.0, 6.0, -2.0, 3.0, -1.0])
    flat[: min(6, flat.numel())] = kinks[: min(6, flat.numel())]
    return x.to(dtype)


def randn_like(t: torch.Tensor, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(t.shape, generator=g).to(t.dtype)


# ----------------------------------------------------------------------------- comparing


def flat(obj) -> list:
    """Flatten nested tuples/lists/dicts of tensors into a list (dicts by sorted key)."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    if obj is None:
        return [None]
    if isinstance(obj, dict):
        return [t for k in sorted(obj) for t in flat(obj[k])]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in flat(o)]
    raise TypeError(type(obj))


def compare(ours, ref, case: Case, what: str = "", tol=None) -> None:
    a, b = flat(ours), flat(ref)
    assert len(a) == len(b), f"{what}: {len(a)} results vs {len(b)}"
    for i, (u, v) in enumerate(zip(a, b, strict=False)):
        if u is None or v is None:
            assert u is None and v is None, f"{what}[{i}]: {u!r} vs {v!r}"
            continue
        assert u.shape == v.shape, f"{what}[{i}]: shape {tuple(u.shape)} vs {tuple(v.shape)}"
        assert u.dtype == v.dtype, f"{what}[{i}]: dtype {u.dtype} vs {v.dtype}"
        if tol is not None:
            rtol, atol = tol
        elif case.bitwise:
            rtol, atol = 0.0, 0.0
        else:
            rtol, atol = None, None
        torch.testing.assert_close(u, v, rtol=rtol, atol=atol, equal_nan=True,
                                   msg=lambda m, i=i: f"{case.id} {what}[{i}]: {m}")


def run_pair(ref_fn, our_fn, check, record=None):
    """relukit passes wherever the reference passes; where the reference raises, relukit must
    raise the same exception type. Returns ``"torch_fails"`` or ``"pass"``."""
    try:
        ref = ref_fn()
    except Exception as e:  # noqa: BLE001 - any failure of torch's own module
        try:
            our_fn()
        except type(e):
            if record is not None:
                record("torch_fails", f"{type(e).__name__}: {str(e).splitlines()[0][:120]}")
            return "torch_fails"
        except Exception as ours:  # noqa: BLE001
            raise AssertionError(
                f"torch fails with {type(e).__name__} ({e}), relukit with "
                f"{type(ours).__name__} ({ours})") from ours
        raise AssertionError(f"torch fails with {type(e).__name__} ({e}), relukit runs") from e
    ours = our_fn()
    check(ours, ref)
    return "pass"


def clone_model(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model)


def uses_torch_for_script(module: nn.Module) -> bool:
    """Whether relukit's module hands torch.jit.script torch's own module."""
    fn = getattr(type(module), "__prepare_scriptable__", None)
    return fn is not None and getattr(fn, "__module__", "").startswith("relukit")
