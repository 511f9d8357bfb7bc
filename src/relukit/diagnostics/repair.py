"""``revive``: give dead units a fresh start without changing what the model computes.

For each dead unit of a report: its incoming weights (the producer's row) are re-drawn with
Kaiming-uniform initialisation and its bias set to 0; when a BatchNorm sits between producer
and activation (Conv-BN-ReLU), that channel's running mean/var and affine weight/bias are
reset to 0/1/1/0. Its outgoing weights (the consumer's column, or the block of columns after a
Flatten) are set to 0, so at that moment the model's output is unchanged: the unit's output
was 0 (dead) and now reaches nothing. The optimizer state of those rows and columns (Adam's
``exp_avg``/``exp_avg_sq``, SGD momentum, any per-element state) is zeroed so that old momentum
does not push the unit straight back.

Refusals (``ValueError`` naming the layer and the reason, nothing modified): the producer or
consumer could not be located in the observed forward pass (functional ops, residual adds,
shared modules), they are not Linear/Conv layers, shapes do not match the unit count
(crelu doubles its units), a grouped consumer convolution, or an activation whose dead
output is not the constant 0 (relu6/hardtanh units can be stuck at either clamp, sigmoid/tanh
saturate without a constant output).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .kinds import spec_for
from .report import MonitorReport


@dataclass
class ReviveSummary:
    revived: dict[str, list[int]] = field(default_factory=dict)  #: layer -> revived units
    refused: dict[str, str] = field(default_factory=dict)  #: layer -> why (strict=False)
    optimizer_entries_reset: int = 0  #: state tensors whose rows/columns were zeroed

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


def revive(model: nn.Module, report: MonitorReport,
           optimizer: torch.optim.Optimizer | None = None, *, layers: list[str] | None = None,
           strict: bool = True, generator: torch.Generator | None = None,
           monitor=None) -> ReviveSummary:
    """Re-initialise the dead units of ``report`` in ``model``; see the module docstring.

    ``layers`` restricts to those layer names. With ``strict`` (default) any layer that cannot
    be revived raises ``ValueError`` before anything is changed; with ``strict=False`` it is
    skipped and listed in ``summary.refused``. Pass the ``monitor`` that made the report so
    that it does not mistake the re-initialisation for an optimizer update.
    """
    if not isinstance(report, MonitorReport):
        raise TypeError(f"report must be a MonitorReport, got {type(report).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer or None, got "
                        f"{type(optimizer).__name__}")
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
    for plan in plans:
        summary.optimizer_entries_reset += _apply(plan, optimizer, generator)
        summary.revived[plan.layer] = plan.units
    if monitor is not None and plans:
        monitor.resync()
    return summary


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
    return _Plan(stats.name, list(stats.dead_units), producer, norm, consumer, columns)


def _apply(plan: _Plan, optimizer, generator) -> int:
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
    targets = [(plan.producer.weight, rows, 0), (plan.producer.bias, rows, 0),
               (plan.consumer.weight, cols, 1)]
    if plan.norm is not None:
        targets += [(plan.norm.weight, rows, 0), (plan.norm.bias, rows, 0)]
    for param, index, dim in targets:
        if param is None:
            continue
        for value in optimizer.state.get(param, {}).values():
            if isinstance(value, torch.Tensor) and value.shape == param.shape:
                with torch.no_grad():
                    value.index_fill_(dim, index.to(value.device), 0)
                reset += 1
    return reset
