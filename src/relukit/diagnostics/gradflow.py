"""Gradient flow: per-layer gradient norms and their verdicts.

Thresholds (both keyword arguments of :class:`~relukit.diagnostics.ActivationMonitor`):

* **vanishing** — the layer's mean gradient norm over the window is below
  ``vanishing_ratio`` (default ``1e-3``) times the largest layer's, or exactly 0 while another
  layer's is not. Relative, because absolute gradient norms scale with the loss: what matters
  is that one layer learns a thousand times slower than the rest (deep sigmoid stacks lose
  about 4x per layer).
* **exploding** — the norm is not finite, or exceeds ``exploding_ratio`` (default ``100``)
  times the norm of the layer's own parameters: one SGD step at learning rate 0.01 would move
  the weights by more than their whole size. (Comparing layers does not work here: in a deep
  stack that amplifies, the activations grow as fast as the backward signal shrinks, so the
  weight gradients of all layers explode together.) The size rule applies to layers with a
  weight matrix or kernel only: the gradient of a PReLU slope or a norm layer's scale is a
  sum over every element of the batch, so its norm against a scalar-sized parameter says
  nothing about explosion (a non-finite gradient is exploding everywhere). The size is at
  least what torch's default init would give the layer (``init_scale``), so a zero-initialised
  head is not "exploding" on its first steps.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .report import GradientStats

DEFAULT_VANISHING_RATIO = 1e-3
DEFAULT_EXPLODING_RATIO = 100.0


def parameterised_layers(model: nn.Module) -> list[tuple[str, list[nn.Parameter]]]:
    """Modules owning trainable parameters directly, named as in ``model.named_modules()``."""
    layers = []
    for name, module in model.named_modules():
        params = [p for p in module.parameters(recurse=False) if p.requires_grad]
        if params:
            layers.append((name, params))
    return layers


def squared_norms(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Squared L2 norms of ``tensors`` as one tensor, computed without a host sync."""
    norms = torch._foreach_norm(tensors)
    return torch.stack(norms).to(torch.float64) ** 2


def has_weight_matrix(params: list[nn.Parameter]) -> bool:
    return any(p.ndim >= 2 for p in params)


def init_scale(params: list[nn.Parameter]) -> float:
    """Norm torch's default init would give the layer's weights (U(+-1/sqrt(fan_in)) has
    norm sqrt(fan_out / 3)): the size a zero-initialised layer is judged against."""
    return math.sqrt(sum(p.shape[0] / 3.0 for p in params if p.ndim >= 2))


def verdicts(names: list[str], norms: list[float], param_norms: list[float],
             vanishing_ratio: float = DEFAULT_VANISHING_RATIO,
             exploding_ratio: float = DEFAULT_EXPLODING_RATIO,
             weight_bearing: list[bool] | None = None,
             size_floors: list[float] | None = None) -> list[GradientStats]:
    finite = [n for n in norms if math.isfinite(n)]
    largest = max(finite, default=0.0)
    if weight_bearing is None:
        weight_bearing = [True] * len(names)
    if size_floors is None:
        size_floors = [0.0] * len(names)
    out = []
    for name, norm, pnorm, matrix, floor in zip(names, norms, param_norms, weight_bearing,
                                                size_floors, strict=True):
        ratio = norm / largest if largest > 0 and math.isfinite(norm) else float("nan")
        # a zero-initialised layer is judged against the default init's size, not its own ~0
        size = max(pnorm, floor)
        if not math.isfinite(norm) or (matrix and norm > exploding_ratio * size):
            verdict = "exploding"
        elif largest > 0 and norm < vanishing_ratio * largest:
            verdict = "vanishing"
        else:
            verdict = "ok"
        out.append(GradientStats(name, norm, pnorm, ratio, verdict))
    return out


def cause_lines(stats: list[GradientStats]) -> list[str]:
    lines = []
    vanishing = [g for g in stats if g.verdict == "vanishing"]
    exploding = [g for g in stats if g.verdict == "exploding"]
    if vanishing:
        top = max((g for g in stats if math.isfinite(g.norm)), key=lambda g: g.norm)
        worst = min(vanishing, key=lambda g: g.norm)
        lines.append(
            f"gradients are vanishing in {len(vanishing)} layer(s) ({_names(vanishing)}): "
            f"{worst.name} gets {worst.ratio_to_max:.1g} of the gradient norm of {top.name}; "
            f"use He initialisation, a ReLU-family activation, normalisation or residual "
            f"connections"
        )
    if exploding:
        worst = max(exploding, key=lambda g: g.norm if math.isfinite(g.norm) else math.inf)
        lines.append(
            f"gradients are exploding in {len(exploding)} layer(s) ({_names(exploding)}): "
            f"{worst.name} has gradient norm {worst.norm:.3g} against parameters of norm "
            f"{worst.param_norm:.3g}; clip gradients, lower the learning rate or shrink the "
            f"initialisation"
        )
    return lines


def _names(stats: list[GradientStats], limit: int = 4) -> str:
    names = [g.name for g in stats]
    extra = f", +{len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + extra
