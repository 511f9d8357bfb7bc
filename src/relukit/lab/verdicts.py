"""Verdicts: one per textbook claim, computed from a section's typed results.

Each section's ``verdicts()`` returns ``Verdict`` objects; the statuses are the constants
below. A verdict always carries the seeds and the numbers it was decided on, and the id of the
plot that shows them (the page links to it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

SUPPORTED = "supported"
PARTLY = "partly supported"
NOT_SUPPORTED = "not supported"
TIE = "tie"  #: the compared numbers do not differ beyond the stated margin
INCONCLUSIVE = "inconclusive"  #: a threshold within the margin of the measured mean
NOT_MEASURED = "not measured"
AGREES, DISAGREES = "agrees", "disagrees"  #: a published result reproduced (or not)

STATUSES = (SUPPORTED, PARTLY, NOT_SUPPORTED, TIE, INCONCLUSIVE, NOT_MEASURED, AGREES,
            DISAGREES)


@dataclass(frozen=True)
class Verdict:
    id: str
    claim: str
    verdict: str
    sentence: str
    seeds: int = 0
    numbers: dict = field(default_factory=dict)
    plot: str = ""  #: id of the figure that shows it ("" when none)

    def __post_init__(self):
        if self.verdict not in STATUSES:
            raise ValueError(f"unknown verdict {self.verdict!r}")

    @property
    def status(self) -> str:  # the old name
        return self.verdict

    def to_dict(self) -> dict:
        return asdict(self)


def not_measured(id: str, claim: str, why: str, plot: str = "") -> Verdict:
    return Verdict(id, claim, NOT_MEASURED, why, plot=plot)


def combine(outcomes: list[bool | None]) -> str:
    """Supported when every case holds, partly when some do, tie when none holds and none
    contradicts (None = a tie), not supported otherwise."""
    if outcomes and all(o is True for o in outcomes):
        return SUPPORTED
    if any(o is True for o in outcomes):
        return PARTLY
    if outcomes and all(o is None for o in outcomes):
        return TIE
    return NOT_SUPPORTED
