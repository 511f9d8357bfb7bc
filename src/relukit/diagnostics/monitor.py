"""``ActivationMonitor``: count, per unit and per window, how often activations are active.

Counting runs in forward hooks, on the output's device, with a comparison and a sum per
layer (plus a max of the pre-activation for ReLU-type units, to tell a drifted bias from
misdirected weights). Nothing is copied to the host until a window closes: ``step()`` only
adds tensors, so a GPU training loop is not synchronised by the monitor except once per
window (``report()`` and the window close are the sync points).

Units: dim 1 of ``(N, C, ...)`` outputs, the last dim of 3-D ``(N, T, C)`` sequence outputs
(except right after a Conv1d, whose output is ``(N, C, L)``), dim 0 of a 1-D output;
``unit_dim`` overrides (an int for every layer or a ``{layer name: dim}`` dict).

Every forward pass through a monitored module counts, validation included: wrap what should
not count in ``with monitor.paused():``. Once ``model`` itself has been called, only forwards
inside a call of ``model`` count, so activations recomputed during backward (gradient
checkpointing) are not counted twice. A module called several times per forward (one
``nn.ReLU`` shared by several layers) gets one set of counts per call: ``act``, ``act#1``...

torch.distributed: when a process group is initialised (and ``sync`` is not False), closing a
window and ``report()`` all-reduce the counts (sums; maxima for the last-active step and the
pre-activation maximum) before any verdict, so a unit active only on another rank's data is
alive. These are collective calls: **every rank must call** ``step()``/``report()`` at the
same points, and every rank must have run each monitored module forward at least once before
the first report. Gradient norms and update sizes are the local rank's (equal on all ranks
under DistributedDataParallel, which all-reduces gradients).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import numpy as np
import torch
from torch import nn

from . import causes as causes_mod
from . import gradflow
from .kinds import DEFAULT_SATURATION_MARGIN, ActivationSpec, resolve_unit_dim, spec_for
from .report import LayerStats, MonitorReport
from .tracing import GraphRecorder, Topology

SAMPLED_ROWS = 16
MAX_CALLS = 64  #: calls of one module per forward that get their own accumulator


class _Series:
    """A growing (kinds, steps, layers) float array: appends amortised O(1), columns O(1)."""

    def __init__(self, kinds: int, layers: int):
        self._data = np.zeros((kinds, 64, layers))
        self._n = 0

    def extend(self, block: np.ndarray) -> None:  # block: (kinds, steps, layers)
        steps = block.shape[1]
        if self._n + steps > self._data.shape[1]:
            grown = np.zeros((self._data.shape[0], 2 * (self._n + steps), self._data.shape[2]))
            grown[:, :self._n] = self._data[:, :self._n]
            self._data = grown
        self._data[:, self._n:self._n + steps] = block
        self._n += steps

    def column(self, layer: int) -> np.ndarray:
        return self._data[:, :self._n, layer]


def _sample_rows(p: torch.Tensor) -> torch.Tensor | None:
    """Evenly spaced rows whose change stands for the whole parameter's (None: all rows)."""
    if p.dim() == 0 or p.shape[0] <= SAMPLED_ROWS:
        return None
    return torch.linspace(0, p.shape[0] - 1, SAMPLED_ROWS, device=p.device).round().long()


def _active_indicator(y: torch.Tensor, spec: ActivationSpec) -> torch.Tensor:
    """1 where ``low < y < high`` (the unit passes gradient), else 0, as floats."""
    low, high = spec.low, spec.high
    if spec.zero_floor:
        return torch.sign(y)  # y >= 0 here
    if low is not None and high is not None:
        return torch.minimum(y - low, high - y).clamp_(min=0).sign_()
    if low is not None:
        return (y - low).clamp_(min=0).sign_()
    if high is not None:
        return (high - y).clamp_(min=0).sign_()
    return torch.ones_like(y)


class _Layer:
    """Accumulators of one activation module (allocated at its first forward)."""

    def __init__(self, name: str, module: nn.Module, spec: ActivationSpec, call: int = 0):
        # A module called several times per forward (one nn.ReLU shared by several layers)
        # gets one accumulator per call: "act", "act#1", ...
        self.module_name, self.module, self.spec, self.call = name, module, spec, call
        self.name = name if call == 0 else f"{name}#{call}"
        self.units: int | None = None
        self.unit_dim: int | None = None
        self.dims: tuple[int, ...] = ()
        self.observations = 0  # outputs per unit in the current window
        self.topology = Topology()

    def allocate(self, y: torch.Tensor, unit_dim: int) -> None:
        self.unit_dim = unit_dim
        self.units = y.shape[unit_dim]
        self.dims = tuple(d for d in range(y.ndim) if d != unit_dim)
        window = torch.zeros(self.units, dtype=torch.float64, device=y.device)
        # Counts are sums of 0/1 floats: CPU reductions of bool tensors are several times
        # slower. float32 is exact per step up to 2**24 outputs per unit; windows use float64.
        self.step_active = torch.zeros(self.units, dtype=torch.float32, device=y.device)
        self.active = window.clone()
        self.last_active = torch.full((self.units,), -1, dtype=torch.int64, device=y.device)
        self.negative = window.clone() if self.spec.kind == "signed" else None
        self.zeros = torch.zeros((), dtype=torch.float64, device=y.device)
        self.pre_max = None
        if self.spec.kind == "gate" and self.spec.low is not None:
            self.pre_max = torch.full((self.units,), -torch.inf, dtype=torch.float32,
                                      device=y.device)

    def reduce(self, indicator: torch.Tensor) -> torch.Tensor:
        """Per-unit sum of a 0/1 (or -1/0) float tensor; a NaN (from NaN outputs) counts 0."""
        if not self.dims:
            total = indicator.to(torch.float32)
        elif indicator.dtype in (torch.float32, torch.float64):
            total = indicator.sum(self.dims)
        else:  # half/bfloat16 sums of ones stop counting at a few hundred
            total = indicator.sum(self.dims, dtype=torch.float32)
        return torch.nan_to_num(total, nan=0.0)

    def flush_step(self, step: int) -> None:
        self.active += self.step_active
        self.last_active.masked_fill_(self.step_active > 0, step)
        self.step_active.zero_()

    def reset_window(self) -> None:
        self.active.zero_()
        self.zeros.zero_()
        if self.negative is not None:
            self.negative.zero_()
        if self.pre_max is not None:
            self.pre_max.fill_(-torch.inf)
        self.observations = 0


class ActivationMonitor:
    """Hooks the activation modules of ``model`` and counts dead/saturated units per window.

    Parameters
    ----------
    model: the ``nn.Module`` to watch (a DistributedDataParallel wrapper works too).
    modules: names (as in ``model.named_modules()``) or module objects to watch; default every
        recognised activation module (torch.nn, relukit.torch, transformers.activations).
    unit_dim: overrides the unit-dimension rule (module docstring): an int or a
        ``{name: int}`` dict.
    optimizer: enables the record of learning rate and update size per layer and step, used
        to explain deaths; also lets ``revive`` find the optimizer state (pass it there).
    window: number of ``step()`` calls per observation window.
    saturation_margin: sigmoid/tanh saturation threshold, see ``relukit.diagnostics.kinds``.
    vanishing_ratio, exploding_ratio: gradient verdict thresholds, see ``gradflow``.
    sync: all-reduce counts across ranks; None (default) does it when a process group with
        more than one rank is initialised.
    track_gradients: record per-layer gradient norms at each ``step()``.
    training_only: count only forwards of modules in training mode, so that evaluation loops
        that switch to ``model.eval()`` (Hugging Face ``Trainer.evaluate``, Lightning
        validation) do not make a unit look alive.
    """

    def __init__(self, model: nn.Module, modules: Iterable[str | nn.Module] | None = None,
                 unit_dim: int | dict[str, int] | None = None,
                 optimizer: torch.optim.Optimizer | None = None, window: int = 1, *,
                 saturation_margin: float = DEFAULT_SATURATION_MARGIN,
                 vanishing_ratio: float = gradflow.DEFAULT_VANISHING_RATIO,
                 exploding_ratio: float = gradflow.DEFAULT_EXPLODING_RATIO,
                 sync: bool | None = None, track_gradients: bool = True,
                 training_only: bool = False):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an int >= 1 (steps per window), got {window!r}")
        if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer or None, got "
                            f"{type(optimizer).__name__}")
        if not 0 < saturation_margin < 0.5:
            raise ValueError(f"saturation_margin must be in (0, 0.5), got {saturation_margin!r}")
        if unit_dim is not None and not isinstance(unit_dim, (int, dict)):
            raise TypeError(f"unit_dim must be None, an int or a dict {{layer name: int}}, got "
                            f"{type(unit_dim).__name__}")
        self.model = model
        self.optimizer = optimizer
        self.window = window
        self.vanishing_ratio = vanishing_ratio
        self.exploding_ratio = exploding_ratio
        self._sync = sync
        self._unit_dim = unit_dim
        self._layers = self._select(model, modules, saturation_margin)
        if isinstance(unit_dim, dict):
            unknown = set(unit_dim) - {layer.name for layer in self._layers}
            if unknown:
                raise ValueError(f"unit_dim names unknown layer(s) {sorted(unknown)}; "
                                 f"monitored: {[layer.name for layer in self._layers]}")
        self.history: list[MonitorReport] = []
        self._paused = False
        self._training_only = training_only
        self._step = 0
        self._window_steps = 0
        self._calls: dict[str, int] = {}  # calls of each module in the current forward
        self._root_depth = 0  # > 0 inside a call of ``model``
        self._root_seen = False
        self._handles = [layer.module.register_forward_hook(self._hook_for(layer))
                         for layer in self._layers]
        self._handles += [model.register_forward_pre_hook(self._enter_root),
                          model.register_forward_hook(self._leave_root, always_call=True)]
        self._recorder: GraphRecorder | None = GraphRecorder(
            model, [layer.name for layer in self._layers], self._set_topology)
        self._grad_layers = gradflow.parameterised_layers(model) if track_gradients else []
        self._grad_sum: torch.Tensor | None = None
        self._index_cache: dict = {}
        self._grad_steps = 0
        self._grad_counts = [0] * len(self._grad_layers)  # steps in which a layer had a grad
        # Per step and parameterised layer: update size, size / weights' norm, learning rate.
        self._updates = _Series(3, len(self._grad_layers))
        self._pending_updates: list[torch.Tensor] = []
        self._lrs: list[list[float]] = []  # pending, like _pending_updates
        self._snapshot: list[torch.Tensor] | None = None
        if optimizer is not None and self._grad_layers:
            self._group_of = self._param_groups(optimizer)
            self._rows = [_sample_rows(p) for _, ps in self._grad_layers for p in ps]
            self.resync()

    # -- setup -----------------------------------------------------------------------------

    @staticmethod
    def _select(model: nn.Module, modules, margin: float) -> list[_Layer]:
        named = list(model.named_modules())
        if modules is None:
            layers = [_Layer(n, m, s) for n, m in named if (s := spec_for(m, margin))]
            if not layers:
                raise ValueError(
                    "model has no activation module to monitor (torch.nn, relukit.torch or "
                    "transformers.activations); activations called functionally (F.relu) "
                    "cannot be hooked: use modules such as torch.nn.ReLU")
            return layers
        by_name = dict(named)
        by_id = {id(m): n for n, m in named}
        layers = []
        for item in modules:
            if isinstance(item, str):
                if item not in by_name:
                    raise ValueError(f"modules: no module named {item!r} in the model")
                name, module = item, by_name[item]
            elif isinstance(item, nn.Module) and id(item) in by_id:
                name, module = by_id[id(item)], item
            else:
                raise ValueError(f"modules: expected module names or submodules of the model, "
                                 f"got {item!r}")
            spec = spec_for(module, margin)
            if spec is None:
                raise ValueError(f"modules: {name} ({type(module).__name__}) is not a "
                                 f"recognised activation module")
            layers.append(_Layer(name, module, spec))
        return layers

    def _param_groups(self, optimizer: torch.optim.Optimizer) -> list[int | None]:
        group_of = {id(p): g for g, group in enumerate(optimizer.param_groups)
                    for p in group["params"]}
        return [group_of.get(id(ps[0])) for _, ps in self._grad_layers]

    def _set_topology(self, topologies: dict[tuple[str, int], Topology]) -> None:
        self._topologies = topologies
        for layer in self._layers:
            layer.topology = topologies.get((layer.module_name, layer.call), layer.topology)
        self._recorder = None

    def _enter_root(self, module, inputs) -> None:
        self._root_seen = True
        self._root_depth += 1
        if self._root_depth == 1:
            self._calls.clear()

    def _leave_root(self, module, inputs, output) -> None:
        self._root_depth = max(0, self._root_depth - 1)

    def _site(self, first: _Layer) -> _Layer | None:
        """The accumulator of this call of ``first.module`` (one per call in a forward)."""
        call = self._calls.get(first.module_name, 0)
        self._calls[first.module_name] = call + 1
        if call == 0:
            return first
        for layer in self._layers:
            if layer.module is first.module and layer.call == call:
                return layer
        if call > MAX_CALLS:
            return None
        layer = _Layer(first.module_name, first.module, first.spec, call)
        layer.topology = getattr(self, "_topologies", {}).get(
            (first.module_name, call), Topology(note=f"{layer.name} was not seen in the "
                                                     f"observed first forward pass"))
        self._layers.append(layer)
        return layer

    # -- counting --------------------------------------------------------------------------

    def _hook_for(self, first: _Layer):
        def hook(module, inputs, output):
            if self._paused or not isinstance(output, torch.Tensor) or output.numel() == 0:
                return
            if self._training_only and not module.training:
                return
            if self._root_seen and not self._root_depth:
                # Outside a call of the model: activation recomputation during backward
                # (gradient checkpointing) would count the same batch twice.
                return
            layer = self._site(first)
            if layer is None:
                return
            spec = layer.spec
            with torch.no_grad():
                y = output.detach()
                if layer.units is None:
                    layer.allocate(y, self._resolve_dim(layer, y, inputs))
                elif y.ndim != len(layer.dims) + 1 or y.shape[layer.unit_dim] != layer.units:
                    raise ValueError(
                        f"ActivationMonitor: {layer.name} produced shape {tuple(y.shape)} but "
                        f"earlier outputs had {layer.units} units on dim {layer.unit_dim}; "
                        f"pass unit_dim to say which dim holds the units")
                layer.observations += y.numel() // layer.units
                if spec.kind == "gate":
                    layer.step_active += layer.reduce(_active_indicator(y, spec))
                    x = inputs[0] if inputs else None
                    if (layer.pre_max is not None and isinstance(x, torch.Tensor)
                            and x is not output and x.shape == y.shape):
                        pre = x.detach().amax(layer.dims) if layer.dims else x.detach()
                        torch.maximum(layer.pre_max, pre.float(), out=layer.pre_max)
                else:
                    # signed/plain units cannot die: every output counts as active.
                    layer.step_active += y.numel() // layer.units
                if not spec.zero_floor:
                    # count_nonzero, not sign(): NaN is not a zero (sign(NaN) is 0 in torch)
                    layer.zeros += y.numel() - torch.count_nonzero(y).to(torch.float64)
                if layer.negative is not None:
                    layer.negative -= layer.reduce(y.clamp(max=0).sign_())

        return hook

    def _resolve_dim(self, layer: _Layer, y: torch.Tensor, inputs: tuple) -> int:
        override = self._unit_dim
        if isinstance(override, dict):
            override = override.get(layer.name, override.get(layer.module_name))
        source = None
        if self._recorder is not None and inputs:
            source = self._recorder.source_of(inputs[0])
        return resolve_unit_dim(y.shape, override, isinstance(source, nn.Conv1d))

    # -- steps and windows -----------------------------------------------------------------

    def step(self) -> MonitorReport | None:
        """Call after each ``optimizer.step()``; returns the report when a window closes."""
        for layer in self._layers:
            if layer.units is not None:
                layer.flush_step(self._step)
        self._record_gradients()
        self._record_update()
        self._step += 1
        self._window_steps += 1
        if self._window_steps < self.window:
            return None
        report = self._build(final=True)
        self.history.append(report)
        return report

    def _record_gradients(self) -> None:
        grads, index = [], []
        for i, (_, params) in enumerate(self._grad_layers):
            for p in params:
                if p.grad is not None:
                    grads.append(p.grad.detach())
                    index.append(i)
        if not grads:
            return
        with torch.no_grad():
            norms = self._per_layer(gradflow.squared_norms(grads), index).sqrt()
            self._grad_sum = norms if self._grad_sum is None else self._grad_sum + norms
        self._grad_steps += 1
        for i in set(index):
            self._grad_counts[i] += 1

    def _per_layer(self, sq: torch.Tensor, index: list[int]) -> torch.Tensor:
        """Sum the per-parameter squares ``sq`` into one value per parameterised layer."""
        key = (tuple(index), sq.device)
        positions = self._index_cache.get(key)
        if positions is None:
            positions = self._index_cache[key] = torch.tensor(index, device=sq.device)
        per_layer = torch.zeros(len(self._grad_layers), dtype=sq.dtype, device=sq.device)
        return per_layer.index_add_(0, positions, sq)

    def _sampled_params(self) -> list[torch.Tensor]:
        """Copies of the sampled rows of every parameter (see ``_sample_rows``)."""
        params = (p.detach() for _, ps in self._grad_layers for p in ps)
        return [p.clone() if rows is None else p.index_select(0, rows)
                for p, rows in zip(params, self._rows, strict=True)]

    def _record_update(self) -> None:
        if self._snapshot is None:
            return
        with torch.no_grad():
            current = self._sampled_params()
            index = [i for i, (_, ps) in enumerate(self._grad_layers) for _ in ps]
            delta = gradflow.squared_norms(list(torch._foreach_sub(current, self._snapshot)))
            before = gradflow.squared_norms(self._snapshot)
            self._pending_updates.append(
                torch.stack([self._per_layer(delta, index), self._per_layer(before, index)]).sqrt())
            self._snapshot = current
        assert self.optimizer is not None  # a snapshot exists only with an optimizer
        groups = self.optimizer.param_groups
        self._lrs.append([float(groups[g].get("lr", float("nan"))) if g is not None
                          else float("nan") for g in self._group_of])

    # -- reports ---------------------------------------------------------------------------

    def report(self) -> MonitorReport:
        """The current window's report (the last closed one if nothing ran since it closed).

        Under torch.distributed this is a collective call: all ranks must call it.
        """
        if not self.pending and self.history:
            return self.history[-1]
        return self._build(final=False)

    @property
    def pending(self) -> bool:
        """Has any monitored module run since the last window closed?"""
        return any(layer.observations for layer in self._layers)

    def dead_fraction_history(self) -> dict[str, list[float]]:
        """Dead fraction per layer, one value per closed window."""
        out: dict[str, list[float]] = {layer.name: [] for layer in self._layers}
        for report in self.history:
            for stats in report.layers:
                out.setdefault(stats.name, []).append(stats.dead_fraction)
        return out

    def _world(self):
        if self._sync is False or not torch.distributed.is_available():
            return None
        dist = torch.distributed
        if not dist.is_initialized() or dist.get_world_size() < 2:
            if self._sync:
                raise RuntimeError("ActivationMonitor(sync=True) needs an initialised "
                                   "torch.distributed process group with more than one rank")
            return None
        return dist

    def _gather(self, layers: list[_Layer]):
        """Host copies of the window counts, summed (maxed) across ranks when distributed."""
        if not layers:
            return [], 1
        device = layers[0].active.device
        sums, maxes = [], []
        for layer in layers:
            active = layer.active + layer.step_active
            last = layer.last_active.masked_fill(layer.step_active > 0, self._step)
            sums += [active, layer.zeros.reshape(1),
                     torch.tensor([layer.observations], dtype=torch.float64,
                                  device=active.device)]
            if layer.negative is not None:
                sums.append(layer.negative)
            maxes.append(last.double())
            if layer.pre_max is not None:
                maxes.append(layer.pre_max.double())
        flat_sum = torch.cat([t.to(device, torch.float64) for t in sums])
        flat_max = torch.cat([t.to(device) for t in maxes])
        dist = self._world()
        world = 1
        if dist is not None:
            dist.all_reduce(flat_sum, op=dist.ReduceOp.SUM)
            dist.all_reduce(flat_max, op=dist.ReduceOp.MAX)
            world = dist.get_world_size()
        sums_np, maxes_np = flat_sum.cpu().numpy(), flat_max.cpu().numpy()
        out, s, m = [], 0, 0
        for layer in layers:
            u = int(layer.units or 0)
            item = {"active": sums_np[s:s + u], "zeros": sums_np[s + u],
                    "observations": int(sums_np[s + u + 1])}
            s += u + 2
            if layer.negative is not None:
                item["negative"] = sums_np[s:s + u]
                s += u
            item["last_active"] = maxes_np[m:m + u].astype(np.int64)
            m += u
            if layer.pre_max is not None:
                item["pre_max"] = maxes_np[m:m + u]
                m += u
            out.append(item)
        return out, world

    def _build(self, final: bool) -> MonitorReport:
        layers = [layer for layer in self._layers if layer.units is not None]
        counts, world = self._gather(layers)
        report = MonitorReport(step=self._step, window_steps=self._window_steps,
                               world_size=world)
        dead_info = []
        for layer, c in zip(layers, counts, strict=True):
            stats = _layer_stats(layer, c)
            report.layers.append(stats)
            dead_info.append((layer, stats, c))
        self._attach_gradients(report)
        if self._pending_updates:
            size, weight = torch.stack(self._pending_updates).double().cpu().numpy() \
                .transpose(1, 0, 2)
            with np.errstate(divide="ignore", invalid="ignore"):
                relative = np.where(size > 0, size / weight, 0.0)
            self._updates.extend(np.stack([size, relative, np.asarray(self._lrs)]))
            self._pending_updates, self._lrs = [], []
        report.causes = causes_mod.explain(self, report, dead_info)
        report.causes += gradflow.cause_lines(report.gradients)
        if final:
            for layer in layers:
                layer.reset_window()
            self._grad_sum, self._grad_steps, self._window_steps = None, 0, 0
            self._grad_counts = [0] * len(self._grad_layers)
        return report

    def _attach_gradients(self, report: MonitorReport) -> None:
        if self._grad_sum is None or not self._grad_steps:
            return
        sums = self._grad_sum.cpu().tolist()
        params = [p.detach() for _, ps in self._grad_layers for p in ps]
        index = [i for i, (_, ps) in enumerate(self._grad_layers) for _ in ps]
        with torch.no_grad():
            pnorms = self._per_layer(gradflow.squared_norms(params), index).sqrt().cpu().tolist()
        # Layers that got no gradient in the window (unused, frozen) get no verdict.
        used = [i for i, n in enumerate(self._grad_counts) if n]
        report.gradients = gradflow.verdicts(
            [self._grad_layers[i][0] for i in used],
            [sums[i] / self._grad_counts[i] for i in used], [pnorms[i] for i in used],
            self.vanishing_ratio, self.exploding_ratio,
            [gradflow.has_weight_matrix(self._grad_layers[i][1]) for i in used],
            [gradflow.init_scale(self._grad_layers[i][1]) for i in used])

    # helpers for causes/revive ---------------------------------------------------------------

    def update_history(self, layer_name: str) -> dict[str, list[float]] | None:
        """Per step of the parameterised layer ``layer_name``: ``size`` (norm of the update),
        ``relative`` (size / norm of the weights before it) and ``lr``; None without an
        optimizer. Sizes are measured on a fixed sample of up to 16 rows per parameter (all
        rows of smaller ones), which keeps this cheap enough for every step."""
        names = [n for n, _ in self._grad_layers]
        if self._snapshot is None or layer_name not in names:
            return None
        i = names.index(layer_name)
        size, relative, lr = self._updates.column(i)
        return {"size": size, "relative": relative, "lr": lr}

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Forward passes inside this block are not counted (validation, probing)."""
        previous, self._paused = self._paused, True
        try:
            yield
        finally:
            self._paused = previous

    def resync(self) -> None:
        """Take the current weights as the reference for the next update size (after a change
        made outside the optimizer, such as ``revive``)."""
        if self.optimizer is not None and self._grad_layers:
            with torch.no_grad():
                self._snapshot = self._sampled_params()

    # -- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        """Remove every hook; counts and history stay readable."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if self._recorder is not None:
            self._recorder.remove()
            self._recorder = None

    def __enter__(self) -> ActivationMonitor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"ActivationMonitor({len(self._layers)} layers, window={self.window}, "
                f"step={self._step})")

    @property
    def layer_names(self) -> list[str]:
        return [layer.name for layer in self._layers]

    @property
    def steps(self) -> int:
        return self._step


def _layer_stats(layer: _Layer, c: dict) -> LayerStats:
    spec, units, obs = layer.spec, int(layer.units or 0), c["observations"]
    total = obs * units
    active = c["active"]
    dead = np.flatnonzero(active == 0).tolist() if obs and spec.kind == "gate" else []
    zeros = total - float(active.sum()) if spec.zero_floor else float(c["zeros"])
    stats = LayerStats(
        name=layer.name, module=layer.module_name, activation=spec.name, units=units,
        dead_units=dead,
        dead_fraction=len(dead) / units if units else 0.0,
        sparsity=zeros / total if total else 0.0, observations=obs, unit_dim=layer.unit_dim,
        producer=layer.topology.producer, norm=layer.topology.norm,
        consumer=layer.topology.consumer, topology_note=layer.topology.note,
        active_fraction=(active / obs).tolist() if obs else [],
    )
    if "negative" in c:
        stats.negative_fraction = float(c["negative"].sum()) / total if total else 0.0
    if spec.saturating:
        stats.saturated_fraction = 1.0 - float(active.sum()) / total if total else 0.0
    return stats

