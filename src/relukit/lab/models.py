"""The lab's networks: MLPs whose activation is named by the catalogue, with the usual init."""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

from .. import catalogue


def _relukit_modules() -> dict[str, type]:
    try:
        import relukit.torch as rt
    except ImportError:
        return {}
    found: dict[str, type] = {}
    for value in vars(rt).values():
        name = getattr(value, "catalogue_name", None)
        if isinstance(value, type) and issubclass(value, nn.Module) and isinstance(name, str):
            found.setdefault(name, value)
    return found


def activation_module(name: str, lean: bool = True) -> nn.Module:
    """A fresh module for catalogue activation ``name``: relukit's lean one when available
    (``lean=True``), torch.nn's otherwise."""
    name = catalogue.get(name).name
    if lean:
        cls = _relukit_modules().get(name)
        if cls is not None:
            return cls()
    torch_nn = torch_nn_classes()
    if name not in torch_nn:
        raise ValueError(f"no module for activation {name!r} in the lab; valid: "
                         + ", ".join(lab_activations()))
    return torch_nn[name]()


def torch_nn_classes() -> dict[str, type]:
    """torch.nn's class per catalogue activation that torch has (the catalogue's
    ``converts`` names it)."""
    prefix = catalogue.TORCH_NN
    return {a.name: getattr(nn, s.qualname[len(prefix):]) for a in catalogue.all_activations()
            for s in a.converts if s.qualname.startswith(prefix)}


def lab_activations() -> list[str]:
    """Activations the lab's MLPs can use: those that keep the width (not crelu)."""
    return sorted(torch_nn_classes())


def init_linear(layer: nn.Linear | nn.Conv2d, activation: str, bias: float = 0.0) -> None:
    """The usual init per family: Glorot for sigmoid/tanh, LeCun for SELU, He otherwise."""
    fan_in = layer.weight[0].numel()
    if activation in ("sigmoid", "tanh"):
        nn.init.xavier_normal_(layer.weight)
    elif activation == "selu":
        nn.init.normal_(layer.weight, std=1.0 / math.sqrt(fan_in))
    else:
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    if layer.bias is not None:
        nn.init.constant_(layer.bias, bias)


def mlp(
    activation: str,
    *,
    in_features: int,
    width: int,
    depth: int,
    classes: int,
    bias: float = 0.0,
    lean: bool = True,
    params: dict | None = None,
) -> nn.Sequential:
    """``depth`` hidden blocks fc1, act1, ... then a Linear classifier ``head``.

    The names are what the monitor's reports and cause lines call the layers.
    """
    layers: dict[str, nn.Module] = {}
    d = in_features
    for i in range(1, depth + 1):
        lin = nn.Linear(d, width)
        init_linear(lin, activation, bias)
        layers[f"fc{i}"] = lin
        layers[f"act{i}"] = activation_module_with(activation, lean=lean, **(params or {}))
        d = width
    head = nn.Linear(d, classes)
    init_linear(head, "sigmoid")
    nn.init.zeros_(head.bias)
    layers["head"] = head
    return nn.Sequential(OrderedDict(layers))


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Test accuracy in eval mode (rrelu uses its mean slope), restoring the mode after."""
    was_training = model.training
    model.eval()
    try:
        return float((model(x).argmax(dim=1) == y).float().mean())
    finally:
        model.train(was_training)


def activation_module_with(name: str, lean: bool = False, **params) -> nn.Module:
    """``activation_module`` with constructor parameters (e.g. ``negative_slope=0.1``)."""
    module = activation_module(name, lean=lean)
    if not params:
        return module
    return type(module)(**params)


def cnn(activation: str, *, channels: int = 16, classes: int = 10, lean: bool = False
        ) -> nn.Sequential:
    """A small CNN for 8x8 digits: 4 conv layers (two 2x2 poolings) and a linear head.

    Takes (N, 64) rows and reshapes them to (N, 1, 8, 8).
    """
    c = channels
    layers: dict[str, nn.Module] = {"image": nn.Unflatten(1, (1, 8, 8))}
    shapes = [(1, c), (c, c), (c, 2 * c), (2 * c, 2 * c)]
    for i, (cin, cout) in enumerate(shapes, start=1):
        conv = nn.Conv2d(cin, cout, 3, padding=1)
        init_linear(conv, activation)
        layers[f"conv{i}"] = conv
        layers[f"act{i}"] = activation_module(activation, lean=lean)
        if i in (2, 4):
            layers[f"pool{i // 2}"] = nn.MaxPool2d(2)
    layers["flat"] = nn.Flatten()
    head = nn.Linear(2 * c * 2 * 2, classes)
    init_linear(head, "sigmoid")
    layers["head"] = head
    return nn.Sequential(OrderedDict(layers))
