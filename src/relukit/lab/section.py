"""A lab section: one experiment with its run, typed results, CSV rows, plots, verdicts and
the text of its part of the page. The page is a loop over ``sections.SECTIONS``.

To add a section: subclass ``Section`` in a module of ``relukit.lab.sections``, give it an
``id``, a ``title``, ``shows`` and ``look_for`` texts, implement ``run`` (and whichever of
``csv``, ``figures``, ``verdicts``, ``html`` it needs), and append it to ``SECTIONS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .config import LabConfig
from .data import Split
from .verdicts import Verdict

Advance = Callable[[], None]


@dataclass
class Context:
    """What a section's run gets: settings, data, device and the results of earlier sections."""

    cfg: LabConfig
    data: Split
    device: torch.device
    results: dict[str, Any] = field(default_factory=dict)  # section id -> typed result


@dataclass
class Figure:
    """One plot: a PNG always (the static and printed version), optionally an interactive
    Plotly figure (``plotly``: {"data": [...], "layout": {...}}) shown instead on screen."""

    id: str
    path: Path
    caption: str
    plotly: dict | None = None


@dataclass
class Table:
    header: list[str]
    rows: list[list]
    caption: str = ""


class Section:
    id: str = ""
    title: str = ""
    shows: str = ""  #: what this section shows (HTML allowed)
    look_for: str = ""  #: what to look for in it (HTML allowed)
    needs: tuple[str, ...] = ()  #: ids of sections whose results ``run`` reads

    def enabled(self, cfg: LabConfig) -> bool:
        return True

    def steps(self, cfg: LabConfig) -> int:
        """How many times ``run`` calls ``advance`` (the progress bar's total)."""
        return 1

    def run(self, ctx: Context, advance: Advance) -> Any:
        raise NotImplementedError

    def csv(self, result: Any) -> Table | None:
        return None

    def figures(self, result: Any, out: Path) -> list[Figure]:
        return []

    def tables(self, result: Any) -> list[Table]:
        return []

    def verdicts(self, result: Any) -> list[Verdict]:
        return []

    def html(self, result: Any) -> str:
        """Extra HTML after the figures and tables (e.g. an interactive explorer)."""
        return ""

    def json(self, result: Any) -> Any:
        """What results.json holds under this section's id."""
        from dataclasses import asdict, is_dataclass

        return asdict(result) if is_dataclass(result) and not isinstance(result, type) \
            else result
