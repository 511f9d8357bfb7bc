"""Throughput of the NumPy catalogue next to the memory-bandwidth ceiling and torch CPU.

For each activation, the value and the derivative on N float32 elements (default 16M, 64 MiB):

- ours: ``act(x, out=o)`` and ``act.derivative(x, out=o)`` into a preallocated, already
  touched buffer (the same conditions as the copy ceiling), and ``act(x)`` allocating;
- copy: ``np.copyto(o, x)``, the memory-bandwidth ceiling of one thread; also ``np.maximum``;
- torch CPU with 1 thread and with all threads: ``torch.nn.functional`` (allocating, as users
  call it) and the aten backward op of each function (``threshold_backward``,
  ``gelu_backward``...), which computes ``grad * f'(x)``: it reads two arrays, ours one.

GB/s = (bytes read + bytes written) / median time. The ratios compare times for the same
elements: ours/copy = copy time / our time; ours/torch-1t = torch time / our time (both
allocating for the value, ours out= vs torch's backward op for the derivative), so > 1 means
ours is faster.

Run: ``python benchmarks/bench_numpy.py [--n N] [--repeats R] [--names relu,gelu]``; the table
is printed and the numbers written to bench-results/numpy.json. ``benchmarks/run_all.py`` calls
``main(argv)``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import relukit

TARGETS = ("relu", "leaky_relu", "relu6", "hardtanh")  # >= 0.8 of copy bandwidth


def _paired(ref: Callable[[], object], fn: Callable[[], object], repeats: int):
    """Median times of ``ref`` and ``fn`` timed alternately, and the median of the per-repeat
    ratios t_ref/t_fn: on shared cores the bandwidth drifts, and a ratio of neighbours is
    steadier than a ratio of medians taken minutes apart."""
    ref()
    fn()
    tr, tf = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ref()
        t1 = time.perf_counter()
        fn()
        t2 = time.perf_counter()
        tr.append(t1 - t0)
        tf.append(t2 - t1)
    ratio = statistics.median(a / b for a, b in zip(tr, tf, strict=True))
    return statistics.median(tr), statistics.median(tf), ratio


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: page faults of first use, lazy imports, caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _torch_ops(torch, name: str, act):
    """(value fn, derivative fn) of torch for ``name`` on tensor x, or None."""
    F = torch.nn.functional
    aten = torch.ops.aten
    p = act.defaults
    if name == "relu":
        return F.relu, lambda x, g: aten.threshold_backward(g, x, 0)
    if name == "leaky_relu":
        s = p["negative_slope"]
        return (lambda x: F.leaky_relu(x, s)), lambda x, g: aten.leaky_relu_backward(g, x, s, False)
    if name == "rrelu":
        s = (p["lower"] + p["upper"]) / 2
        return (lambda x: F.rrelu(x, training=False)), (
            lambda x, g: aten.leaky_relu_backward(g, x, s, False))
    if name == "prelu":
        w = torch.tensor([p["weight"]])
        return (lambda x: F.prelu(x, w)), lambda x, g: aten._prelu_kernel_backward(g, x, w)
    if name == "relu6":
        return F.relu6, lambda x, g: aten.hardtanh_backward(g, x, 0.0, 6.0)
    if name == "hardtanh":
        lo, hi = p["min_val"], p["max_val"]
        return (lambda x: F.hardtanh(x, lo, hi)), lambda x, g: aten.hardtanh_backward(g, x, lo, hi)
    if name == "elu":
        a = p["alpha"]
        return (lambda x: F.elu(x, a)), lambda x, g: aten.elu_backward(g, a, 1, 1, False, x)
    if name == "celu":
        a = p["alpha"]
        return (lambda x: F.celu(x, a)), lambda x, g: aten.elu_backward(g, a, 1, 1 / a, False, x)
    if name == "selu":
        from relukit._numpy_impl import SELU_ALPHA, SELU_SCALE
        return F.selu, lambda x, g: aten.elu_backward(g, SELU_ALPHA, SELU_SCALE, 1, False, x)
    if name == "gelu":
        return F.gelu, lambda x, g: aten.gelu_backward(g, x)
    if name == "sigmoid":
        return torch.sigmoid, lambda x, g: aten.sigmoid_backward(g, x)  # x stands for y
    if name == "tanh":
        return torch.tanh, lambda x, g: aten.tanh_backward(g, x)
    if name == "silu":
        return F.silu, lambda x, g: aten.silu_backward(g, x)
    if name == "mish":
        return F.mish, lambda x, g: aten.mish_backward(g, x)
    if name == "softplus":
        b, t = p["beta"], p["threshold"]
        return (lambda x: F.softplus(x, b, t)), lambda x, g: aten.softplus_backward(g, x, b, t)
    return None


def run(n: int, repeats: int, names: list[str], with_torch: bool) -> dict:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(n, dtype=np.float32) * 3).astype(np.float32)
    o = np.empty_like(x)
    o.fill(0)  # touch the pages once: ours and copy then write into resident memory
    o2 = np.zeros(2 * n, np.float32)  # crelu doubles its output
    nbytes = x.nbytes
    def copy():
        np.copyto(o, x)

    copy_t, max_t, max_ratio = _paired(copy, lambda: np.maximum(x, 0, out=o), repeats)
    result = {
        "n": n, "dtype": "float32", "repeats": repeats, "statistic": "median",
        "copy": {"seconds": copy_t, "gbps": 2 * nbytes / copy_t / 1e9},
        "np_maximum": {"seconds": max_t, "gbps": 2 * nbytes / max_t / 1e9,
                       "ratio_to_copy": max_ratio},
        "rows": [],
    }
    torch = None
    if with_torch:
        try:
            import torch
        except ImportError:
            torch = None
    threads = {"1": 1, "all": os.cpu_count() or 1}
    xt = torch.from_numpy(x) if torch is not None else None
    gt = torch.ones_like(xt) if torch is not None else None
    for name in names:
        act = relukit.get(name)
        dest = o2 if name == "crelu" else o
        out_bytes = dest.nbytes
        for kind in ("value", "derivative"):
            fn = act if kind == "value" else act.derivative
            c_t, t_out, ratio = _paired(copy, lambda fn=fn, dest=dest: fn(x, out=dest), repeats)
            row = {
                "name": name, "kind": kind,
                "ours_out": {"seconds": t_out, "gbps": (nbytes + out_bytes) / t_out / 1e9},
                # crelu moves 1.5x the bytes of a copy
                "ratio_to_copy": ratio * (nbytes + out_bytes) / (2 * nbytes),
                "copy_gbps_alongside": 2 * nbytes / c_t / 1e9,
                "target": name in TARGETS and kind == "value",
            }
            if kind == "value":  # allocating, as torch.nn.functional is called
                t_alloc = _median_time(lambda fn=fn: fn(x), repeats)
                row["ours_alloc"] = {"seconds": t_alloc,
                                     "gbps": (nbytes + out_bytes) / t_alloc / 1e9}
            ops = _torch_ops(torch, name, act) if torch is not None else None
            if ops is not None:
                saved = torch.get_num_threads()
                for label, nt in threads.items():
                    torch.set_num_threads(nt)
                    if kind == "value":
                        t = _median_time(lambda f=ops[0]: f(xt), repeats)
                        tb = nbytes + out_bytes
                    else:
                        t = _median_time(lambda f=ops[1]: f(xt, gt), repeats)
                        tb = 2 * nbytes + out_bytes  # grad and x in, grad_input out
                    row[f"torch_{label}"] = {"seconds": t, "gbps": tb / t / 1e9, "threads": nt}
                torch.set_num_threads(saved)
                ours_t = t_alloc if kind == "value" else t_out
                row["ratio_to_torch_1"] = row["torch_1"]["seconds"] / ours_t
            result["rows"].append(row)
    return result


def _print_table(res: dict) -> None:
    headers = ["function", "f/f'", "ours out= GB/s", "ours/copy", "ours alloc GB/s",
               "torch 1t GB/s", "torch all GB/s", "ours/torch-1t"]
    rows = []
    for r in res["rows"]:
        t1, ta = r.get("torch_1"), r.get("torch_all")
        rows.append([
            r["name"] + (" *" if r["target"] else ""), "f" if r["kind"] == "value" else "f'",
            f"{r['ours_out']['gbps']:.2f}", f"{r['ratio_to_copy']:.2f}",
            f"{r['ours_alloc']['gbps']:.2f}" if "ours_alloc" in r else "-",
            f"{t1['gbps']:.2f}" if t1 else "-", f"{ta['gbps']:.2f}" if ta else "-",
            f"{r['ratio_to_torch_1']:.2f}" if t1 else "-",
        ])
    title = (f"relukit NumPy catalogue, {res['n']:,} float32, median of {res['repeats']}: "
             f"np.copyto {res['copy']['gbps']:.2f} GB/s, np.maximum "
             f"{res['np_maximum']['gbps']:.2f} GB/s ({res['np_maximum']['ratio_to_copy']:.2f} "
             "of copy); * = target >= 0.8 of copy")
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
        print("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
        for row in rows:
            print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        return
    table = Table(title=title)
    for h in headers:
        table.add_column(h, justify="right" if h not in ("function", "f/f'") else "left")
    for row in rows:
        table.add_row(*row)
    Console(width=140).print(table)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1 << 24, help="elements (default 16M)")
    ap.add_argument("--repeats", type=int, default=7, help="timed repeats, median (>= 5)")
    ap.add_argument("--names", default=",".join(relukit.names()),
                    help="comma-separated activations (default: all)")
    ap.add_argument("--no-torch", action="store_true", help="skip the torch columns")
    ap.add_argument("--out", default="bench-results/numpy.json")
    args = ap.parse_args(argv)
    names = [relukit.get(n).name for n in args.names.split(",") if n]
    res = run(args.n, max(args.repeats, 1), names, not args.no_torch)
    res["machine"] = {
        "cpu_count": os.cpu_count(), "platform": platform.platform(),
        "python": sys.version.split()[0], "numpy": np.__version__,
        "note": "single-threaded NumPy; cores may be shared with other processes",
    }
    try:
        import torch
        res["machine"]["torch"] = torch.__version__
    except ImportError:
        pass
    _print_table(res)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=2))
    print(f"written {path}")
    return res


if __name__ == "__main__":
    main()
