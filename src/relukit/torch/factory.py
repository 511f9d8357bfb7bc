"""Name -> module factory with timm's and Hugging Face's names: ``get_act_layer`` /
``create_act_layer``, as ``timm.layers.get_act_layer`` / ``create_act_layer`` and
transformers' ``ACT2FN[name]``, returning relukit's lean modules.

Every name resolves through the catalogue (``relukit.catalogue.resolve``: names, aliases and
presets such as ``gelu_new`` = gelu with ``approximate="tanh"``); the names timm or
transformers take that relukit cannot serve raise a ValueError with the reason
(``catalogue.UNSERVED_NAMES``), any other unknown name one listing the close matches.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from typing import Any

from torch import nn

from .. import catalogue

__all__ = ["get_act_layer", "create_act_layer"]


def _known_names() -> list[str]:
    names = set(catalogue.names())
    for act in catalogue.all_activations():
        names.update(act.aliases)
        names.update(act.presets)
    return sorted(names)


def get_act_layer(name: Any = "relu"):
    """The module class for ``name`` (a ``functools.partial`` of it where the name fixes a
    parameter: ``"gelu_new"`` -> ``partial(GELU, approximate="tanh")``); None for None or "",
    as timm; a class or callable is returned as it is."""
    if name is None or name == "":
        return None
    if not isinstance(name, str):
        if callable(name):
            return name
        raise TypeError(f"get_act_layer: name must be a str, got {type(name).__name__}")
    reason = catalogue.unserved_reason(name)
    if reason is not None:
        raise ValueError(f"get_act_layer: relukit cannot serve activation {name!r}: {reason}")
    try:
        act, fixed = catalogue.resolve(name)
    except ValueError:
        pool = _known_names() + sorted(catalogue.UNSERVED_NAMES)
        close = difflib.get_close_matches(name.lower(), pool, n=4, cutoff=0.6)
        hint = f" Close matches: {', '.join(close)}." if close else ""
        raise ValueError(
            f"get_act_layer: unknown activation {name!r}.{hint} Valid names: "
            f"{', '.join(_known_names())}") from None
    from .. import torch as relukit_torch

    cls = getattr(relukit_torch, act.module or "")
    return functools.partial(cls, **fixed) if fixed else cls


def create_act_layer(name: Any, inplace: bool | None = None, **kwargs: Any) -> nn.Module | None:
    """A new module for ``name`` (see :func:`get_act_layer`) built with ``kwargs``;
    ``inplace`` is passed only to modules that take it (as timm does)."""
    layer = get_act_layer(name)
    if layer is None:
        return None
    if isinstance(name, str):
        act, fixed = catalogue.resolve(name)
        for key, value in kwargs.items():
            if key in fixed and value != fixed[key]:
                raise ValueError(
                    f"create_act_layer: {name!r} fixes {key}={fixed[key]!r}, got "
                    f"{key}={value!r}; use {act.name!r} to choose {key}")
        if inplace and act.torch_rule is not None and not act.torch_rule.inplace:
            inplace = None  # a hint, as in timm: torch has no in-place form of this one
    if inplace is not None:
        target = layer.func if isinstance(layer, functools.partial) else layer
        try:
            takes = "inplace" in inspect.signature(target).parameters
        except (TypeError, ValueError):
            takes = False
        if takes:
            kwargs["inplace"] = inplace
    return layer(**kwargs)
