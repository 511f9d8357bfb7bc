"""``revive``: give dead units a fresh start without changing what the model computes.

Which units: those dead in the report's window *and* still inactive at the current weights on
the check data — ``check_inputs`` (a tensor, a tuple of positional inputs or a dict of keyword
inputs of ``model``), by default the last batch the ``monitor`` counted. Units that the window
calls dead but that fire on that data at the current weights are left alone
(``summary.alive_now``).

For each revived unit: its incoming weights (the producer's row) are re-drawn with
Kaiming-uniform initialisation and its bias set to 0; when a BatchNorm sits between producer
and activation (Conv-BN-ReLU), that channel's running mean/var and affine weight/bias are
reset to 0/1/1/0. Its outgoing weights (the consumer's column, or the block of columns after a
Flatten) are set to 0. The optimizer state of those rows and columns is reset to what a fresh
optimizer of that kind gives them (``relukit.diagnostics.optim_state``).

The promise is checked, not assumed: the model's output on the check data (in eval mode) is
computed before and after, and must be bitwise equal; otherwise everything is restored and a
``RuntimeError`` is raised.

Refusals (``ValueError`` naming the layer and the reason, nothing modified): the producer or
consumer could not be located in the observed forward pass (functional ops, residual adds,
shared modules), they are not Linear/Conv layers, shapes do not match the unit count
(crelu doubles its units), a grouped consumer convolution, or an activation whose dead
output is not the constant 0 (relu6/hardtanh units can be stuck at either clamp, sigmoid/tanh
saturate without a constant output). An optimizer whose state is not known to be per element
is refused with a ``TypeError``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from . import optim_state
from .kinds import spec_for
from .report import MonitorReport


@dataclass
class ReviveSummary:
    revived: dict[str, list[int]] = field(default_factory=dict)  #: layer -> revived units
    refused: dict[str, str] = field(default_factory=dict)  #: layer -> why (strict=False)
    #: layer -> units dead in the window but active at the current weights (left alone)
    alive_now: dict[str, list[int]] = field(default_factory=dict)
    optimizer_entries_reset: int = 0  #: state tensors whose rows/columns were reset

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.revived.values())

    def __str__(self) -> str:
        parts = [f"revived {len(u)} units of {n}" for n, u in self.revived.items()]
        parts += [f"refused {n}: {why}" for n, why in self.refused.items()]
        return "; ".join(parts) or "no dead units to revive"


@dataclass
class _Plan:
    layer: str
    units: list[int]
    producer: Any  # nn.Linear | nn.Conv{1,2,3}d
    norm: Any  # a BatchNorm or None
    consumer: Any  # nn.Linear | nn.Conv{1,2,3}d
    columns: list[int]
    module: str = ""  #: the activation module's name
    call: int = 0  #: which call of it (a module shared in a forward)
    unit_dim: int = 1
    block: int = 1  #: consumer columns per unit (after a Flatten)

    def restrict(self, units: list[int]) -> None:
        self.units = units
        self.columns = [u * self.block + k for u in units for k in range(self.block)]


def revive(model: nn.Module, report: MonitorReport,
           optimizer: torch.optim.Optimizer | None = None, *, layers: list[str] | None = None,
           strict: bool = True, generator: torch.Generator | None = None,
           monitor=None, check_inputs: Any = None, adam_state: str = "neutral"
           ) -> ReviveSummary:
    """Re-initialise the dead units of ``report`` in ``model``; see the module docstring.

    ``layers`` restricts to those layer names. With ``strict`` (default) any layer that cannot
    be revived raises ``ValueError`` before anything is changed; with ``strict=False`` it is
    skipped and listed in ``summary.refused``. Pass the ``monitor`` that made the report: its
    last counted batch is the default check data, and it does not mistake the
    re-initialisation for an optimizer update. ``adam_state``: "neutral" or
    "bias_correction", see ``relukit.diagnostics.optim_state``.
    """
    if not isinstance(report, MonitorReport):
        raise TypeError(f"report must be a MonitorReport, got {type(report).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer or None, got "
                        f"{type(optimizer).__name__}")
    optim_state.check_mode(optimizer, adam_state)
    if optimizer is not None:
        optimizer = optim_state.unwrap(optimizer)
        optim_state.kind_of(optimizer)  # refuse an unknown optimizer before any change
    known = {s.name for s in report.layers}
    if layers is not None and set(layers) - known:
        raise ValueError(f"layers: {sorted(set(layers) - known)} are not in the report; "
                         f"reported layers: {sorted(known)}")
    summary = ReviveSummary()
    plans = []
    for stats in report.layers:
        if not stats.dead_units or (layers is not None and stats.name not in layers):
            continue
        try:
            plans.append(_plan(model, stats))
        except _Refusal as why:
            if strict:
                raise ValueError(f"revive: cannot revive layer {stats.name}: {why}") from None
            summary.refused[stats.name] = str(why)
    if not plans:
        return summary
    args, kwargs = _check_data(check_inputs, monitor)
    was_training = model.training
    pause = monitor.paused() if monitor is not None else contextlib.nullcontext()
    try:
        model.eval()
        with pause, torch.no_grad():
            before, fired = _forward(model, args, kwargs, plans)
            for plan in plans:
                alive = [u for u in plan.units if fired[plan.layer][u]]
                if alive:
                    summary.alive_now[plan.layer] = alive
                    plan.restrict([u for u in plan.units if u not in set(alive)])
            plans = [p for p in plans if p.units]
            saved = _save(plans, optimizer)
            try:
                for plan in plans:
                    summary.optimizer_entries_reset += _apply(plan, optimizer, generator,
                                                              adam_state)
                    summary.revived[plan.layer] = plan.units
                after, _ = _forward(model, args, kwargs, [])
            except BaseException:
                _restore(saved)
                raise
            if not _same(before, after):
                _restore(saved)
                raise RuntimeError(
                    "revive: the model's output on the check data changed when the units were "
                    "re-initialised (they are not the only path from the producer to the "
                    "output?); everything was restored")
    finally:
        model.train(was_training)
    if monitor is not None and plans:
        monitor.resync()
    return summary


def _check_data(check_inputs: Any, monitor) -> tuple[tuple, dict]:
    if check_inputs is None:
        last = getattr(monitor, "last_inputs", None) if monitor is not None else None
        if last is None:
            raise ValueError(
                "revive needs data to check that the units are still inactive at the current "
                "weights: pass check_inputs= (the model's input) or the monitor that counted "
                "the window (monitor=, with keep_last_inputs=True)")
        return tuple(last[0]), dict(last[1])
    if isinstance(check_inputs, torch.Tensor):
        return (check_inputs,), {}
    if isinstance(check_inputs, tuple | list):
        return tuple(check_inputs), {}
    if isinstance(check_inputs, dict):
        return (), dict(check_inputs)
    raise TypeError(f"check_inputs must be a tensor, a tuple of inputs or a dict of keyword "
                    f"inputs of the model, got {type(check_inputs).__name__}")


def _forward(model: nn.Module, args: tuple, kwargs: dict, plans: list[_Plan]):
    """The model's output on the check data, and per planned layer which units fired."""
    fired: dict[str, torch.Tensor] = {}
    by_module: dict[str, list[_Plan]] = {}
    for plan in plans:
        by_module.setdefault(plan.module, []).append(plan)
    calls: dict[str, int] = {}

    def hook_for(name: str):
        def hook(module, inputs, output):
            call = calls.get(name, 0)
            calls[name] = call + 1
            for plan in by_module[name]:
                if plan.call == call and isinstance(output, torch.Tensor):
                    y = output.detach()
                    dims = [d for d in range(y.ndim) if d != plan.unit_dim]
                    now = (y > 0).any(dim=dims) if dims else y > 0
                    fired[plan.layer] = fired[plan.layer] | now if plan.layer in fired else now
        return hook

    handles = [model.get_submodule(name).register_forward_hook(hook_for(name))
               for name in by_module]
    try:
        out = model(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
    for plan in plans:
        if plan.layer not in fired:
            raise ValueError(f"revive: layer {plan.layer} did not run on the check data")
    return out, {k: v.tolist() for k, v in fired.items()}


def _leaves(value: Any) -> list:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict) or hasattr(value, "items") and hasattr(value, "keys"):
        return [x for k in value.keys() for x in _leaves(value[k])]
    if isinstance(value, tuple | list):
        return [x for v in value for x in _leaves(v)]
    return [value]


def _same(a: Any, b: Any) -> bool:
    la, lb = _leaves(a), _leaves(b)
    if len(la) != len(lb):
        return False
    for x, y in zip(la, lb, strict=True):
        if isinstance(x, torch.Tensor) != isinstance(y, torch.Tensor):
            return False
        if isinstance(x, torch.Tensor):
            # bitwise: equal values, NaN where NaN, same signs of zero
            if x.shape != y.shape or x.dtype != y.dtype:
                return False
            if x.is_floating_point():
                xi, yi = x.contiguous().view(_int_like(x)), y.contiguous().view(_int_like(y))
                if not torch.equal(xi, yi):
                    return False
            elif not torch.equal(x, y):
                return False
        elif x is not y and x != y:
            return False
    return True


def _int_like(x: torch.Tensor) -> torch.dtype:
    return {8: torch.int64, 4: torch.int32, 2: torch.int16, 1: torch.int8}[x.element_size()]


def _targets(plan: _Plan) -> list[tuple[torch.Tensor, int]]:
    out = [(plan.producer.weight, 0), (plan.consumer.weight, 1)]
    if plan.producer.bias is not None:
        out.append((plan.producer.bias, 0))
    if plan.norm is not None:
        for t in (plan.norm.weight, plan.norm.bias, plan.norm.running_mean,
                  plan.norm.running_var):
            if t is not None:
                out.append((t, 0))
    return out


def _save(plans: list[_Plan], optimizer) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Copies of every tensor revive may touch (parameters and their optimizer state)."""
    saved: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    for plan in plans:
        for t, _ in _targets(plan):
            saved[id(t)] = (t, t.detach().clone())
            if optimizer is not None:
                for value in optimizer.state.get(t, {}).values():
                    if isinstance(value, torch.Tensor):
                        saved[id(value)] = (value, value.detach().clone())
    return list(saved.values())


def _restore(saved: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    with torch.no_grad():
        for t, copy in saved:
            t.copy_(copy)


class _Refusal(Exception):
    pass


def _plan(model: nn.Module, stats) -> _Plan:
    if stats.producer is None:
        raise _Refusal(f"cannot locate the producing layer: {stats.topology_note}")
    if stats.consumer is None:
        raise _Refusal(f"cannot locate the consuming layer: {stats.topology_note}")
    activation = model.get_submodule(stats.module or stats.name)
    spec = spec_for(activation)
    if spec is None or spec.kind != "gate" or spec.high is not None or spec.low != 0.0:
        raise _Refusal(f"its activation ({stats.activation}) has no constant-zero dead output "
                       f"(two-sided clamps and saturating functions are not supported)")
    producer: Any = model.get_submodule(stats.producer)
    consumer: Any = model.get_submodule(stats.consumer)
    norm = model.get_submodule(stats.norm) if stats.norm else None
    rows = producer.weight.shape[0]
    if rows != stats.units:
        raise _Refusal(f"it has {stats.units} units but its producer {stats.producer} has "
                       f"{rows} outputs (a crelu or a reshape in between?)")
    last_dim = stats.unit_dim is not None and stats.unit_dim != 1
    if isinstance(producer, nn.Linear) and stats.unit_dim is not None and stats.unit_dim == 0:
        raise _Refusal("its units are counted along dim 0, not along the producer's outputs")
    if not isinstance(producer, nn.Linear) and last_dim:
        raise _Refusal(f"its units are counted along dim {stats.unit_dim}, not along the "
                       f"channels of its producer {stats.producer}")
    if isinstance(consumer, nn.Linear):
        width = consumer.in_features
        if width % stats.units:
            raise _Refusal(f"its consumer {stats.consumer} has {width} inputs, not a multiple "
                           f"of its {stats.units} units")
        block = width // stats.units
        if block > 1 and stats.unit_dim != 1:
            raise _Refusal(f"its consumer {stats.consumer} reads a flattened output whose "
                           f"units (dim {stats.unit_dim}) are not contiguous blocks")
        columns = [u * block + k for u in stats.dead_units for k in range(block)]
    else:
        if consumer.groups != 1:
            raise _Refusal(f"its consumer {stats.consumer} is a grouped convolution "
                           f"(groups={consumer.groups})")
        if consumer.in_channels != stats.units:
            raise _Refusal(f"its consumer {stats.consumer} reads {consumer.in_channels} "
                           f"channels, not its {stats.units} units")
        columns = list(stats.dead_units)
        block = 1
    call = int(stats.name.rsplit("#", 1)[1]) if "#" in stats.name else 0
    return _Plan(stats.name, list(stats.dead_units), producer, norm, consumer, columns,
                 module=stats.module or stats.name, call=call,
                 unit_dim=stats.unit_dim if stats.unit_dim is not None else 1, block=block)


def _apply(plan: _Plan, optimizer, generator, mode: str) -> int:
    rows = torch.tensor(plan.units, device=plan.producer.weight.device)
    cols = torch.tensor(plan.columns, device=plan.consumer.weight.device)
    with torch.no_grad():
        weight = plan.producer.weight
        fresh = torch.empty((len(plan.units), *weight.shape[1:]), dtype=weight.dtype,
                            device=weight.device)
        nn.init.kaiming_uniform_(fresh, nonlinearity="relu", generator=generator)
        weight[rows] = fresh
        if plan.producer.bias is not None:
            plan.producer.bias[rows] = 0
        if plan.norm is not None:
            if plan.norm.running_mean is not None:
                plan.norm.running_mean[rows] = 0
                plan.norm.running_var[rows] = 1
            if plan.norm.weight is not None:
                plan.norm.weight[rows] = 1
                plan.norm.bias[rows] = 0
        plan.consumer.weight[:, cols] = 0
    if optimizer is None:
        return 0
    reset = 0
    for param, dim in _targets(plan):
        if isinstance(param, nn.Parameter):
            index = cols if param is plan.consumer.weight else rows
            reset += optim_state.reset(optimizer, param, index, dim, mode)
    return reset
