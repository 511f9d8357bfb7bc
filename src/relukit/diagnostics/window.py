"""Plain data shared by the monitor's parts: the host-side counts of one layer over a window.

No torch objects and no monitor: the distributed gather produces these, the report and the
causes read them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class WindowCounts:
    """Counts of one activation call site over a window (summed over ranks when distributed).

    Per unit (arrays of length ``units``): ``active`` — samples in the active region
    (``relukit.diagnostics.kinds``); ``alive`` — samples with f' != 0 (None when that is the
    same as ``active`` or when f' cannot be exactly 0); ``negative`` — samples with output < 0
    (signed activations only); ``last_active`` — the last step (``monitor.step()`` count) in
    which the unit was active, -1 for never; ``pre_max`` — the largest pre-activation seen
    (ReLU-type units right after a layer, else None).
    """

    units: int
    observations: int  #: outputs seen per unit (samples x positions)
    active: np.ndarray
    zeros: float  #: outputs exactly 0, all units together
    last_active: np.ndarray
    alive: np.ndarray | None = None
    negative: np.ndarray | None = None
    pre_max: np.ndarray | None = None
    #: False when the inactive region could not be read (an in-place module whose rule needs
    #: the input): ``active`` then counts every output.
    inactive_known: bool = True


@dataclass
class UpdateHistory:
    """Per ``monitor.step()`` of one parameterised layer: norm of the update, that norm over
    the weights' norm before it, and the learning rate (NaN where unknown)."""

    size: np.ndarray
    relative: np.ndarray
    lr: np.ndarray


@dataclass
class LayerEvidence:
    """What ``causes.explain`` needs about one layer, as plain data."""

    stats: object  #: the layer's ``LayerStats``
    counts: WindowCounts
    low: float | None  #: the activation's active threshold (active iff output > low)
    #: The producer's bias (one entry per unit) when the units are its outputs and no norm
    #: layer sits in between; None otherwise.
    producer_bias: np.ndarray | None = None
    updates: UpdateHistory | None = None  #: the producer's updates (None: no optimizer)
