"""Bytes saved for backward: relukit vs torch, per activation and for whole models.

1. Linear -> act -> Linear (256 -> 1024 -> 256, batch 512, float32): the saved-tensor bytes of
   the block, in hidden-size tensors, and the activation's extra bits per hidden element
   (the block's bytes minus those of Linear -> Linear, which saves the same hidden tensor).
2. A tiny Hugging Face GPT-2 and BERT (from configs, random init) and a Conv-BN-ReLU residual
   net: saved-tensor bytes of one training forward before and after ``convert()``, with
   bits=None and bits=4. Outputs before/after are compared (eval mode) and must be unchanged.
   Targets: GPT-2 at least 25% less with bits=None, 30% less with bits=4.

Bytes are counted with torch.autograd.graph.saved_tensors_hooks, by storage, parameters
excluded (relukit.torch.saved_tensor_bytes). They are deterministic: no repetitions needed.
Writes bench-results/bench_torch_memory.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import torch
from torch import nn

import relukit.torch as rt
from relukit.torch.convert import convert

OUT = Path("bench-results")
MIB = 2**20
TARGETS = {("gpt2", None): 0.25, ("gpt2", 4): 0.30}


def saved_bytes(model: nn.Module, *inputs) -> int:
    helper = getattr(rt, "saved_tensor_bytes", None)
    if helper is not None:
        return int(helper(model, *inputs))
    storages: dict = {}
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params:
            storages[ptr] = t
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(*inputs)
    return sum(t.untyped_storage().nbytes() for t in storages.values())


# ----------------------------------------------------------------------------- the block


def block_cases():
    """(label, torch module, relukit module)."""
    return [
        ("relu", nn.ReLU(), rt.ReLU()),
        ("leaky_relu", nn.LeakyReLU(), rt.LeakyReLU()),
        ("prelu", nn.PReLU(), rt.PReLU()),
        ("rrelu (train)", nn.RReLU(), rt.RReLU()),
        ("relu6", nn.ReLU6(), rt.ReLU6()),
        ("hardtanh", nn.Hardtanh(), rt.Hardtanh()),
        ("elu", nn.ELU(), rt.ELU()),
        ("celu", nn.CELU(), rt.CELU()),
        ("selu", nn.SELU(), rt.SELU()),
        ("gelu", nn.GELU(), rt.GELU()),
        ("gelu tanh", nn.GELU("tanh"), rt.GELU("tanh")),
        ("silu", nn.SiLU(), rt.SiLU()),
        ("mish", nn.Mish(), rt.Mish()),
        ("softplus", nn.Softplus(), rt.Softplus()),
        ("sigmoid", nn.Sigmoid(), rt.Sigmoid()),
        ("tanh", nn.Tanh(), rt.Tanh()),
        *[(f"gelu bits={k}", nn.GELU(), rt.GELU(bits=k)) for k in (1, 2, 4, 8)],
        ("silu bits=4", nn.SiLU(), rt.SiLU(bits=4)),
        ("mish bits=4", nn.Mish(), rt.Mish(bits=4)),
    ]


def run_block(batch=512, d_in=256, hidden=1024) -> list[dict]:
    torch.manual_seed(0)
    x = torch.randn(batch, d_in)
    hidden_bytes = batch * hidden * 4
    fc1, fc2 = nn.Linear(d_in, hidden), nn.Linear(hidden, d_in)
    base = saved_bytes(nn.Sequential(fc1, nn.Identity(), fc2), x)
    rows = []
    for label, t_act, r_act in block_cases():
        t = saved_bytes(nn.Sequential(fc1, t_act, fc2).train(), x)
        r = saved_bytes(nn.Sequential(fc1, r_act, fc2).train(), x)
        rows.append({
            "activation": label,
            "torch_hidden_tensors": t / hidden_bytes,
            "relukit_hidden_tensors": r / hidden_bytes,
            "torch_extra_bits": (t - base) * 8 / (batch * hidden),
            "relukit_extra_bits": (r - base) * 8 / (batch * hidden),
        })
    return rows


# ----------------------------------------------------------------------------- models


def gpt2(n_layer, d):
    import transformers as tr

    cfg = tr.GPT2Config(n_layer=n_layer, n_embd=d, n_head=4, vocab_size=1024, n_positions=256,
                        bos_token_id=0, eos_token_id=0)
    return tr.GPT2LMHeadModel(cfg)


def bert(n_layer, d):
    import transformers as tr

    cfg = tr.BertConfig(num_hidden_layers=n_layer, hidden_size=d, num_attention_heads=4,
                        intermediate_size=4 * d, vocab_size=1024, max_position_embeddings=256)
    return tr.BertForMaskedLM(cfg)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + x)


def conv_net(c=32):
    return nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                         nn.ReLU(inplace=True), Block(c), Block(c), Block(c),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10))


def _output(model, inputs):
    out = model(*inputs)
    return out.logits if hasattr(out, "logits") else out


def run_models(quick: bool) -> list[dict]:
    n_layer, d, batch, seq = (2, 64, 2, 64) if quick else (4, 256, 8, 256)
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 1024, (batch, seq), generator=gen)
    images = torch.randn(batch * 4, 3, 32, 32, generator=gen)
    models = [
        ("gpt2", lambda: gpt2(n_layer, d), (ids,), dict(rtol=1e-4, atol=1e-5)),
        ("bert", lambda: bert(n_layer, d), (ids,), None),
        ("conv_net", conv_net, (images,), None),
    ]
    rows = []
    for label, build, inputs, tol in models:
        torch.manual_seed(0)
        pristine = build()
        # Each copy gets exactly one training forward (BatchNorm updates its running stats).
        reference = copy.deepcopy(pristine)
        before = saved_bytes(reference.train(), *inputs)
        with torch.no_grad():
            ref_out = _output(reference.eval(), inputs)
        for bits in (None, 4):
            model = copy.deepcopy(pristine)
            summary = convert(model, bits=bits)
            after = saved_bytes(model.train(), *inputs)
            with torch.no_grad():
                out = _output(model.eval(), inputs)
            # The forward is never quantised: bits only change what backward keeps.
            if tol is None:
                assert torch.equal(out, ref_out), f"{label}: output changed by convert()"
            else:
                torch.testing.assert_close(out, ref_out, **tol)
            reduction = 1 - after / before
            target = TARGETS.get((label, bits))
            rows.append({
                "model": label, "bits": bits, "replaced": len(summary),
                "before_mib": before / MIB, "after_mib": after / MIB, "reduction": reduction,
                "target_reduction": target,
                "meets_target": None if target is None else reduction >= target,
                "max_abs_output_change": float((out - ref_out).abs().max()),
            })
    return rows


# ----------------------------------------------------------------------------- output


def print_tables(block_rows, model_rows, quick) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover - rich is in the lab extra
        print(json.dumps({"block": block_rows, "models": model_rows}, indent=1))
        return
    console = Console(width=120)
    t = Table(title="Linear(256->1024) -> act -> Linear(1024->256), batch 512, float32: "
                    "saved for backward")
    for col in ("activation", "torch: hidden tensors", "relukit", "torch: act extra bits/elem",
                "relukit"):
        t.add_column(col, justify="left" if col == "activation" else "right")
    for r in block_rows:
        t.add_row(r["activation"], f"{r['torch_hidden_tensors']:.3f}",
                  f"{r['relukit_hidden_tensors']:.3f}", f"{r['torch_extra_bits']:g}",
                  f"{r['relukit_extra_bits']:g}")
    console.print(t)
    size = "n_layer=2, d=64, batch 2x64" if quick else "n_layer=4, d=256, batch 8x256"
    t = Table(title=f"saved-tensor bytes of one training forward, before/after convert() "
                    f"({size}; conv net 3 residual blocks, 32 ch, 32x32)")
    for col in ("model", "bits", "replaced", "before MiB", "after MiB", "reduction",
                "target", "output change"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for r in model_rows:
        target = "" if r["target_reduction"] is None else (
            f">= {r['target_reduction']:.0%} " + ("ok" if r["meets_target"] else "MISSED"))
        t.add_row(r["model"], "exact" if r["bits"] is None else str(r["bits"]),
                  str(r["replaced"]), f"{r['before_mib']:.1f}", f"{r['after_mib']:.1f}",
                  f"{r['reduction']:.1%}", target, f"{r['max_abs_output_change']:.1e}")
    console.print(t)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny models (a smoke run)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    block_rows = run_block(*((64, 32, 128) if args.quick else ()))
    model_rows = run_models(args.quick)
    print_tables(block_rows, model_rows, args.quick)
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "bench_torch_memory", "torch": torch.__version__, "quick": args.quick,
              "block": block_rows, "models": model_rows}
    (args.out / "bench_torch_memory.json").write_text(json.dumps(result, indent=2))
    missed = [r for r in model_rows if r["meets_target"] is False]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
