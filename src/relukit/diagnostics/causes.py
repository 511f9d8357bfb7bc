"""Turn the counts of a window into sentences that say why units died or saturated.

A unit *died at step s* when it was last active in step ``s - 1`` (steps count the calls to
``monitor.step()``, from 0): the update applied at the end of step ``s - 1`` killed it. That
update is called a spike when it is at least ``SPIKE_RATIO`` (10) times the median update of
the same layer over the previous steps, or moves the weights by at least ``LARGE_UPDATE``
(10 %) of their norm — both mean the learning rate is too high for that layer.

A dead ReLU-type unit is explained by its bias when the largest ``w·x`` it saw in the window
(pre-activation maximum minus bias) would have made it active, but the bias pulls it below:
the bias drifted far below the spread of its pre-activation. When even ``w·x`` never reaches
the active region, the incoming weights are the cause.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from .report import LayerStats
from .window import LayerEvidence, UpdateHistory

SPIKE_RATIO = 10.0
LARGE_UPDATE = 0.1
SATURATION_WARNING = 0.5  #: saturated fraction of a layer's outputs worth a cause line
MAX_GROUPS = 3  #: death steps listed per layer; the rest are summed up
FAR = 3.0  #: a bias "far below" exceeds FAR times the largest w·x in magnitude


def explain(evidence: list[LayerEvidence]) -> list[str]:
    """Cause lines for the layers of one window (``LayerEvidence``: plain data per layer)."""
    lines: list[str] = []
    for item in evidence:
        stats = item.stats
        assert isinstance(stats, LayerStats)
        if stats.saturated_fraction is not None:
            lines += _saturation(stats)
        elif stats.dead_units:
            lines += _deaths(item)
        elif stats.inactive_units:
            lines.append(f"{_units(len(stats.inactive_units))} of layer {stats.name} "
                         f"({stats.activation}) stayed on the low-gradient side on every "
                         f"sample of the window ({stats.inactive_rule})")
        if stats.slope_summary and stats.slope_summary["relu_like"]:
            k = int(stats.slope_summary["relu_like"])
            lines.append(f"{k} of {len(stats.slopes)} PReLU slopes of layer {stats.name} are "
                         f"<= 0.05 (min {stats.slope_summary['min']:.3g}): those units act "
                         f"like ReLUs or flip the sign of negative inputs")
    return lines


def _saturation(stats: LayerStats) -> list[str]:
    lines = []
    inactive = stats.inactive_units or []
    if inactive:
        lines.append(f"{_units(len(inactive))} of layer {stats.name} ({stats.activation}) "
                     f"were saturated on every sample of the window")
    if (stats.saturated_fraction or 0.0) >= SATURATION_WARNING:
        lines.append(
            f"{100 * (stats.saturated_fraction or 0.0):.0f}% of the outputs of layer "
            f"{stats.name} ({stats.activation}) are saturated ({stats.inactive_rule}): "
            f"gradients through it vanish; scale its inputs down (initialisation, "
            f"normalisation) or use a ReLU-family activation")
    return lines


def _deaths(item: LayerEvidence) -> list[str]:
    stats = item.stats
    assert isinstance(stats, LayerStats)
    dead = np.asarray(stats.dead_units)
    died_at = item.counts.last_active[dead] + 1  # 0: never active since monitoring began
    lines = []
    groups = Counter(died_at.tolist()).most_common()
    shown = sorted(groups[:MAX_GROUPS])
    for step, n in shown:
        if step == 0:
            lines.append(f"{_units(n)} of layer {stats.name} never fired since monitoring "
                         f"began")
            continue
        head = f"{_units(n)} of layer {stats.name} died at step {step}"
        lines.append(head + _update_clause(item.updates, step - 1))
    rest = sum(n for _, n in groups[MAX_GROUPS:])
    if rest:
        lines.append(f"{_units(rest)} more of layer {stats.name} died at "
                     f"{len(groups) - MAX_GROUPS} other steps")
    lines += _bias_lines(item, dead)
    return lines


def _update_clause(history: UpdateHistory | None, step: int) -> str:
    if history is None:
        return " (pass optimizer= to the monitor to see the update that killed them)"
    updates = history.size
    if step >= len(updates):
        return ""
    size, lr = updates[step], history.lr[step]
    lr_text = f" (lr {lr:.3g})" if lr == lr else ""
    if not math.isfinite(size):
        return (f", right after a non-finite update{lr_text}: the learning rate is too high for "
                f"this layer (the loss diverged)")
    previous = updates[:step][updates[:step] > 0]
    ratio = float(size / np.median(previous)) if len(previous) >= 3 else None
    relative = float(history.relative[step])
    details = [f"{relative:.2g} of the weights' norm"] + ([f"lr {lr:.3g}"] if lr == lr else [])
    if ratio is not None:
        what = f"an update {ratio:.0f}x the median size"
    else:
        what = "an update"
    detail_text = f" ({', '.join(details)})" if details else ""
    if (ratio or 0) >= SPIKE_RATIO or (relative or 0) >= LARGE_UPDATE:
        return f", right after {what}{detail_text}: the learning rate is too high for this layer"
    return f" (after {what}{detail_text}: not a spike)"


def _bias_lines(item: LayerEvidence, dead: np.ndarray) -> list[str]:
    stats = item.stats
    assert isinstance(stats, LayerStats)
    pre_max = item.counts.pre_max
    if pre_max is None or item.producer_bias is None or item.low is None:
        return []
    low = item.low
    b = item.producer_bias[dead]
    top = pre_max[dead]
    seen = np.isfinite(top)
    wx = top - b
    lifted_by_bias = seen & (wx > low) & (b + wx <= low)
    weights_away = seen & (wx <= low)
    lines = []
    if lifted_by_bias.any():
        k = int(lifted_by_bias.sum())
        bias, spread = np.median(b[lifted_by_bias]), np.median(wx[lifted_by_bias])
        units = f"{_units(k, 'dead unit')} of {stats.name}"
        how = (f"drifted far below its pre-activation spread for {units}"
               if low - bias >= FAR * spread else f"holds {units} just below the active region")
        lines.append(
            f"bias of {stats.producer} {how}: the bias (median {bias:.3g}) outweighs the "
            f"largest w·x seen in the window (median {spread:.3g}), so no input lifts them "
            f"above {low:g}; revive() them, or lower the learning rate or weight decay on "
            f"biases")
    if weights_away.any():
        k = int(weights_away.sum())
        lines.append(
            f"incoming weights of {stats.producer} point away from the data for "
            f"{_units(k, 'dead unit')} of {stats.name}: even w·x alone never exceeds {low:g} in "
            f"the window; revive() them")
    return lines


def _units(n: int, noun: str = "unit") -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
