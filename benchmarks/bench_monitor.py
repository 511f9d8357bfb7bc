"""Overhead of ``ActivationMonitor`` on a training step (target: ratio <= 1.10).

A 6x512 ReLU MLP (6 hidden Linear(512, 512) + ReLU, a Linear(512, 10) head), batch 256,
cross-entropy, Adam, on the CPU. Each configuration trains its own copy of the same model;
configurations are timed in turn, round after round, so that a drifting machine load hits
them alike. The ratio of a configuration is the median over rounds of its step time divided
by the unmonitored step time of the same round (paired, so load drift cancels); medians of
step times are reported too. Writes bench-results/monitor.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

from relukit.diagnostics import ActivationMonitor

TARGET = 1.10


def _model(width: int, depth: int) -> nn.Module:
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, 10))


class _Run:
    """One configuration: its model, optimizer and (maybe) monitor."""

    def __init__(self, name: str, base: nn.Module, monitor_kwargs: dict | None):
        self.name = name
        self.model = copy.deepcopy(base)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-4)
        self.monitor = None
        if monitor_kwargs is not None:
            kwargs = dict(monitor_kwargs)
            if kwargs.pop("with_optimizer", False):
                kwargs["optimizer"] = self.opt
            self.monitor = ActivationMonitor(self.model, **kwargs)
        self.times: list[float] = []

    def steps(self, x, y, n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            self.opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(self.model(x), y).backward()
            self.opt.step()
            if self.monitor is not None:
                self.monitor.step()
        return (time.perf_counter() - start) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: steadier on a shared machine)")
    parser.add_argument("--out", default="bench-results/monitor.json")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    base = _model(args.width, args.depth)
    x = torch.randn(args.batch, args.width)
    y = torch.randint(0, 10, (args.batch,))
    runs = [
        _Run("no monitor", base, None),
        _Run("monitor, window 100", base, {"window": 100}),
        _Run("monitor + optimizer, window 100", base, {"window": 100, "with_optimizer": True}),
        _Run("monitor + optimizer, window 1", base, {"window": 1, "with_optimizer": True}),
    ]
    for run in runs:  # warm-up: allocator, first-forward tracing, Adam state
        run.steps(x, y, 3)
    for _ in range(args.rounds):
        for run in runs:
            run.times.append(run.steps(x, y, args.steps))
    results = []
    print(f"{'configuration':<34} {'median step':>12} {'ratio':>7}")
    for run in runs:
        med = statistics.median(run.times)
        ratio = statistics.median(t / b for t, b in zip(run.times, runs[0].times, strict=True))
        results.append({"configuration": run.name, "median_step_s": med, "ratio": ratio,
                        "step_times_s": run.times})
        print(f"{run.name:<34} {1e3 * med:>9.2f} ms {ratio:>7.3f}")
        if run.monitor is not None:
            run.monitor.close()
    headline = results[2]["ratio"]
    print(f"overhead ratio (monitor + optimizer, window 100): {headline:.3f} "
          f"(target <= {TARGET})")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "benchmark": "monitor", "model": f"{args.depth}x{args.width} ReLU MLP + Linear head",
        "batch": args.batch, "device": "cpu", "threads": args.threads,
        "steps_per_round": args.steps, "rounds": args.rounds, "target_ratio": TARGET,
        "ratio": headline, "meets_target": headline <= TARGET, "results": results,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
