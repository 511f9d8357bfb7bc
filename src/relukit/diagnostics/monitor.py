"""``ActivationMonitor``: count, per unit and per window, how often activations are active.

The monitor composes small parts: per-call-site counting (``counting``), gradient tracking
(``gradients``), update tracking (``updates``) and the distributed gather (``gather``); the
causes (``causes``) read plain per-layer data (``window``). Nothing is copied to the host
until a window closes: ``step()`` only adds tensors, so a GPU training loop is not
synchronised by the monitor except once per window (``report()`` and the window close are
the sync points). A forward that raises adds nothing.

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
import math
import numbers
from collections.abc import Iterable, Iterator

import numpy as np
import torch
from torch import nn

from . import causes as causes_mod
from . import gradflow, optim_state
from .counting import CallSites, SiteCounter
from .gather import gather
from .gradients import GradientTracker
from .kinds import DEFAULT_SATURATION_MARGIN, spec_for
from .report import LayerStats, MonitorReport
from .tracing import GraphRecorder, Topology
from .updates import UpdateTracker
from .window import LayerEvidence, UpdateHistory, WindowCounts

RELU_LIKE_SLOPE = 0.05  #: a PReLU slope at or below this makes the unit act like a ReLU


def _check_real(name: str, value: object, valid: str, ok) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number ({valid}), got "
                        f"{type(value).__name__} {value!r}")
    v = float(value)
    if not (math.isfinite(v) and ok(v)):
        raise ValueError(f"{name} must be {valid}, got {value!r}")
    return v


def _check_bool(name: str, value: object, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False{' or None' if allow_none else ''}, "
                        f"got {type(value).__name__} {value!r}")


class ActivationMonitor:
    """Hooks the activation modules of ``model`` and counts dead/inactive units per window.

    Parameters (each is checked up front: a TypeError for a wrong type, a ValueError for a
    wrong value, naming the parameter and its valid values)
    ----------
    model: the ``nn.Module`` to watch (a DistributedDataParallel wrapper works too).
    modules: names (as in ``model.named_modules()``) or module objects to watch; default every
        recognised activation module (torch.nn, relukit.torch, transformers.activations).
    unit_dim: overrides the unit-dimension rule (module docstring): an int or a
        ``{name: int}`` dict.
    optimizer: gradients are then read at its ``step()``, update sizes and learning rates are
        recorded per layer and step (used to explain deaths).
    window: number of ``step()`` calls per observation window, an int >= 1.
    saturation_margin: in (0, 0.5): a smooth activation is inactive where
        ``|f'| < saturation_margin * max |f'|`` (``relukit.diagnostics.kinds``).
    vanishing_ratio (in (0, 1)), exploding_ratio (> 0): gradient verdicts, see ``gradflow``.
    sync: all-reduce counts across ranks; None (default) does it when a process group with
        more than one rank is initialised.
    track_gradients: record per-layer gradient norms.
    training_only: count only forwards of modules in training mode, so that evaluation loops
        that switch to ``model.eval()`` (Hugging Face ``Trainer.evaluate``, Lightning
        validation) do not make a unit look alive.
    keep_last_inputs: keep a reference to the inputs of the last counted forward of
        ``model``, on which ``revive(..., monitor=monitor)`` re-checks units (False frees it).
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer | None
    window: int
    vanishing_ratio: float
    exploding_ratio: float
    _sync: bool | None
    _step: int
    _window_steps: int
    _sites: CallSites
    _gradients: GradientTracker

    def __init__(self, model: nn.Module, modules: Iterable[str | nn.Module] | None = None,
                 unit_dim: int | dict[str, int] | None = None,
                 optimizer: torch.optim.Optimizer | None = None, window: int = 1, *,
                 saturation_margin: float = DEFAULT_SATURATION_MARGIN,
                 vanishing_ratio: float = gradflow.DEFAULT_VANISHING_RATIO,
                 exploding_ratio: float = gradflow.DEFAULT_EXPLODING_RATIO,
                 sync: bool | None = None, track_gradients: bool = True,
                 training_only: bool = False, keep_last_inputs: bool = True):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if isinstance(window, bool) or not isinstance(window, numbers.Integral):
            raise TypeError(f"window must be an int >= 1 (steps per window), got "
                            f"{type(window).__name__} {window!r}")
        if window < 1:
            raise ValueError(f"window must be an int >= 1 (steps per window), got {window!r}")
        if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer or None, got "
                            f"{type(optimizer).__name__}")
        margin = _check_real("saturation_margin", saturation_margin, "in (0, 0.5)",
                             lambda v: 0 < v < 0.5)
        self.vanishing_ratio = _check_real("vanishing_ratio", vanishing_ratio, "in (0, 1)",
                                           lambda v: 0 < v < 1)
        self.exploding_ratio = _check_real("exploding_ratio", exploding_ratio, "> 0",
                                           lambda v: v > 0)
        _check_bool("sync", sync, allow_none=True)
        _check_bool("track_gradients", track_gradients)
        _check_bool("training_only", training_only)
        _check_bool("keep_last_inputs", keep_last_inputs)
        _check_unit_dim(unit_dim)
        if modules is not None and (isinstance(modules, (str, nn.Module))
                                    or not isinstance(modules, Iterable)):
            raise TypeError(f"modules must be None or a list of module names or submodules, "
                            f"got {type(modules).__name__} {modules!r}")
        if optimizer is not None:
            optimizer = optim_state.unwrap(optimizer)
        self.model = model
        self.optimizer = optimizer
        self.window = int(window)
        self._sync = sync
        counters = _select(model, modules, margin)
        if isinstance(unit_dim, dict):
            unknown = set(unit_dim) - {c.name for c in counters}
            if unknown:
                raise ValueError(f"unit_dim names unknown layer(s) {sorted(unknown)}; "
                                 f"monitored: {[c.name for c in counters]}")
        self.history: list[MonitorReport] = []
        self._step = 0
        self._window_steps = 0
        self._sites = CallSites(model, counters, unit_dim, training_only)
        self._sites.keep_inputs = keep_last_inputs
        self._recorder: GraphRecorder | None = GraphRecorder(
            model, [c.name for c in counters], self._set_topology)
        self._sites.source_of = self._recorder.source_of
        self._gradients = GradientTracker(model, optimizer, track_gradients)
        self._updates: UpdateTracker | None = None
        if optimizer is not None and self._gradients.layers:
            self._updates = UpdateTracker(self._gradients.layers, optimizer)

    def _set_topology(self, topologies: dict[tuple[str, int], Topology]) -> None:
        self._sites.set_topologies(topologies)
        self._sites.source_of = None
        self._recorder = None

    # -- steps and windows -----------------------------------------------------------------

    def step(self) -> MonitorReport | None:
        """Call after each ``optimizer.step()``; returns the report when a window closes."""
        for counter in self._sites.counters:
            if counter.units is not None:
                counter.flush_step(self._step)
        self._gradients.step()
        if self._updates is not None:
            self._updates.record()
        self._step += 1
        self._window_steps += 1
        if self._window_steps < self.window:
            return None
        report = self._build(final=True)
        self.history.append(report)
        return report

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
        return any(c.observations for c in self._sites.counters)

    def dead_fraction_history(self) -> dict[str, list[float]]:
        """Dead fraction per layer, one value per closed window."""
        return self._history_of("dead_fraction")

    def inactive_fraction_history(self) -> dict[str, list[float | None]]:
        """Inactive fraction per layer, one value per closed window (None: not defined)."""
        return self._history_of("inactive_fraction")

    def _history_of(self, field: str) -> dict:
        out: dict[str, list] = {c.name: [] for c in self._sites.counters}
        for report in self.history:
            for stats in report.layers:
                out.setdefault(stats.name, []).append(getattr(stats, field))
        return out

    def _build(self, final: bool) -> MonitorReport:
        counters = [c for c in self._sites.counters if c.units is not None]
        counts, world = gather(counters, self._step, self._sync)
        report = MonitorReport(step=self._step, window_steps=self._window_steps,
                               world_size=world)
        if self._updates is not None:
            self._updates.flush()
        evidence = []
        for counter, c in zip(counters, counts, strict=True):
            stats = _layer_stats(counter, c)
            report.layers.append(stats)
            evidence.append(self._evidence(counter, stats, c))
        report.gradients, report.gradient_note = self._gradients.verdicts(
            self.vanishing_ratio, self.exploding_ratio)
        report.causes = causes_mod.explain(evidence)
        report.causes += gradflow.cause_lines(report.gradients)
        if final:
            for counter in counters:
                counter.reset_window()
            self._gradients.reset_window()
            self._window_steps = 0
        return report

    def _evidence(self, counter: SiteCounter, stats: LayerStats, c: WindowCounts
                  ) -> LayerEvidence:
        item = LayerEvidence(stats=stats, counts=c, low=counter.spec.low)
        if stats.producer is None:
            return item
        if self._updates is not None:
            item.updates = self._updates.history(stats.producer)
        if stats.norm is None and c.pre_max is not None:
            producer = self.model.get_submodule(stats.producer)
            bias = getattr(producer, "bias", None)
            if bias is not None and _units_are_rows(counter, producer):
                item.producer_bias = bias.detach().double().cpu().numpy()
        return item

    # helpers for causes/revive ---------------------------------------------------------------

    def update_history(self, layer_name: str) -> UpdateHistory | None:
        """Per step of the parameterised layer ``layer_name``: update size, size / weights'
        norm and learning rate (``UpdateHistory``); None without an optimizer."""
        if self._updates is None:
            return None
        self._updates.flush()
        return self._updates.history(layer_name)

    @property
    def last_inputs(self) -> tuple | None:
        """``(args, kwargs)`` of the last counted forward of the model (``keep_last_inputs``)."""
        return self._sites.last_inputs

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Forward passes inside this block are not counted (validation, probing)."""
        previous, self._sites.paused = self._sites.paused, True
        try:
            yield
        finally:
            self._sites.paused = previous

    def resync(self) -> None:
        """Take the current weights as the reference for the next update size (after a change
        made outside the optimizer, such as ``revive``)."""
        if self._updates is not None:
            self._updates.resync()

    # -- dashboards ------------------------------------------------------------------------

    def to_tensorboard(self, writer, step: int | None = None,
                       report: MonitorReport | None = None, prefix: str = "relukit") -> None:
        """Write ``report`` (default: the last closed window's, else the current one) to a
        ``torch.utils.tensorboard.SummaryWriter``: scalars per layer (dead, inactive, sparsity,
        gradient norm) and histograms per layer (per-unit active fraction, PReLU slopes), plus
        one histogram of the per-layer gradient norms. ``step`` defaults to the report's."""
        if report is None:
            report = self.history[-1] if self.history and not self.pending else self.report()
        step = report.step if step is None else step
        for name, value in report_scalars(report, prefix).items():
            writer.add_scalar(name, value, step)
        for s in report.layers:
            if s.active_fraction:
                writer.add_histogram(f"{prefix}/active_fraction/{s.name}",
                                     np.asarray(s.active_fraction), step)
            if s.slopes:
                writer.add_histogram(f"{prefix}/prelu_slopes/{s.name}", np.asarray(s.slopes),
                                     step)
        norms = [g.norm for g in report.gradients if math.isfinite(g.norm)]
        if norms:
            writer.add_histogram(f"{prefix}/grad_norm_per_layer", np.asarray(norms), step)

    # -- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        """Remove every hook; counts and history stay readable."""
        self._sites.remove()
        self._gradients.remove()
        if self._recorder is not None:
            self._recorder.remove()
            self._recorder = None

    def __enter__(self) -> ActivationMonitor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"ActivationMonitor({len(self._sites.counters)} layers, window={self.window}, "
                f"step={self._step})")

    @property
    def layer_names(self) -> list[str]:
        return [c.name for c in self._sites.counters]

    @property
    def steps(self) -> int:
        return self._step


def report_scalars(report: MonitorReport, prefix: str = "relukit") -> dict[str, float]:
    """Flat ``{name: value}`` scalars of a report, as the callbacks and TensorBoard log them:
    ``<prefix>/dead_fraction/<layer>``, ``inactive_fraction``, ``sparsity``, ``grad_norm``
    per layer, and the totals ``<prefix>/dead_units``, ``<prefix>/inactive_units``."""
    out: dict[str, float] = {}
    for s in report.layers:
        if s.can_die:
            out[f"{prefix}/dead_fraction/{s.name}"] = float(s.dead_fraction)
        if s.inactive_fraction is not None:
            out[f"{prefix}/inactive_fraction/{s.name}"] = float(s.inactive_fraction)
        out[f"{prefix}/sparsity/{s.name}"] = float(s.sparsity)
    for g in report.gradients:
        out[f"{prefix}/grad_norm/{g.name}"] = float(g.norm)
    out[f"{prefix}/dead_units"] = float(report.dead_units)
    out[f"{prefix}/inactive_units"] = float(report.inactive_units)
    return out


def _check_unit_dim(unit_dim: object) -> None:
    def is_int(v: object) -> bool:
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)
    if unit_dim is None or is_int(unit_dim):
        return
    if isinstance(unit_dim, dict) and all(isinstance(k, str) and is_int(v)
                                          for k, v in unit_dim.items()):
        return
    raise TypeError(f"unit_dim must be None, an int or a dict {{layer name: int}}, got "
                    f"{type(unit_dim).__name__} {unit_dim!r}")


def _select(model: nn.Module, modules, margin: float) -> list[SiteCounter]:
    named = list(model.named_modules())
    if modules is None:
        counters = [SiteCounter(n, m, s) for n, m in named if (s := spec_for(m, margin))]
        if not counters:
            raise ValueError(
                "model has no activation module to monitor (torch.nn, relukit.torch or "
                "transformers.activations); activations called functionally (F.relu) "
                "cannot be hooked: use modules such as torch.nn.ReLU")
        return counters
    by_name = dict(named)
    by_id = {id(m): n for n, m in named}
    counters = []
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
        counters.append(SiteCounter(name, module, spec))
    return counters


def _units_are_rows(counter: SiteCounter, producer: nn.Module) -> bool:
    """Are the units the producer's outputs (not positions picked by a unit_dim override)?"""
    weight = getattr(producer, "weight", None)
    if weight is None:
        return False
    last = len(counter.dims)  # the output has len(dims) + 1 dims
    wanted = last if isinstance(producer, nn.Linear) else 1
    return counter.unit_dim == wanted and weight.shape[0] == counter.units


def _slopes(module: nn.Module, spec_name: str) -> list[float]:
    weight = getattr(module, "weight", None)
    if spec_name != "prelu" or not isinstance(weight, torch.Tensor):
        return []
    return weight.detach().flatten().double().cpu().tolist()


def _layer_stats(counter: SiteCounter, c: WindowCounts) -> LayerStats:
    spec, units, obs = counter.spec, int(counter.units or 0), c.observations
    total = obs * units
    active = c.active
    known = spec.has_inactive_region and c.inactive_known
    inactive = np.flatnonzero(active == 0).tolist() if obs and known else []
    if spec.dead_is_inactive:
        dead = inactive
    elif c.alive is not None and obs:
        dead = np.flatnonzero(c.alive == 0).tolist()
    else:
        dead = []
    zeros = total - float(active.sum()) if spec.zero_floor else float(c.zeros)
    low = 1.0 - float(active.sum()) / total if total and known else None
    stats = LayerStats(
        name=counter.name, module=counter.module_name, activation=spec.name, units=units,
        dead_units=dead, dead_fraction=len(dead) / units if units else 0.0,
        sparsity=zeros / total if total else 0.0, observations=obs,
        unit_dim=counter.unit_dim, producer=counter.topology.producer,
        norm=counter.topology.norm, consumer=counter.topology.consumer,
        topology_note=counter.topology.note,
        active_fraction=(active / obs).tolist() if obs else [],
        can_die=spec.can_die,
        inactive_units=inactive if known else None,
        inactive_fraction=(len(inactive) / units if units else 0.0) if known else None,
        low_fraction=low, inactive_rule=spec.rule,
    )
    if c.negative is not None:
        stats.negative_fraction = float(c.negative.sum()) / total if total else 0.0
    if spec.saturating and spec.kind == "saturating":
        stats.saturated_fraction = low
    slopes = _slopes(counter.module, spec.name)
    if slopes:
        q = np.quantile(slopes, [0.1, 0.5, 0.9])
        stats.slopes = slopes
        stats.slope_summary = {"min": min(slopes), "p10": float(q[0]), "median": float(q[1]),
                               "p90": float(q[2]), "max": max(slopes),
                               "relu_like": float(sum(v <= RELU_LIKE_SLOPE for v in slopes))}
    return stats
