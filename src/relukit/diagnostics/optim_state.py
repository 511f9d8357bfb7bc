"""Reset the optimizer state of revived rows/columns to what a fresh optimizer gives them.

Per optimizer (``torch.optim``, subclasses included), for the revived slices of a parameter:

* SGD (momentum, nesterov): ``momentum_buffer`` -> 0 (a fresh buffer starts from the first
  gradient, which is what a zero buffer gives with ``dampening=0``).
* Adam, AdamW, Adam(amsgrad), NAdam, RAdam: ``exp_avg`` -> 0 and, because their bias
  correction is per parameter, not per row (``step`` stays at, say, 2000, so zeroed moments
  would make the first steps of the revived rows about 3x too large), one of:

  - ``"neutral"`` (default): the second moment (``exp_avg_sq``, ``max_exp_avg_sq``) of the
    revived slices is set to the mean of the other slices' (per element of the other axes):
    the revived rows take steps of the size the live rows take, growing from 0 as the first
    moment fills in;
  - ``"bias_correction"`` (Adam/AdamW only): both moments -> 0 and each revived element gets
    its own step count; optimizer step hooks redo the update of those elements with the
    bias correction a freshly created Adam would apply (until it equals the parameter's).
* Adamax: ``exp_avg``, ``exp_inf`` -> 0. Adagrad: ``sum`` -> ``initial_accumulator_value``.
  RMSprop: ``square_avg``, ``momentum_buffer``, ``grad_avg`` -> 0. Adadelta: ``square_avg``,
  ``acc_delta`` -> 0. Rprop: ``prev`` -> 0, ``step_size`` -> the group's lr.

Other optimizers (LBFGS, SparseAdam, ASGD, Adafactor's factored moments, anything unknown)
are refused with a ``TypeError`` before anything is changed.
"""

from __future__ import annotations

import weakref

import torch

MODES = ("neutral", "bias_correction")

#: optimizer class name -> state key -> what a fresh optimizer has: "zero", "neutral"
#: (second moments: see the module docstring), "initial_accumulator_value", "lr".
_RESETS: dict[str, dict[str, str]] = {
    "SGD": {"momentum_buffer": "zero"},
    "Adam": {"exp_avg": "zero", "exp_avg_sq": "neutral", "max_exp_avg_sq": "neutral"},
    "AdamW": {"exp_avg": "zero", "exp_avg_sq": "neutral", "max_exp_avg_sq": "neutral"},
    "NAdam": {"exp_avg": "zero", "exp_avg_sq": "neutral"},
    "RAdam": {"exp_avg": "zero", "exp_avg_sq": "neutral"},
    "Adamax": {"exp_avg": "zero", "exp_inf": "zero"},
    "Adagrad": {"sum": "initial_accumulator_value"},
    "RMSprop": {"square_avg": "zero", "momentum_buffer": "zero", "grad_avg": "zero"},
    "Adadelta": {"square_avg": "zero", "acc_delta": "zero"},
    "Rprop": {"prev": "zero", "step_size": "lr"},
}
_BIAS_CORRECTED = ("Adam", "AdamW")


def unwrap(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """The real optimizer behind a wrapper that subclasses Optimizer without initialising it
    (accelerate's ``AcceleratedOptimizer``, as the Hugging Face Trainer hands it out)."""
    seen = 0
    while "_optimizer_step_pre_hooks" not in vars(optimizer) and seen < 8:
        inner = getattr(optimizer, "optimizer", None)
        if not isinstance(inner, torch.optim.Optimizer):
            break
        optimizer, seen = inner, seen + 1
    return optimizer


def kind_of(optimizer: torch.optim.Optimizer) -> str:
    """The supported ``torch.optim`` class ``optimizer`` is (or derives from)."""
    for cls in type(optimizer).__mro__:
        if cls.__module__.startswith("torch.optim") and cls.__name__ in _RESETS:
            return cls.__name__
    raise TypeError(
        f"revive: cannot reset the state of a {type(optimizer).__name__} optimizer (its state "
        f"is not known to be per element); supported: {', '.join(sorted(_RESETS))}. Pass "
        f"optimizer=None to leave its state alone")


def check_mode(optimizer: torch.optim.Optimizer | None, mode: str) -> None:
    if not isinstance(mode, str):
        raise TypeError(f"adam_state must be a str, one of {MODES}, got {type(mode).__name__}")
    if mode not in MODES:
        raise ValueError(f"adam_state must be one of {MODES}, got {mode!r}")


def reset(optimizer: torch.optim.Optimizer, param: torch.Tensor, index: torch.Tensor,
          dim: int, mode: str) -> int:
    """Reset the state of ``param``'s slices ``index`` along ``dim``; returns entries reset."""
    kind = kind_of(optimizer)
    state = optimizer.state.get(param)
    if not state:
        return 0  # no step yet: the state is already fresh
    group = next(g for g in optimizer.param_groups if any(p is param for p in g["params"]))
    per_row = mode == "bias_correction" and kind in _BIAS_CORRECTED
    count = 0
    for key, how in _RESETS[kind].items():
        value = state.get(key)
        if not isinstance(value, torch.Tensor) or value.shape != param.shape:
            continue
        idx = index.to(value.device)
        with torch.no_grad():
            if how == "zero" or (how == "neutral" and per_row):
                value.index_fill_(dim, idx, 0)
            elif how == "neutral":
                keep = torch.ones(value.shape[dim], dtype=torch.bool, device=value.device)
                keep[idx] = False
                if keep.any():
                    others = value.index_select(dim, keep.nonzero().flatten())
                    mean = others.mean(dim, keepdim=True).expand_as(
                        value.index_select(dim, idx))
                    value.index_copy_(dim, idx, mean.contiguous())
                else:
                    value.index_fill_(dim, idx, 0)
            elif how == "initial_accumulator_value":
                value.index_fill_(dim, idx, float(group.get("initial_accumulator_value", 0.0)))
            elif how == "lr":
                value.index_fill_(dim, idx, float(group["lr"]))
        count += 1
    if per_row:
        _tracker(optimizer).add(param, index, dim)
    return count


# -- per-element bias correction for Adam/AdamW ------------------------------------------------

_TRACKERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _tracker(optimizer: torch.optim.Optimizer) -> _RowSteps:
    tracker = _TRACKERS.get(optimizer)
    if tracker is None:
        tracker = _TRACKERS[optimizer] = _RowSteps(optimizer)
    return tracker


class _RowSteps:
    """Own step counts for revived slices; redoes their Adam update with those counts."""

    DONE = 1e-7  #: stop once beta**k is below this: the parameter's correction is as good

    def __init__(self, optimizer: torch.optim.Optimizer):
        self._optimizer = weakref.ref(optimizer)
        self._entries: dict[tuple[int, int], list] = {}  # (id(param), dim) -> [param, dim, k]
        self._before: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}
        self._handles = [optimizer.register_step_pre_hook(self._pre),
                         optimizer.register_step_post_hook(self._post)]

    def add(self, param: torch.Tensor, index: torch.Tensor, dim: int) -> None:
        key = (id(param), dim)
        if key not in self._entries:
            k = torch.full((param.shape[dim],), -1, dtype=torch.float64, device=param.device)
            self._entries[key] = [param, dim, k]
        self._entries[key][2][index.to(param.device)] = 0

    def _pre(self, optimizer, args, kwargs) -> None:
        self._before = {}
        for key, (param, dim, k) in self._entries.items():
            rows = (k >= 0).nonzero().flatten()
            if len(rows):
                self._before[key] = (rows, param.detach().index_select(dim, rows).clone())

    def _post(self, optimizer, args, kwargs) -> None:
        for key, (rows, before) in self._before.items():
            param, dim, k = self._entries[key]
            state = optimizer.state.get(param, {})
            group = next(g for g in optimizer.param_groups
                         if any(p is param for p in g["params"]))
            if "exp_avg" not in state:
                continue
            beta1, beta2 = (float(b) for b in group["betas"])
            lr, eps = float(group["lr"]), float(group["eps"])
            k[rows] += 1
            steps = k[rows]
            shape = [1] * param.dim()
            shape[dim] = len(rows)
            bc1 = (1 - beta1 ** steps).reshape(shape)
            bc2 = (1 - beta2 ** steps).reshape(shape)
            with torch.no_grad():
                m = state["exp_avg"].index_select(dim, rows).double()
                v_key = "max_exp_avg_sq" if group.get("amsgrad") else "exp_avg_sq"
                v = state[v_key].index_select(dim, rows).double()
                start = before.double()
                decoupled = (type(optimizer).__name__ == "AdamW"
                             or group.get("decoupled_weight_decay", False))
                if decoupled and group.get("weight_decay", 0):
                    start = start * (1 - lr * float(group["weight_decay"]))
                new = start - lr * (m / bc1) / ((v / bc2).sqrt() + eps)
                param.index_copy_(dim, rows, new.to(param.dtype))
            done = (beta1 ** k < self.DONE) & (beta2 ** k < self.DONE)
            k[done] = -1
        self._before = {}
