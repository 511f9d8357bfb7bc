"""The result of one observation window: per-layer stats, gradient verdicts and causes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class LayerStats:
    """Counts of one activation layer over a window (summed over ranks under torch.distributed).

    ``dead_units``: units never active in the window (for sigmoid/tanh: saturated on every
    observation). A unit active on a single sample is alive. ``sparsity``: fraction of outputs
    exactly 0. ``negative_fraction``: for leaky/prelu/elu/gelu-type units, the fraction of
    outputs on the negative side (None otherwise). ``saturated_fraction``: for sigmoid/tanh,
    the fraction of outputs saturated (threshold in ``relukit.diagnostics.kinds``).
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

    def layer(self, name: str) -> LayerStats:
        for stats in self.layers:
            if stats.name == name:
                return stats
        known = ", ".join(s.name for s in self.layers) or "none"
        raise KeyError(f"no monitored layer {name!r}; monitored layers: {known}")

    @property
    def dead_units(self) -> int:
        return sum(len(s.dead_units) for s in self.layers)

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        names = [s.name for s in self.layers] + [g.name for g in self.gradients]
        w = min(max([len(n) for n in names] + [24]), 56)  # long names keep their tail
        head = (f"{'layer':<{w}} {'activation':<12} {'units':>6} {'dead':>6} {'dead%':>7} "
                f"{'zeros%':>7} {'neg%':>6} {'sat%':>6}")
        lines = [f"MonitorReport at step {self.step} ({self.window_steps} step window, "
                 f"{self.world_size} rank(s))", head, "-" * len(head)]
        for s in self.layers:
            lines.append(
                f"{s.name[-w:]:<{w}} {s.activation[:12]:<12} {s.units:>6} "
                f"{len(s.dead_units):>6} {100 * s.dead_fraction:>6.1f}% "
                f"{100 * s.sparsity:>6.1f}% {_pct(s.negative_fraction):>6} "
                f"{_pct(s.saturated_fraction):>6}"
            )
        if self.gradients:
            lines.append("")
            lines.append(f"{'gradient of':<{w}} {'norm':>10} {'/max':>9}  verdict")
            for g in self.gradients:
                lines.append(f"{g.name[-w:]:<{w}} {g.norm:>10.3g} {g.ratio_to_max:>9.2g}  "
                             f"{g.verdict}")
        if self.causes:
            lines.append("")
            lines.extend(f"* {c}" for c in self.causes)
        return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"
