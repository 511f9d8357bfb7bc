"""fwd+bwd time of relukit.torch.functional vs torch.nn.functional, per activation.

CPU float32, 8M elements by default; torch and relukit alternate inside each repetition so
that both see the same machine state, and the ratio is of the medians. Target: <= 1.25
(<= 1.5 for gelu/silu/mish with ``saves="output"``, whose backward recovers f' from the
output). One torch thread by default (``--threads``): on a shared 2-core machine OpenMP
stragglers, not the kernels, dominate multi-threaded medians.
Writes bench-results/bench_torch_speed.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as TF

import relukit.torch.functional as RF

TARGET = 1.25
TARGET_OUTPUT = 1.5
OUT = Path("bench-results")


def cases():
    """(label, torch fn, relukit fn, exact gradient?): each fn takes (x, w)."""
    return [
        ("relu", lambda x, w: TF.relu(x), lambda x, w: RF.relu(x), True),
        ("leaky_relu", lambda x, w: TF.leaky_relu(x, 0.01),
         lambda x, w: RF.leaky_relu(x, 0.01), True),
        ("prelu", lambda x, w: TF.prelu(x, w), lambda x, w: RF.prelu(x, w), True),
        ("rrelu (train)", lambda x, w: TF.rrelu(x, training=True),
         lambda x, w: RF.rrelu(x, training=True), True),
        ("relu6", lambda x, w: TF.relu6(x), lambda x, w: RF.relu6(x), True),
        ("hardtanh", lambda x, w: TF.hardtanh(x), lambda x, w: RF.hardtanh(x), True),
        ("elu", lambda x, w: TF.elu(x), lambda x, w: RF.elu(x), True),
        ("celu", lambda x, w: TF.celu(x), lambda x, w: RF.celu(x), True),
        ("selu", lambda x, w: TF.selu(x), lambda x, w: RF.selu(x), True),
        ("gelu", lambda x, w: TF.gelu(x), lambda x, w: RF.gelu(x), True),
        ("gelu tanh", lambda x, w: TF.gelu(x, approximate="tanh"),
         lambda x, w: RF.gelu(x, approximate="tanh"), True),
        ("silu", lambda x, w: TF.silu(x), lambda x, w: RF.silu(x), True),
        ("mish", lambda x, w: TF.mish(x), lambda x, w: RF.mish(x), True),
        ("softplus", lambda x, w: TF.softplus(x), lambda x, w: RF.softplus(x), True),
        ("sigmoid", lambda x, w: torch.sigmoid(x), lambda x, w: RF.sigmoid(x), True),
        ("tanh", lambda x, w: torch.tanh(x), lambda x, w: RF.tanh(x), True),
        ("gelu bits=4", lambda x, w: TF.gelu(x), lambda x, w: RF.gelu(x, bits=4), False),
        ("gelu bits=8", lambda x, w: TF.gelu(x), lambda x, w: RF.gelu(x, bits=8), False),
        ("silu bits=4", lambda x, w: TF.silu(x), lambda x, w: RF.silu(x, bits=4), False),
        ("gelu saves=output", lambda x, w: TF.gelu(x),
         lambda x, w: RF.gelu(x, saves="output"), True),
        ("gelu tanh saves=output", lambda x, w: TF.gelu(x, approximate="tanh"),
         lambda x, w: RF.gelu(x, approximate="tanh", saves="output"), True),
        ("silu saves=output", lambda x, w: TF.silu(x), lambda x, w: RF.silu(x, saves="output"),
         True),
        ("mish saves=output", lambda x, w: TF.mish(x), lambda x, w: RF.mish(x, saves="output"),
         True),
    ]


def time_fwd_bwd(fn, x, w, grad) -> float:
    xr = x.detach().requires_grad_(True)
    start = time.perf_counter()
    y = fn(xr, w)
    y.backward(grad)
    return time.perf_counter() - start


def run(numel: int, reps: int, channels: int = 64) -> list[dict]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(numel // channels // 16, channels, 16, generator=gen)
    grad = torch.randn(x.shape, generator=gen)
    w = torch.full((channels,), 0.25, requires_grad=True)
    rows = []
    for label, torch_fn, relukit_fn, exact in cases():
        t_torch, t_relukit = [], []
        for fn in (torch_fn, relukit_fn):
            time_fwd_bwd(fn, x, w, grad)  # warm-up: allocator, codebook tables
        for _ in range(reps):
            t_torch.append(time_fwd_bwd(torch_fn, x, w, grad))
            t_relukit.append(time_fwd_bwd(relukit_fn, x, w, grad))
        mt, mr = statistics.median(t_torch), statistics.median(t_relukit)
        target = TARGET_OUTPUT if "saves=output" in label else TARGET
        rows.append({"activation": label, "exact_gradient": exact,
                     "torch_ms": mt * 1e3, "relukit_ms": mr * 1e3, "ratio": mr / mt,
                     "target": target, "meets_target": mr / mt <= target})
    return rows


def print_table(rows, numel, reps) -> None:
    title = (f"fwd+bwd, CPU float32, {numel / 1e6:g}M elements, median of {reps} "
             f"(torch threads: {torch.get_num_threads()}); target relukit/torch <= {TARGET} "
             f"(saves=output: <= {TARGET_OUTPUT})")
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        for r in rows:
            print(f"{r['activation']:<14} {r['torch_ms']:8.1f} {r['relukit_ms']:8.1f} "
                  f"{r['ratio']:6.2f}")
        return
    table = Table(title=title)
    for col in ("activation", "torch ms", "relukit ms", "ratio", "<= target"):
        table.add_column(col, justify="left" if col == "activation" else "right")
    for r in rows:
        table.add_row(r["activation"], f"{r['torch_ms']:.1f}", f"{r['relukit_ms']:.1f}",
                      f"{r['ratio']:.2f}", "yes" if r["meets_target"] else "NO")
    Console(width=120).print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numel", type=int, default=8 * 2**20)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.reps < 5:
        parser.error("--reps must be >= 5 (medians of at least 5 runs)")
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        rows = run(args.numel, args.reps)
        print_table(rows, args.numel, args.reps)
    finally:
        torch.set_num_threads(threads)
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "bench_torch_speed", "device": "cpu", "dtype": "float32",
              "numel": args.numel, "reps": args.reps, "threads": args.threads,
              "torch": torch.__version__, "target_ratio": TARGET, "rows": rows}
    (args.out / "bench_torch_speed.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
