"""The lab's networks: MLPs whose activation is named by the catalogue, with the usual init."""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

from .. import catalogue

_TORCH_NN = {
    "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "prelu": nn.PReLU, "rrelu": nn.RReLU,
    "relu6": nn.ReLU6, "elu": nn.ELU, "celu": nn.CELU, "selu": nn.SELU, "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "silu": nn.SiLU, "mish": nn.Mish,
    "softplus": nn.Softplus, "hardtanh": nn.Hardtanh,
}


def _relukit_modules() -> dict[str, type]:
    try:
        import relukit.torch as rt
    except ImportError:
        return {}
    found = {}
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
    if name not in _TORCH_NN:
        raise ValueError(f"no module for activation {name!r} in the lab; valid: "
                         + ", ".join(sorted(_TORCH_NN)))
    return _TORCH_NN[name]()


def init_linear(layer: nn.Linear, activation: str, bias: float = 0.0) -> None:
    """The usual init per family: Glorot for sigmoid/tanh, LeCun for SELU, He otherwise."""
    fan_in = layer.weight.shape[1]
    if activation in ("sigmoid", "tanh"):
        nn.init.xavier_normal_(layer.weight)
    elif activation == "selu":
        nn.init.normal_(layer.weight, std=1.0 / math.sqrt(fan_in))
    else:
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
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
        layers[f"act{i}"] = activation_module(activation, lean=lean)
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
    return float((model(x).argmax(dim=1) == y).float().mean())
