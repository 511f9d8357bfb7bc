"""Counting per call site: forward hooks that add, per unit, how often an activation is active.

Counting runs in forward hooks, on the output's device, with a comparison and a sum per call
site (plus a max of the pre-activation for ReLU-type units, to tell a drifted bias from
misdirected weights). A forward pass of the model is counted only when it returns: each hook
stages its sums, and they are added to the step's counts when the model's forward finishes; a
forward that raises adds nothing. Monitored modules called outside the model add at once.

A module called several times per forward (one ``nn.ReLU`` shared by several layers) gets
one :class:`SiteCounter` per call: ``act``, ``act#1``, ...
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .kinds import ActivationSpec, resolve_unit_dim
from .tracing import Topology

MAX_CALLS = 64  #: calls of one module per forward that get their own counter


def _indicator(v: torch.Tensor, low: float | None, high: float | None,
               zero_floor: bool = False) -> torch.Tensor:
    """1 where ``low < v < high``, else 0, as floats (NaN gives NaN, counted 0 later)."""
    if zero_floor:
        return torch.sign(v)  # v >= 0 here
    if low is not None and high is not None:
        return torch.minimum(v - low, high - v).clamp_(min=0).sign_()
    if low is not None:
        return (v - low).clamp_(min=0).sign_()
    if high is not None:
        return (high - v).clamp_(min=0).sign_()
    return torch.ones_like(v)


class SiteCounter:
    """Per-unit counts of one call of one activation module (allocated at its first forward)."""

    def __init__(self, name: str, module: nn.Module, spec: ActivationSpec, call: int = 0):
        self.module_name, self.module, self.spec, self.call = name, module, spec, call
        self.name = name if call == 0 else f"{name}#{call}"
        self.units: int | None = None
        self.unit_dim: int | None = None
        self.dims: tuple[int, ...] = ()
        self.observations = 0  # outputs per unit in the current window
        self.inactive_known = True
        self.topology = Topology()

    def allocate(self, y: torch.Tensor, unit_dim: int) -> None:
        self.unit_dim = unit_dim
        self.units = units = y.shape[unit_dim]
        self.dims = tuple(d for d in range(y.ndim) if d != unit_dim)
        dev = y.device
        window = torch.zeros(units, dtype=torch.float64, device=dev)
        # Counts are sums of 0/1 floats: CPU reductions of bool tensors are several times
        # slower. float32 is exact per step up to 2**24 outputs per unit; windows use float64.
        self.step_active = torch.zeros(units, dtype=torch.float32, device=dev)
        self.active = window.clone()
        self.last_active = torch.full((units,), -1, dtype=torch.int64, device=dev)
        spec = self.spec
        separate_dead = spec.can_die and not spec.dead_is_inactive
        self.step_alive = torch.zeros_like(self.step_active) if separate_dead else None
        self.alive = window.clone() if separate_dead else None
        self.negative = window.clone() if spec.kind == "signed" else None
        self.zeros = torch.zeros((), dtype=torch.float64, device=dev)
        self.pre_max = None
        if spec.kind == "gate" and spec.low is not None and not spec.on_input:
            self.pre_max = torch.full((units,), -torch.inf, dtype=torch.float32, device=dev)

    def reduce(self, indicator: torch.Tensor) -> torch.Tensor:
        """Per-unit sum of a 0/1 (or -1/0) float tensor; a NaN (from NaN outputs) counts 0."""
        if not self.dims:
            total = indicator.to(torch.float32)
        elif indicator.dtype in (torch.float32, torch.float64):
            total = indicator.sum(self.dims)
        else:  # half/bfloat16 sums of ones stop counting at a few hundred
            total = indicator.sum(self.dims, dtype=torch.float32)
        return torch.nan_to_num(total, nan=0.0)

    def measure(self, y: torch.Tensor, x: object) -> tuple:
        """This forward's contribution (not yet added): see :meth:`commit`."""
        spec = self.spec
        units = int(self.units or 0)
        per_unit = y.numel() // units
        v: torch.Tensor | None = y
        if spec.on_input:
            usable = isinstance(x, torch.Tensor) and x is not y and x.shape == y.shape
            v = x.detach() if usable and isinstance(x, torch.Tensor) else None
            if v is None:
                self.inactive_known = False
        active: torch.Tensor | int = per_unit  # no inactive region: every output is active
        if v is not None and spec.has_inactive_region:
            active = self.reduce(_indicator(v, spec.low, spec.high, spec.zero_floor))
        alive = None
        if self.step_alive is not None and v is not None:
            alive = self.reduce(_indicator(v, spec.dead_low, spec.dead_high))
        zeros = None
        if not spec.zero_floor:
            # count_nonzero, not sign(): NaN is not a zero (sign(NaN) is 0 in torch)
            zeros = y.numel() - torch.count_nonzero(y).to(torch.float64)
        negative = None
        if self.negative is not None:
            negative = self.reduce(y.clamp(max=0).sign_())
        pre = None
        if (self.pre_max is not None and isinstance(x, torch.Tensor) and x is not y
                and x.shape == y.shape):
            pre = x.detach().amax(self.dims) if self.dims else x.detach()
        return per_unit, active, alive, zeros, negative, pre

    def commit(self, contribution: tuple) -> None:
        per_unit, active, alive, zeros, negative, pre = contribution
        self.observations += per_unit
        self.step_active += active
        if alive is not None:
            self.step_alive += alive  # type: ignore[operator]
        if zeros is not None:
            self.zeros += zeros
        if negative is not None:
            self.negative -= negative  # type: ignore[operator]
        if pre is not None:
            torch.maximum(self.pre_max, pre.float(), out=self.pre_max)  # type: ignore[arg-type]

    def flush_step(self, step: int) -> None:
        self.active += self.step_active
        self.last_active.masked_fill_(self.step_active > 0, step)
        self.step_active.zero_()
        if self.step_alive is not None:
            self.alive += self.step_alive  # type: ignore[operator]
            self.step_alive.zero_()

    def reset_window(self) -> None:
        for t in (self.active, self.zeros, self.negative, self.alive):
            if t is not None:
                t.zero_()
        if self.pre_max is not None:
            self.pre_max.fill_(-torch.inf)
        self.observations = 0
        self.inactive_known = True


class CallSites:
    """The counters of every monitored call site, and the hooks that feed them.

    ``source_of`` (optional) tells, during the first recorded forward, which module produced
    a tensor (to place the units of a Conv1d output on its channel dim).
    """

    def __init__(self, model: nn.Module, counters: list[SiteCounter],
                 unit_dim: int | dict[str, int] | None, training_only: bool):
        self.counters = counters
        self._unit_dim = unit_dim
        self._training_only = training_only
        self.paused = False
        self.source_of: Callable[[object], nn.Module | None] | None = None
        self.topologies: dict[tuple[str, int], Topology] = {}
        self.last_inputs: tuple | None = None  #: (args, kwargs) of the last counted forward
        self.keep_inputs = False
        self._calls: dict[str, int] = {}  # calls of each module in the current forward
        self._depth = 0  # > 0 inside a call of ``model``
        self._root_seen = False
        self._staged: list[tuple[SiteCounter, tuple]] = []
        self._handles = [c.module.register_forward_hook(self._hook_for(c)) for c in counters]
        self._handles += [
            model.register_forward_pre_hook(self._enter, with_kwargs=True),
            model.register_forward_hook(self._finished),
            model.register_forward_hook(self._leave, always_call=True),
        ]
        self._inputs: tuple | None = None

    # root bookkeeping ---------------------------------------------------------------------

    def _enter(self, module, args, kwargs):
        self._root_seen = True
        self._depth += 1
        if self._depth == 1:
            self._calls.clear()
            self._staged = []
            self._inputs = (args, kwargs) if self.keep_inputs else None

    def _finished(self, module, inputs, output):
        # runs only when the forward returned: commit what its hooks staged
        if self._depth == 1:
            for counter, contribution in self._staged:
                counter.commit(contribution)
            if self._staged and self._inputs is not None:
                self.last_inputs = self._inputs
            self._staged = []

    def _leave(self, module, inputs, output):
        # always runs, also when the forward raised: whatever is still staged is dropped
        self._depth = max(0, self._depth - 1)
        if self._depth == 0:
            self._staged = []
            self._inputs = None

    # counting -----------------------------------------------------------------------------

    def _site(self, first: SiteCounter) -> SiteCounter | None:
        if not self._depth:
            # outside a call of the model (a Lightning training_step calls submodules
            # directly): no forward to number the calls in
            return first
        call = self._calls.get(first.module_name, 0)
        self._calls[first.module_name] = call + 1
        if call == 0:
            return first
        for counter in self.counters:
            if counter.module is first.module and counter.call == call:
                return counter
        if call > MAX_CALLS:
            return None
        counter = SiteCounter(first.module_name, first.module, first.spec, call)
        counter.topology = self.topologies.get(
            (first.module_name, call), Topology(note=f"{counter.name} was not seen in the "
                                                     f"observed first forward pass"))
        self.counters.append(counter)
        return counter

    def _hook_for(self, first: SiteCounter):
        def hook(module, inputs, output):
            if self.paused or not isinstance(output, torch.Tensor) or output.numel() == 0:
                return
            if self._training_only and not module.training:
                return
            if self._root_seen and not self._depth:
                # Outside a call of the model: activation recomputation during backward
                # (gradient checkpointing) would count the same batch twice.
                return
            counter = self._site(first)
            if counter is None:
                return
            with torch.no_grad():
                y = output.detach()
                if counter.units is None:
                    counter.allocate(y, self._resolve_dim(counter, y, inputs))
                elif y.ndim != len(counter.dims) + 1 or y.shape[counter.unit_dim] != counter.units:
                    raise ValueError(
                        f"ActivationMonitor: {counter.name} produced shape {tuple(y.shape)} "
                        f"but earlier outputs had {counter.units} units on dim "
                        f"{counter.unit_dim}; pass unit_dim to say which dim holds the units")
                x = inputs[0] if inputs else None
                contribution = counter.measure(y, x)
            if self._depth:
                self._staged.append((counter, contribution))
            else:
                counter.commit(contribution)

        return hook

    def _resolve_dim(self, counter: SiteCounter, y: torch.Tensor, inputs: tuple) -> int:
        override = self._unit_dim
        if isinstance(override, dict):
            override = override.get(counter.name, override.get(counter.module_name))
        source = self.source_of(inputs[0]) if self.source_of is not None and inputs else None
        return resolve_unit_dim(y.shape, override, isinstance(source, nn.Conv1d))

    def set_topologies(self, topologies: dict[tuple[str, int], Topology]) -> None:
        self.topologies = topologies
        for counter in self.counters:
            counter.topology = topologies.get((counter.module_name, counter.call),
                                              counter.topology)

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._staged = []
        self.last_inputs = None

