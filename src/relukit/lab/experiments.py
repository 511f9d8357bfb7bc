"""Compatibility names for code written against the lab's first layout (e.g.
benchmarks/bench_revive.py). The experiments now live in ``relukit.lab.sections``."""

from .config import DEFAULT_ACTIVATIONS, DYING_ACTIVATIONS, LabConfig
from .training import train_epoch as _train_epoch

__all__ = ["DEFAULT_ACTIVATIONS", "DYING_ACTIVATIONS", "LabConfig", "_train_epoch"]
