"""Bytes saved for backward by one training step: torch.nn's activations against relukit's."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ... import catalogue
from .. import plots
from ..models import mlp
from ..section import Context, Figure, Section, Table

#: Bits per element of the quantised derivative shown for gelu/silu/mish.
KBIT_BITS = 4


@dataclass
class MemoryRow:
    torch_bytes: int
    relukit_bytes: int
    saving: float
    outputs_identical: bool
    replaced: int
    relukit_kbit_bytes: int | None = None


@dataclass
class MemoryResult:
    batch: int
    width: int
    depth: int
    kbit_bits: int
    models: dict[str, MemoryRow]


class Memory(Section):
    id = "memory"
    title = "Memory saved for backward"
    shows = ("How much memory one training step of the MLP keeps for the backward pass with "
             "torch.nn's activation modules and after <code>relukit.torch.convert()</code> "
             "swapped in relukit's (parameters not counted; the Linear layers' saved inputs "
             "are).")
    look_for = ("Piecewise-linear activations need only one bit per element (which side of "
                "the kink) to compute their gradient; ELU/SELU recover it from the output. The "
                "outputs stay bitwise identical.")

    def steps(self, cfg) -> int:
        return len(cfg.activations)

    def run(self, ctx: Context, advance) -> MemoryResult:
        from ...torch import convert, saved_tensor_bytes

        cfg, data = ctx.cfg, ctx.data
        # a clone, not a view: a saved view would count the storage of the whole training set
        x = data.x_train[: cfg.memory_batch].clone()
        y = data.y_train[: cfg.memory_batch].clone()
        rows = {}
        for act in cfg.activations:
            torch.manual_seed(0)
            reference = mlp(act, in_features=data.features, width=cfg.width, depth=cfg.depth,
                            classes=data.classes, lean=False).to(x.device)
            lean = copy.deepcopy(reference)
            summary = convert(lean)

            def step(model):
                return F.cross_entropy(model(x), y)

            before = saved_tensor_bytes(step, reference, exclude=list(reference.parameters()))
            after = saved_tensor_bytes(step, lean, exclude=list(lean.parameters()))
            reference.eval()  # rrelu's random slopes would make two train-mode forwards differ
            lean.eval()
            with torch.no_grad():
                same = bool(torch.equal(reference(x), lean(x)))
            row = MemoryRow(int(before), int(after), 1.0 - after / before if before else 0.0,
                            same, len(summary))
            if catalogue.get(act).kbit:
                quantised = copy.deepcopy(reference)
                convert(quantised, bits=KBIT_BITS)
                row.relukit_kbit_bytes = int(saved_tensor_bytes(
                    step, quantised, exclude=list(quantised.parameters())))
            rows[act] = row
            advance()
        return MemoryResult(cfg.memory_batch, cfg.width, cfg.depth, KBIT_BITS, rows)

    def csv(self, r: MemoryResult) -> Table:
        return Table(["activation", "torch.nn saved bytes", "relukit saved bytes", "saving",
                      f"relukit bits={r.kbit_bits} saved bytes", "outputs identical"],
                     [[a, m.torch_bytes, m.relukit_bytes, m.saving,
                       "" if m.relukit_kbit_bytes is None else m.relukit_kbit_bytes,
                       m.outputs_identical] for a, m in r.models.items()])

    def tables(self, r: MemoryResult) -> list[Table]:
        return [Table(["activation", "torch.nn", "relukit", "saving",
                       f"relukit, bits={r.kbit_bits}", "outputs identical"],
                      [[a, plots.readable_bytes(m.torch_bytes),
                        plots.readable_bytes(m.relukit_bytes), f"{m.saving:.0%}",
                        "-" if m.relukit_kbit_bytes is None
                        else plots.readable_bytes(m.relukit_kbit_bytes),
                        "yes" if m.outputs_identical else "NO"] for a, m in r.models.items()],
                      f"Saved-for-backward memory of one training step, batch {r.batch}, "
                      f"{r.depth}x{r.width} MLP, float32.")]

    def figures(self, r: MemoryResult, out: Path) -> list[Figure]:
        groups = {a: {"torch.nn": (m.torch_bytes / 2 ** 10, 0.0),
                      "relukit": (m.relukit_bytes / 2 ** 10, 0.0),
                      **({f"relukit bits={r.kbit_bits}": (m.relukit_kbit_bytes / 2 ** 10, 0.0)}
                         if m.relukit_kbit_bytes else {})}
                  for a, m in r.models.items()}
        path = out / "memory.png"
        spec = plots.bars_figure(path, groups, title=f"Saved for backward, one step (batch "
                                 f"{r.batch}, {r.depth}x{r.width} MLP)", ylabel="KiB")
        return [Figure("fig-memory", path, "Memory saved for backward.", spec)]
