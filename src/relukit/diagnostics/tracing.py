"""Find the layer that feeds an activation (its *producer*) and the one that reads it.

Module registration order says nothing reliable about data flow, so the monitor watches one
real forward pass instead: hooks on every leaf module record which tensor object each module
received and returned; the producer of an activation is the module whose output *is* the
activation's input, the consumer the module whose input *is* its output. A BatchNorm between
producer and activation is remembered (Conv-BN-ReLU); dropout, identity, pooling and flatten
between activation and consumer are passed through. Whatever else (a residual add, a
functional op, a shared module) leaves a ``note`` saying why nothing was located.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.pooling import (
    _AdaptiveAvgPoolNd,
    _AdaptiveMaxPoolNd,
    _AvgPoolNd,
    _MaxPoolNd,
)

PRODUCERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_PASS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity)
_POOLS = (_MaxPoolNd, _AvgPoolNd, _AdaptiveAvgPoolNd, _AdaptiveMaxPoolNd)


@dataclass
class Topology:
    producer: str | None = None
    norm: str | None = None
    consumer: str | None = None
    note: str | None = None


@dataclass
class _Event:
    name: str
    module: nn.Module
    input: object
    output: object


class GraphRecorder:
    """Records the first forward pass of ``model`` and hands the topologies to ``done``."""

    def __init__(self, model: nn.Module, activations: list[str],
                 done: Callable[[dict[tuple[str, int], Topology]], None]):
        self._activations = set(activations)
        self._done = done
        self._events: list[_Event] = []
        self._recording = False  # only inside a call of the root model: no leak otherwise
        self._handles = [model.register_forward_pre_hook(self._start),
                         model.register_forward_hook(self._finish)]
        for name, module in model.named_modules():
            if not any(True for _ in module.children()):
                self._handles.append(module.register_forward_hook(self._recorder(name)))

    def _recorder(self, name: str):
        def record(module, inputs, output):
            if not self._recording:
                return
            first = inputs[0] if inputs else None
            self._events.append(_Event(name, module, first, output))
        return record

    def source_of(self, tensor: object) -> nn.Module | None:
        """During the recorded pass: the module (through a BatchNorm) that produced ``tensor``."""
        if not self._recording:
            return None
        index = _producer_of(self._events, len(self._events), tensor)
        if index is not None and isinstance(self._events[index].module, _BatchNorm):
            index = _producer_of(self._events, index, self._events[index].input)
        return None if index is None else self._events[index].module

    def _start(self, module, inputs):
        self._events = []
        self._recording = True

    def _finish(self, module, inputs, output):
        if not self._recording:
            return
        try:
            calls: dict[str, int] = {}
            for event in self._events:
                if event.name in self._activations:
                    calls[event.name] = calls.get(event.name, 0) + 1
            self._done({(a, k): locate(self._events, a, k)
                        for a, n in calls.items() for k in range(n)})
        finally:
            self.remove()

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._events = []  # drop the tensors the pass kept alive
        self._recording = False


def _kind(event: _Event) -> str:
    return f"{event.name} ({type(event.module).__name__})"


def locate(events: list[_Event], activation: str, call: int = 0) -> Topology:
    """Producer and consumer of the ``call``-th call of module ``activation`` in ``events``."""
    calls = [i for i, e in enumerate(events) if e.name == activation]
    if call >= len(calls):
        return Topology(note=f"{activation} was not called {call + 1} time(s) in the observed "
                             f"forward pass")
    at = calls[call]
    act = events[at]
    topo = Topology()
    source = _producer_of(events, at, act.input)
    if source is not None and isinstance(events[source].module, _BatchNorm):
        topo.norm = events[source].name
        source = _producer_of(events, source, events[source].input)
    if source is None:
        topo.note = (f"the input of {activation} is not the output of a module (a functional "
                     f"op, a residual add or the model input)")
        return topo
    if not isinstance(events[source].module, PRODUCERS):
        topo.note = (f"the input of {activation} comes from {_kind(events[source])}, not from "
                     f"a Linear/Conv1d/Conv2d/Conv3d" + (f" through {topo.norm}"
                                                         if topo.norm else ""))
        return topo
    topo.producer = events[source].name
    tensor, index = act.output, at
    while True:
        # A pass-through that returned its input object (dropout with p=0, identity) is
        # invisible: whoever reads the same object next is the real reader.
        readers = [j for j in range(index + 1, len(events))
                   if events[j].input is tensor and events[j].module is not act.module
                   and not (isinstance(events[j].module, _PASS) and events[j].output is tensor)]
        if len(readers) != 1:
            what = "no module" if not readers else f"{len(readers)} modules"
            topo.note = (f"the output of {activation} feeds {what} (functional ops such as a "
                         f"residual add are invisible), so no single consumer was located")
            return topo
        reader = events[readers[0]]
        if isinstance(reader.module, PRODUCERS):
            topo.consumer = reader.name
            return topo
        if not isinstance(reader.module, (*_PASS, *_POOLS, nn.Flatten)):
            topo.note = (f"the output of {activation} goes to {_kind(reader)}, not to a "
                         f"Linear/Conv layer")
            return topo
        tensor, index = reader.output, readers[0]


def _producer_of(events: list[_Event], index: int, tensor: object) -> int | None:
    if not isinstance(tensor, torch.Tensor):
        return None
    for j in range(index - 1, -1, -1):
        if events[j].output is tensor and (index == len(events)
                                           or events[j].module is not events[index].module):
            return j
    return None
