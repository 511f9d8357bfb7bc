"""relukit.torch.get_act_layer / create_act_layer: every name timm's get_act_layer and
transformers' ACT2FN take resolves to a lean module or is refused with a reason."""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

import relukit.torch as rt
from relukit import catalogue

#: transformers.activations.ACT2CLS (v4.5x) and timm.layers.create_act's _ACT_LAYER_DEFAULT.
HF_NAMES = ["gelu", "gelu_10", "gelu_fast", "gelu_new", "gelu_python", "gelu_pytorch_tanh",
            "gelu_python_tanh", "gelu_accurate", "hardswish", "laplace", "leaky_relu", "linear",
            "mish", "quick_gelu", "relu", "relu2", "relu6", "sigmoid", "silu", "sqrtsoftplus",
            "swish", "tanh", "prelu", "xielu"]
TIMM_NAMES = ["silu", "swish", "mish", "relu", "relu6", "leaky_relu", "elu", "prelu", "celu",
              "selu", "gelu", "gelu_tanh", "quick_gelu", "sigmoid", "tanh", "hard_sigmoid",
              "hard_swish", "hard_mish", "identity"]
ALL = sorted(set(HF_NAMES) | set(TIMM_NAMES) | {"hardsigmoid"})
REFUSED = {"gelu_10", "laplace", "linear", "sqrtsoftplus", "xielu", "hard_mish", "identity"}


def test_the_names_are_the_issues_33():
    assert len(ALL) == 33


@pytest.mark.parametrize("name", ALL)
def test_every_name_resolves_or_is_refused_with_a_reason(name):
    if name in REFUSED:
        with pytest.raises(ValueError, match=f"cannot serve activation '{name}': .+"):
            rt.get_act_layer(name)
        return
    layer = rt.create_act_layer(name)
    assert isinstance(layer, nn.Module) and type(layer).__module__ == "relukit.torch.modules"
    act, fixed = catalogue.resolve(name)
    assert layer.catalogue_name == act.name
    for key, value in fixed.items():
        assert getattr(layer, key) == value
    x = torch.randn(2, 4, requires_grad=True)
    layer(x).sum().backward()


def test_presets_and_inplace():
    assert rt.get_act_layer("gelu_new").keywords == {"approximate": "tanh"}
    assert isinstance(rt.get_act_layer("gelu_new"), functools.partial)
    assert rt.get_act_layer("relu") is rt.ReLU and rt.get_act_layer("GELU") is rt.GELU
    assert rt.create_act_layer("relu", inplace=True).inplace
    assert not hasattr(rt.create_act_layer("gelu", inplace=True), "inplace")
    assert rt.create_act_layer("relu2", inplace=False) is not None  # takes it, as timm passes it
    assert rt.get_act_layer(None) is None and rt.get_act_layer("") is None
    assert rt.get_act_layer(nn.ReLU) is nn.ReLU
    assert rt.create_act_layer("leaky_relu", negative_slope=0.2).negative_slope == 0.2


def test_unknown_names_list_close_matches():
    with pytest.raises(ValueError, match="unknown activation 'hardswsh'.*Close matches: hardswish"):
        rt.get_act_layer("hardswsh")
    with pytest.raises(TypeError):
        rt.get_act_layer(3)


def test_create_act_layer_takes_inplace_as_a_hint_and_keeps_what_a_name_fixes():
    # timm's blocks call create_act_layer(name, inplace=True) for every activation
    assert isinstance(rt.create_act_layer("quick_gelu", inplace=True), rt.QuickGELU)
    assert rt.create_act_layer("hardswish", inplace=True).inplace is True
    with pytest.raises(ValueError, match="'gelu_new' fixes approximate='tanh'"):
        rt.create_act_layer("gelu_new", approximate="none")
    assert rt.create_act_layer("gelu_new", approximate="tanh").approximate == "tanh"
