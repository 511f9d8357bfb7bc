"""The statistics behind every verdict: mean, spread and standard error over seeds, and a
comparison that calls two numbers different only beyond a stated margin.

The rule (one place, so the page can quote it): two means differ when their difference exceeds
``max(SE_FACTOR x the standard error of the difference, the claim's absolute margin)``;
otherwise they are a tie.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

#: Standard errors of the difference a verdict needs before it calls two means different.
SE_FACTOR = 2.0

HIGHER, LOWER, TIE = "higher", "lower", "tie"


@dataclass(frozen=True)
class Summary:
    """Mean over seeds, with the sample standard deviation and the standard error."""

    mean: float
    std: float
    se: float
    n: int
    lo: float
    hi: float

    def text(self, fmt: str = ".3f") -> str:
        if self.n < 2:
            return format(self.mean, fmt)
        return f"{self.mean:{fmt}} ± {self.std:{fmt}}"

    def to_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std, "se": self.se, "n": self.n,
                "min": self.lo, "max": self.hi}


def summarise(values: Sequence[float]) -> Summary:
    vals = [float(v) for v in values]
    if not vals:
        return Summary(math.nan, math.nan, math.nan, 0, math.nan, math.nan)
    mean = statistics.fmean(vals)
    std = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return Summary(mean, std, std / math.sqrt(len(vals)), len(vals), min(vals), max(vals))


@dataclass(frozen=True)
class Comparison:
    """``a`` against ``b``: the difference a - b, the margin it had to clear, the outcome."""

    difference: float
    margin: float
    outcome: str  # HIGHER, LOWER or TIE

    def to_dict(self) -> dict:
        return {"difference": self.difference, "margin": self.margin, "outcome": self.outcome}


def compare(a: Summary, b: Summary, abs_margin: float) -> Comparison:
    """Is ``a``'s mean higher than, lower than or tied with ``b``'s, beyond the margin?"""
    diff = a.mean - b.mean
    se = math.sqrt(a.se ** 2 + b.se ** 2)
    margin = max(SE_FACTOR * se, abs_margin)
    if math.isnan(diff):
        return Comparison(diff, margin, TIE)
    outcome = HIGHER if diff > margin else LOWER if diff < -margin else TIE
    return Comparison(diff, margin, outcome)


def above(a: Summary, threshold: float) -> str:
    """HIGHER when the mean is above ``threshold`` by SE_FACTOR standard errors, LOWER when
    below by as much, TIE (inconclusive) otherwise."""
    if a.mean - SE_FACTOR * a.se >= threshold:
        return HIGHER
    if a.mean + SE_FACTOR * a.se < threshold:
        return LOWER
    return TIE


def last_mean(values: Sequence[float], k: int = 3) -> float:
    """Mean of the last ``k`` values (a run's last epochs): one noisy epoch cannot decide."""
    tail = list(values)[-k:]
    return statistics.fmean(tail) if tail else math.nan


def mean_curve(rows: Sequence[Sequence[float]]) -> tuple[list[float], list[float]]:
    """Element-wise mean and standard deviation of equal-length rows."""
    if not rows:
        return [], []
    cols = list(zip(*rows, strict=True))
    return ([statistics.fmean(c) for c in cols],
            [statistics.stdev(c) if len(c) > 1 else 0.0 for c in cols])
