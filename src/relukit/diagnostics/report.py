"""The result of one observation window: per-layer stats, gradient verdicts and causes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class LayerStats:
    """Counts of one activation layer over a window (summed over ranks under torch.distributed).

    ``dead_units``: units whose derivative was exactly 0 on every sample of the window
    (``can_die`` False: the activation's derivative is never exactly 0, e.g. Leaky ReLU).
    ``inactive_units``: units on the low-gradient side on every sample (ReLU: the same as
    dead; Leaky/PReLU: the negative side; ELU/sigmoid/tanh...: saturated); the rule per
    activation is ``inactive_rule`` (see ``relukit.diagnostics.kinds``); None when the
    activation has no such region or it could not be read. A unit active on a single sample
    is alive. ``sparsity``: fraction of outputs exactly 0. ``negative_fraction``: for signed
    activations, the fraction of outputs below 0. ``low_fraction``: fraction of outputs on
    the low-gradient side; ``saturated_fraction`` is the same number for saturating functions.
    ``slopes``: PReLU's learned slopes at the end of the window (``slope_summary``: min,
    10/50/90th percentiles, max, and how many are <= 0.05, i.e. act like a ReLU).
    """

    name: str  #: module name; "name#k" for the k-th extra call of a module shared in a forward
    activation: str
    units: int
    dead_units: list[int]
    dead_fraction: float
    sparsity: float
    observations: int  #: outputs seen per unit in the window (samples x positions)
    unit_dim: int | None = None
    module: str = ""  #: qualified name of the activation module
    negative_fraction: float | None = None
    saturated_fraction: float | None = None
    can_die: bool = True
    inactive_units: list[int] | None = None
    inactive_fraction: float | None = None
    low_fraction: float | None = None
    inactive_rule: str = ""
    slope_summary: dict[str, float] | None = None
    slopes: list[float] = field(default_factory=list, repr=False)
    #: Per unit: fraction of its outputs in the active region (outside the zero-gradient or
    #: saturated region); 1.0 for units that cannot die (leaky, gelu...).
    active_fraction: list[float] = field(default_factory=list, repr=False)
    #: Modules around the activation, found by watching the first forward pass.
    producer: str | None = None
    norm: str | None = None
    consumer: str | None = None
    #: Why ``producer``/``consumer`` could not be located (``revive`` refuses with this).
    topology_note: str | None = None


@dataclass
class GradientStats:
    """Mean gradient norm of one parameterised layer over the window, with a verdict.

    ``verdict``: "vanishing" when the norm is below ``vanishing_ratio`` (default 1e-3) times
    the largest layer norm of the same window, or exactly 0 while another layer's is not;
    "exploding" when it is not finite or exceeds ``exploding_ratio`` (default 100) times the
    norm of the layer's own parameters; "ok" otherwise (see ``relukit.diagnostics.gradflow``).
    """

    name: str
    norm: float
    param_norm: float
    ratio_to_max: float
    verdict: str


@dataclass
class MonitorReport:
    step: int  #: training steps completed (calls to ``monitor.step()``) when the window closed
    window_steps: int
    layers: list[LayerStats] = field(default_factory=list)
    gradients: list[GradientStats] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)
    world_size: int = 1
    #: Why ``gradients`` is empty (no optimizer step, no backward, tracking off); else None.
    gradient_note: str | None = None

    def layer(self, name: str) -> LayerStats:
        for stats in self.layers:
            if stats.name == name:
                return stats
        known = ", ".join(s.name for s in self.layers) or "none"
        raise KeyError(f"no monitored layer {name!r}; monitored layers: {known}")

    @property
    def dead_units(self) -> int:
        return sum(len(s.dead_units) for s in self.layers)

    @property
    def inactive_units(self) -> int:
        return sum(len(s.inactive_units or []) for s in self.layers)

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        names = [s.name for s in self.layers] + [g.name for g in self.gradients]
        w = min(max([len(n) for n in names] + [24]), 56)  # long names keep their tail
        head = (f"{'layer':<{w}} {'activation':<12} {'units':>6} {'dead':>5} {'dead%':>6} "
                f"{'inact':>5} {'inact%':>6} {'zeros%':>6} {'neg%':>6} {'low%':>6}")
        lines = [f"MonitorReport at step {self.step} ({self.window_steps} step window, "
                 f"{self.world_size} rank(s))", head, "-" * len(head)]
        for s in self.layers:
            dead = (f"{len(s.dead_units):>5} {_pct(s.dead_fraction):>6}" if s.can_die
                    else f"{'-':>5} {'-':>6}")
            inact = (f"{len(s.inactive_units):>5} {_pct(s.inactive_fraction):>6}"
                     if s.inactive_units is not None else f"{'-':>5} {'-':>6}")
            lines.append(
                f"{s.name[-w:]:<{w}} {s.activation[:12]:<12} {s.units:>6} {dead} {inact} "
                f"{_pct(s.sparsity):>6} {_pct(s.negative_fraction):>6} "
                f"{_pct(s.low_fraction):>6}"
            )
        slopes = [s for s in self.layers if s.slope_summary]
        if slopes:
            lines.append("")
            lines.append(f"{'prelu slopes of':<{w}} {'min':>7} {'p10':>7} {'median':>7} "
                         f"{'p90':>7} {'max':>7}  <= 0.05")
            for s in slopes:
                q = s.slope_summary or {}
                lines.append(f"{s.name[-w:]:<{w}} " + " ".join(
                    f"{q[k]:>7.3g}" for k in ("min", "p10", "median", "p90", "max"))
                    + f"  {int(q['relu_like'])}/{len(s.slopes)}")
        if self.gradients:
            lines.append("")
            lines.append(f"{'gradient of':<{w}} {'norm':>10} {'/max':>9}  verdict")
            for g in self.gradients:
                lines.append(f"{g.name[-w:]:<{w}} {g.norm:>10.3g} {g.ratio_to_max:>9.2g}  "
                             f"{g.verdict}")
        elif self.gradient_note:
            lines.append("")
            lines.append(self.gradient_note)
        if self.causes:
            lines.append("")
            lines.extend(f"* {c}" for c in self.causes)
        return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"
