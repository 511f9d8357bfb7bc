"""The planner behind ``convert(model, example_inputs=...)``: one traced training forward
decides, per activation site, the cheapest exact ``saves`` mode.

During one training-mode forward under ``torch.autograd.graph.saved_tensors_hooks`` every
site runs torch's op and the planner records (a) whether a *later* op saved the site's output
(its storage reaches the pack hook outside the site's own call: a Linear, a matmul, the gated
product of a GLU MLP, a max-pool), and (b) whether anything modified that output in place
(its version counter moved: ``Dropout(inplace=True)``, ``y += residual``). Then:

================================  ==============  ===================  =================
site's output                     piecewise-lin.  elu/celu/selu/prelu  gelu/silu/mish
================================  ==============  ===================  =================
modified in place                 mask            input                input
kept by a later op                output          output               output
not kept (add, mean, dropout...)  mask            output               input
================================  ==============  ===================  =================

"output" costs nothing when a later op keeps the output anyway; otherwise the smallest of
what remains is chosen (1 bit for a mask; for elu-like functions output and input cost the
same; gelu-like ones would add a bit to the output, so they keep the input as torch does).
The exceptions are the modules that may not choose "output" by themselves
(``module._output_mode_ok(device)``): on CPU gelu, silu and mish keep the input even when their
output is kept, because recovering f' from it there costs several times torch's backward kernel
(``relukit.torch.inverse.output_mode_is_fast``); hardswish keeps the input everywhere (f' from
its output is approximate near its minimum); a LeakyReLU with a negative slope keeps a mask.
Set ``module.saves = "output"`` to take the memory saving at that price.
A module called at several sites gets the mode that is safe for all of them. The forward
runs with the RNG state forked and buffers (BatchNorm statistics) restored afterwards, so
the model and the random stream are as before.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from . import inverse


@dataclass(frozen=True)
class SitePlan:
    name: str
    mode: str
    reason: str


def _family(module: nn.Module) -> str | None:
    modes = getattr(module, "_modes", ())
    if not modes:
        return None
    if "mask" in modes:
        return "piecewise"
    if getattr(module, "catalogue_name", "") in inverse.INVERTED:
        return "smooth"
    return "output_based"


#: Why a module may not choose "output" by itself, per family (``module._output_mode_ok``).
_NO_OUTPUT = {
    "piecewise": "its output does not tell f' (flat ends or a negative slope): 1 bit",
    "smooth": ("on CPU recovering f' from the output costs several times torch's backward: "
               "the input (set saves='output' for 1 bit instead)"),
    "output_based": ("f' from its output is approximate near its minimum: the input, exact "
                     "(set saves='output' for the output and 2 bits)"),
}


_CPU = torch.device("cpu")


def _choose(family: str, modified: bool, kept: bool, module: nn.Module,
            device: torch.device = _CPU) -> tuple[str, str]:
    if getattr(module, "inplace", False) and module._inplace_keeps_output:  # type: ignore[attr-defined]
        return "output", "in place: torch's op keeps the output too"
    if modified:
        safe = "mask" if family == "piecewise" else "input"
        return safe, "its output is modified in place later: it cannot be kept"
    if not module._output_mode_ok(device):  # type: ignore[operator]
        return module._safe_mode, _NO_OUTPUT[family]  # type: ignore[return-value]
    if kept:
        return "output", "a later op keeps its output anyway: nothing extra"
    if family == "piecewise":
        return "mask", "no later op keeps its output: 1 bit is the least"
    if family == "smooth":
        return "input", "no later op keeps its output: the input costs 1 bit less"
    return "output", "no later op keeps its output: output and input cost the same"


@contextlib.contextmanager
def probe_forward(model: nn.Module) -> Iterator[None]:
    """``model`` in training mode for one probe forward, with the RNG forked (CPU and the
    model's CUDA devices) and the buffers (BatchNorm statistics) restored afterwards: the
    model and the random streams are as before."""
    was_training = model.training
    buffers = {k: b.clone() for k, b in model.named_buffers()}
    cuda = sorted({t.device.index or 0 for t in itertools.chain(model.parameters(), model.buffers())
                   if t.device.type == "cuda"})
    try:
        model.train()
        with torch.random.fork_rng(devices=cuda):
            yield
    finally:
        model.train(was_training)
        with torch.no_grad():
            for k, b in model.named_buffers():
                if k in buffers:
                    b.copy_(buffers[k])


def plan(model: nn.Module, sites: Sequence[tuple[str, nn.Module]], example_inputs: tuple,
         example_kwargs: dict) -> list[SitePlan]:
    """Run the traced forward and set ``saves`` on every module of ``sites``."""
    modules: dict[int, tuple[str, Any]] = {
        id(m): (name, m) for name, m in sites
        if _family(m) is not None and getattr(m, "bits", None) is None}
    calls: dict[int, list[tuple[torch.Tensor, int]]] = {k: [] for k in modules}
    kept_storages: set[int] = set()
    inside: list[int] = []
    previous = {k: m.saves for k, (_, m) in modules.items()}

    def pre_hook(module, args):
        inside.append(id(module))

    def post_hook(module, args, output):
        inside.pop()
        if isinstance(output, torch.Tensor):
            calls[id(module)].append((output, output._version))

    def pack(t: torch.Tensor):
        if not inside:
            kept_storages.add(t.untyped_storage().data_ptr())
        return t

    handles = []
    for _, m in modules.values():
        m.saves = "input"  # torch's op for the traced forward
        handles.append(m.register_forward_pre_hook(pre_hook))
        handles.append(m.register_forward_hook(post_hook))
    try:
        with probe_forward(model), torch.enable_grad(), \
                torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model(*example_inputs, **example_kwargs)
    except BaseException:
        for k, (_, m) in modules.items():
            m.saves = previous[k]
        raise
    finally:
        for h in handles:
            h.remove()

    plans = []
    for k, (name, m) in modules.items():
        family = _family(m)
        seen = calls[k]
        if not seen:
            m.saves = previous[k]
            plans.append(SitePlan(name, str(m.saves), "not called by the example forward"))
            continue
        modified = any(out._version != version for out, version in seen)
        kept = all(out.untyped_storage().data_ptr() in kept_storages for out, _ in seen)
        mode, reason = _choose(family or "", modified, kept, m, seen[0][0].device)
        m.saves = mode
        plans.append(SitePlan(name, mode, reason))
    return plans
