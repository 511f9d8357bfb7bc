"""Update tracking: how far each parameterised layer moved at each ``monitor.step()``.

Measured on a fixed sample of up to 16 rows per parameter (all rows of smaller ones), which
keeps it cheap enough for every step; used to tell a learning-rate spike from a slow death.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from . import gradflow
from .window import UpdateHistory

SAMPLED_ROWS = 16


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


def per_layer(sq: torch.Tensor, positions: torch.Tensor, layers: int) -> torch.Tensor:
    """Sum per-parameter values ``sq`` into one value per layer (``positions``: its layer)."""
    out = torch.zeros(layers, dtype=sq.dtype, device=sq.device)
    return out.index_add_(0, positions, sq)


class UpdateTracker:
    """Update size, size / weights' norm and learning rate per layer and step."""

    def __init__(self, layers: list[tuple[str, list[nn.Parameter]]],
                 optimizer: torch.optim.Optimizer):
        self.layers = layers
        self.optimizer = optimizer
        group_of = {id(p): g for g, group in enumerate(optimizer.param_groups)
                    for p in group["params"]}
        self._group_of = [group_of.get(id(ps[0])) for _, ps in layers]
        self._params = [p for _, ps in layers for p in ps]
        self._rows = [_sample_rows(p) for p in self._params]
        self._index = [i for i, (_, ps) in enumerate(layers) for _ in ps]
        self._positions: dict[torch.device, torch.Tensor] = {}
        self._series = _Series(3, len(layers))
        self._pending: list[torch.Tensor] = []
        self._lrs: list[list[float]] = []
        self._snapshot: list[torch.Tensor] = []
        self.resync()

    def _sampled(self) -> list[torch.Tensor]:
        return [p.detach().clone() if rows is None else p.detach().index_select(0, rows)
                for p, rows in zip(self._params, self._rows, strict=True)]

    def _sum(self, sq: torch.Tensor) -> torch.Tensor:
        positions = self._positions.get(sq.device)
        if positions is None:
            positions = self._positions[sq.device] = torch.tensor(self._index, device=sq.device)
        return per_layer(sq, positions, len(self.layers))

    def resync(self) -> None:
        """Take the current weights as the reference for the next update size."""
        with torch.no_grad():
            self._snapshot = self._sampled()

    def record(self) -> None:
        with torch.no_grad():
            current = self._sampled()
            delta = gradflow.squared_norms(list(torch._foreach_sub(current, self._snapshot)))
            before = gradflow.squared_norms(self._snapshot)
            self._pending.append(torch.stack([self._sum(delta), self._sum(before)]).sqrt())
            self._snapshot = current
        groups = self.optimizer.param_groups
        self._lrs.append([float(groups[g].get("lr", float("nan"))) if g is not None
                          else float("nan") for g in self._group_of])

    def flush(self) -> None:
        """Move the pending device values to the host series (a sync; at window close)."""
        if not self._pending:
            return
        size, weight = torch.stack(self._pending).double().cpu().numpy().transpose(1, 0, 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.where(size > 0, size / weight, 0.0)
        self._series.extend(np.stack([size, relative, np.asarray(self._lrs)]))
        self._pending, self._lrs = [], []

    def history(self, layer_name: str) -> UpdateHistory | None:
        names = [n for n, _ in self.layers]
        if layer_name not in names:
            return None
        size, relative, lr = self._series.column(names.index(layer_name))
        return UpdateHistory(size=size, relative=relative, lr=lr)
