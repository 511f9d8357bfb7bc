"""Accuracy (and speed) of relukit.torch.inverse: f' recovered from the output y = f(x) and the
branch bit, against float64 exact f', next to torch's own gradient in the same dtype.

Inputs: x ~ N(0, 4) (std 2) plus a dense grid around the minimum x*, rounded to the tested
dtype; y = torch's own forward in that dtype; the reference is torch's float64 autograd at the
same (rounded) x. Relative L2 = ||err||_2 / ||f'_exact||_2.

    python benchmarks/bench_inverse.py [--samples 1000000] [--grid 200001] [--time]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from relukit.torch.inverse import MINIMA, branch_bits, derivative_from_output

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
    """(max abs, rel L2) of the recovered f' and of torch's own gradient in dtype."""
    name, approximate, fn = FUNCS[key]
    x = inputs(key, dtype, samples, grid, seed)
    ref = exact_grad(fn, x)
    with torch.no_grad():
        y = fn(x)
    d = derivative_from_output(y, branch_bits(x, name, approximate), name, approximate)
    xt = x.clone().requires_grad_(True)
    (gt,) = torch.autograd.grad(fn(xt).sum(), xt)
    return errors(d, ref), errors(gt, ref)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=1_000_000)
    ap.add_argument("--grid", type=int, default=200_001)
    ap.add_argument("--time", action="store_true", help="also time the inverse vs torch's op")
    args = ap.parse_args()
    print(f"x ~ N(0, 4), {args.samples} samples + {args.grid}-point grid on x* +- 0.5")
    print(f"{'function':<10} {'dtype':<9} {'max abs':>9} {'bound':>7} {'rel L2':>9} {'bound':>7}"
          f" | {'torch max':>9} {'torch relL2':>11}")
    for key in FUNCS:
        for dname, dtype in DTYPES.items():
            (m, r), (tm, tr) = measure(key, dtype, args.samples, args.grid)
            bm, br = BOUNDS[dtype]
            flag = "" if m <= bm and r <= br else "  FAIL"
            print(f"{key:<10} {dname:<9} {m:9.2e} {bm:7.1e} {r:9.2e} {br:7.1e} | "
                  f"{tm:9.2e} {tr:11.2e}{flag}")
    if args.time:
        n = 1 << 22
        for key, (name, approximate, fn) in FUNCS.items():
            for dname, dtype in DTYPES.items():
                x = (torch.randn(n) * 2).to(dtype)
                y, bits = fn(x), branch_bits(x, name, approximate)
                t0 = time.perf_counter()
                derivative_from_output(y, bits, name, approximate)
                t1 = time.perf_counter()
                xt = x.clone().requires_grad_(True)
                out = fn(xt)
                t2 = time.perf_counter()
                out.backward(torch.ones_like(out))
                t3 = time.perf_counter()
                print(f"time {key:<10} {dname:<9} inverse {1e3 * (t1 - t0):7.1f} ms, "
                      f"torch backward {1e3 * (t3 - t2):6.1f} ms ({n} elements)")


if __name__ == "__main__":
    main()
