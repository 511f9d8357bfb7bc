"""Accuracy (and speed) of relukit.torch.inverse: f' recovered from the output y = f(x) and the
branch bit, against float64 exact f', next to torch's own gradient in the same dtype.

Inputs: x ~ N(0, 4) (std 2) plus a dense grid around the minimum x*, rounded to the tested
dtype; y = torch's own forward in that dtype; the reference is torch's float64 autograd at the
same (rounded) x. Relative L2 = ||err||_2 / ||f'_exact||_2.

    python benchmarks/bench_inverse.py [--samples 1000000] [--grid 200001] [--no-time]

With timing (the default), fwd+bwd of relukit's ``saves="output"`` against torch's own op on
CPU float32, 1M elements, the two alternating inside each repetition, medians of 15; also the
Newton reference alone (what the fast table path replaced). Writes
bench-results/bench_inverse.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import relukit.torch.functional as RF
from relukit.torch.inverse import (
    MINIMA,
    branch_bits,
    derivative_from_output,
    reference_derivative,
)

FUNCS = {  # key: (name, approximate, torch function)
    "gelu": ("gelu", "none", lambda x: F.gelu(x)),
    "gelu_tanh": ("gelu", "tanh", lambda x: F.gelu(x, approximate="tanh")),
    "silu": ("silu", "none", F.silu),
    "mish": ("mish", "none", F.mish),
}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
BOUNDS = {torch.float32: (1e-4, 2e-6), torch.bfloat16: (2e-2, 5e-3),
          torch.float16: (1e-2, 1.5e-3)}


def inputs(key: str, dtype: torch.dtype, samples: int, grid: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, generator=g, dtype=torch.float64) * 2.0
    xm = MINIMA[key][0]
    dense = xm + torch.linspace(-0.5, 0.5, grid, dtype=torch.float64)
    return torch.cat([x, dense]).to(dtype)


def exact_grad(fn, x: torch.Tensor) -> torch.Tensor:
    xd = x.to(torch.float64).requires_grad_(True)
    (g,) = torch.autograd.grad(fn(xd).sum(), xd)
    return g


def errors(got: torch.Tensor, ref: torch.Tensor) -> tuple[float, float]:
    err = got.to(torch.float64) - ref
    return err.abs().max().item(), (err.norm() / ref.norm()).item()


def measure(key: str, dtype: torch.dtype, samples: int, grid: int, seed: int = 0):
    """(max abs, rel L2) of the recovered f' from torch's forward y, from y = f(x) rounded
    once (float64 f), and of torch's own gradient in dtype."""
    name, approximate, fn = FUNCS[key]
    x = inputs(key, dtype, samples, grid, seed)
    ref = exact_grad(fn, x)
    bits = branch_bits(x, name, approximate)
    with torch.no_grad():
        y = fn(x)
        y_rounded = fn(x.double()).to(dtype)
    d = derivative_from_output(y, bits, name, approximate)
    d_rounded = derivative_from_output(y_rounded, bits, name, approximate)
    xt = x.clone().requires_grad_(True)
    (gt,) = torch.autograd.grad(fn(xt).sum(), xt)
    return errors(d, ref), errors(d_rounded, ref), errors(gt, ref)


LEAN = {
    "gelu": lambda x: RF.gelu(x, saves="output"),
    "gelu_tanh": lambda x: RF.gelu(x, approximate="tanh", saves="output"),
    "silu": lambda x: RF.silu(x, saves="output"),
    "mish": lambda x: RF.mish(x, saves="output"),
}


def _fwd_bwd(fn, x, grad) -> float:
    xr = x.detach().requires_grad_(True)
    start = time.perf_counter()
    fn(xr).backward(grad)
    return time.perf_counter() - start


def _once(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def timing(numel: int = 1 << 20, reps: int = 15) -> list[dict]:
    """Medians (ms) of fwd+bwd with torch's op and with saves="output", alternating; and of
    f' alone from the table and from the Newton reference."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(numel, generator=gen) * 2.0
    grad = torch.randn(numel, generator=gen)
    rows = []
    for key, (name, approximate, fn) in FUNCS.items():
        lean = LEAN[key]
        y, bits = fn(x), branch_bits(x, name, approximate)
        runs: dict[str, list[float]] = {"torch": [], "output": [], "table": [], "newton": []}
        for warm in (True, False):
            for _ in range(1 if warm else reps):
                t = {"torch": _fwd_bwd(fn, x, grad), "output": _fwd_bwd(lean, x, grad),
                     "table": _once(derivative_from_output, y, bits, name, approximate),
                     "newton": _once(reference_derivative, y, bits, name, approximate)}
                if not warm:
                    for k, v in t.items():
                        runs[k].append(v)
        med = {k: 1e3 * statistics.median(v) for k, v in runs.items()}
        rows.append({"function": key, "numel": numel, "reps": reps,
                     "torch_fwd_bwd_ms": med["torch"], "output_fwd_bwd_ms": med["output"],
                     "ratio": med["output"] / med["torch"], "table_ms": med["table"],
                     "newton_ms": med["newton"]})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1_000_000)
    ap.add_argument("--grid", type=int, default=200_001)
    ap.add_argument("--no-time", action="store_true", help="accuracy only")
    ap.add_argument("--out", type=Path, default=Path("bench-results"))
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for the timing (default 1: on a shared machine, "
                         "OpenMP stragglers dominate multi-threaded medians)")
    args = ap.parse_args(argv)
    print(f"x ~ N(0, 4), {args.samples} samples + {args.grid}-point grid on x* +- 0.5")
    print("f' from torch's forward output | from the output rounded once | torch's own "
          "gradient in that dtype")
    print(f"{'function':<10} {'dtype':<9} {'max abs':>9} {'rel L2':>9} | {'max abs':>9} "
          f"{'rel L2':>9} | {'bounds':>15} | {'torch max':>9} {'torch relL2':>11}")
    accuracy = []
    for key in FUNCS:
        for dname, dtype in DTYPES.items():
            (m, r), (mr, rr), (tm, tr) = measure(key, dtype, args.samples, args.grid)
            bm, br = BOUNDS[dtype]
            # float32: torch's forward is up to ~3 units in the last place off near x*, which
            # moves the f' it determines by up to ~1.3e-4; the issue's 1e-4 is for a correctly
            # rounded output (tests/torch/test_torch_inverse.py holds both)
            ok = mr <= bm and rr <= br and r <= br and m <= (
                1.5e-4 if dtype == torch.float32 else bm)
            accuracy.append({"function": key, "dtype": dname, "max_abs": m, "rel_l2": r,
                             "max_abs_rounded_once": mr, "rel_l2_rounded_once": rr,
                             "bound_max_abs": bm, "bound_rel_l2": br, "torch_max_abs": tm,
                             "torch_rel_l2": tr, "within_bounds": ok})
            print(f"{key:<10} {dname:<9} {m:9.2e} {r:9.2e} | {mr:9.2e} {rr:9.2e} | "
                  f"{bm:7.1e} {br:7.1e} | {tm:9.2e} {tr:11.2e}{'' if ok else '  FAIL'}")
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        rows = [] if args.no_time else timing()
    finally:
        torch.set_num_threads(threads)
    if rows:
        print(f"\nfwd+bwd, CPU float32, {rows[0]['numel']} elements, median of "
              f"{rows[0]['reps']} (torch threads: {args.threads})")
        print(f"{'function':<10} {'torch ms':>9} {'output ms':>10} {'ratio':>6} | "
              f"{'f table ms':>10} {'f newton ms':>11}")
        for r in rows:
            print(f"{r['function']:<10} {r['torch_fwd_bwd_ms']:9.2f} {r['output_fwd_bwd_ms']:10.2f}"
                  f" {r['ratio']:6.2f} | {r['table_ms']:10.2f} {r['newton_ms']:11.2f}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_inverse.json").write_text(json.dumps(
        {"benchmark": "bench_inverse", "torch": torch.__version__,
         "threads": args.threads, "accuracy": accuracy, "timing": rows}, indent=2))
    return 0 if all(r["within_bounds"] for r in accuracy) else 1


if __name__ == "__main__":
    sys.exit(main())
