"""Gradient tracking: per-layer gradient norms, taken when the gradients exist.

With an optimizer the norms are read in an ``optimizer.step()`` pre-hook, where the gradients
are complete (after accumulation, after a GradScaler's unscale); without one, in hooks on the
parameters' gradient accumulation (``register_post_accumulate_grad_hook``), the last value
per parameter since the previous ``monitor.step()``. Either way it does not matter in which
order the training loop calls ``zero_grad()`` and ``monitor.step()``.
"""

from __future__ import annotations

import torch
from torch import nn

from . import gradflow
from .report import GradientStats
from .updates import per_layer


class GradientTracker:
    """Mean per-layer gradient norm over a window, with the gradient-flow verdicts."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer | None,
                 enabled: bool):
        self.enabled = enabled
        self.optimizer = optimizer
        self.layers = gradflow.parameterised_layers(model)
        self._params = [p for _, ps in self.layers for p in ps]
        self._index = [i for i, (_, ps) in enumerate(self.layers) for _ in ps]
        self._positions: dict[tuple, torch.Tensor] = {}
        self._sum: torch.Tensor | None = None
        self._counts = [0] * len(self.layers)  # steps in which a layer had a gradient
        self._steps = 0  # recorded steps in the window
        self._latest: dict[int, torch.Tensor] = {}  # param position -> squared norm
        self._handles: list = []
        self._optimizer_steps = 0
        if not enabled or not self.layers:
            return
        if optimizer is not None:
            self._handles.append(optimizer.register_step_pre_hook(self._on_optimizer_step))
        else:
            for k, p in enumerate(self._params):
                self._handles.append(p.register_post_accumulate_grad_hook(self._on_grad(k)))

    def _on_grad(self, k: int):
        def hook(param: torch.Tensor) -> None:
            if param.grad is not None:
                with torch.no_grad():
                    self._latest[k] = torch.linalg.vector_norm(
                        param.grad.detach(), dtype=torch.float64).square()
        return hook

    def _on_optimizer_step(self, optimizer, args, kwargs) -> None:
        self._optimizer_steps += 1
        found = [(k, p.grad.detach()) for k, p in enumerate(self._params) if p.grad is not None]
        if found:
            self._add([k for k, _ in found], gradflow.squared_norms([g for _, g in found]))

    def _add(self, positions: list[int], sq: torch.Tensor) -> None:
        index = [self._index[k] for k in positions]
        key = (tuple(index), sq.device)
        where = self._positions.get(key)
        if where is None:
            where = self._positions[key] = torch.tensor(index, device=sq.device)
        with torch.no_grad():
            norms = per_layer(sq, where, len(self.layers)).sqrt()
            self._sum = norms if self._sum is None else self._sum + norms
        self._steps += 1
        for i in set(index):
            self._counts[i] += 1

    def step(self) -> None:
        """At ``monitor.step()``: take the gradients the accumulation hooks saw."""
        if self._latest:
            positions = sorted(self._latest)
            self._add(positions, torch.stack([self._latest[k] for k in positions]))
            self._latest = {}

    def verdicts(self, vanishing_ratio: float, exploding_ratio: float
                 ) -> tuple[list[GradientStats], str | None]:
        """This window's per-layer stats, or a note saying why there are none."""
        if not self.enabled:
            return [], "gradient tracking is off (track_gradients=False)"
        if not self.layers:
            return [], "the model has no trainable parameters"
        if self._sum is None or not self._steps:
            if self.optimizer is not None:
                why = ("no optimizer.step() of the monitor's optimizer ran in this window "
                       "(gradients are read at optimizer.step())")
            else:
                why = ("no backward pass reached the model's parameters in this window "
                       "(or it ran before the monitor was created)")
            return [], "no gradients: " + why
        sums = self._sum.cpu().tolist()
        with torch.no_grad():
            sq = gradflow.squared_norms([p.detach() for p in self._params])
            pnorms = self._add_params(sq).sqrt().cpu().tolist()
        used = [i for i, n in enumerate(self._counts) if n]
        stats = gradflow.verdicts(
            [self.layers[i][0] for i in used], [sums[i] / self._counts[i] for i in used],
            [pnorms[i] for i in used], vanishing_ratio, exploding_ratio,
            [gradflow.has_weight_matrix(self.layers[i][1]) for i in used],
            [gradflow.init_scale(self.layers[i][1]) for i in used])
        return stats, None

    def _add_params(self, sq: torch.Tensor) -> torch.Tensor:
        key = ("params", sq.device)
        where = self._positions.get(key)
        if where is None:
            where = self._positions[key] = torch.tensor(self._index, device=sq.device)
        return per_layer(sq, where, len(self.layers))

    def reset_window(self) -> None:
        self._sum, self._steps = None, 0
        self._counts = [0] * len(self.layers)

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
