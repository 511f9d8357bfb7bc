"""``relukit lab``: run the experiments, write the report atomically, print a summary."""

from __future__ import annotations

import contextlib
import csv
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from .. import __version__, catalogue
from .config import LabConfig
from .data import digits
from .models import lab_activations
from .outdir import MARKER, _atomic_dir, check_out, out_lock  # noqa: F401 (re-exported)
from .page import write_page
from .section import Context
from .verdicts import Verdict


def resolve_device(device: str) -> torch.device:
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"--device: unknown device {device!r}; valid: auto, cpu, cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: CUDA is not available on this machine "
                           f"(torch {torch.__version__}); use --device cpu or auto")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class _Progress:
    """One progress bar per experiment (rich when installed, plain lines otherwise)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._rich = None

    def __enter__(self):
        if self.enabled:
            try:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
                self._rich = Progress("[progress.description]{task.description}", BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn())
                self._rich.__enter__()
            except ImportError:
                self._rich = None
        return self

    def __exit__(self, *exc):
        if self._rich is not None:
            self._rich.__exit__(*exc)

    @contextlib.contextmanager
    def task(self, name: str, total: int) -> Iterator:
        if self._rich is not None:
            tid = self._rich.add_task(name, total=total)
            yield lambda: self._rich.advance(tid)
            return
        if self.enabled:
            print(f"{name} ...", flush=True)
        yield lambda: None


def _sections(cfg: LabConfig):
    from .sections import SECTIONS

    return [s for s in SECTIONS if s.enabled(cfg)]


def run_sections(cfg: LabConfig, device: torch.device, progress: _Progress) -> dict:
    """Run every enabled section in order; returns {section id: typed result}."""
    ctx = Context(cfg, digits(device=device), device)
    for sec in _sections(cfg):
        missing = [n for n in sec.needs if n not in ctx.results]
        if missing:
            continue
        with progress.task(sec.title, sec.steps(cfg)) as advance:
            ctx.results[sec.id] = sec.run(ctx, advance)
    return ctx.results


def _check_activations(names: Sequence[str]) -> tuple[str, ...]:
    """Catalogue names, each once, that the lab's MLPs can use (crelu doubles the width)."""
    if not names:
        raise ValueError("--activations: give at least one name; valid: "
                         + ", ".join(lab_activations()))
    resolved = tuple(dict.fromkeys(catalogue.get(a).name for a in names))
    usable = lab_activations()
    bad = [a for a in resolved if a not in usable]
    if bad:
        raise ValueError(f"--activations: the lab cannot train {', '.join(bad)} (it changes the "
                         f"layer width); valid: {', '.join(usable)}")
    return resolved


def _write_csv(path: Path, header, rows) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _jsonable(x):
    if isinstance(x, float) and x != x:
        return None
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def write_outputs(cfg: LabConfig, results: dict, out: Path, meta: dict) -> list[Verdict]:
    """Plots, CSVs, results.json and index.html for the sections that ran."""
    sections, verdicts, page = [], [], []
    for sec in _sections(cfg):
        if sec.id not in results:
            continue
        r = results[sec.id]
        figs = sec.figures(r, out)
        vs = sec.verdicts(r)
        verdicts += vs
        page.append((sec, r, figs, vs))
        table = sec.csv(r)
        if table is not None:
            _write_csv(out / f"{sec.id}.csv", table.header, table.rows)
        sections.append(sec)
    doc = {**meta, "config": cfg.to_dict(), "sections": [s.id for s in sections],
           **{s.id: s.json(results[s.id]) for s in sections},
           "verdicts": [v.to_dict() for v in verdicts]}
    (out / "results.json").write_text(json.dumps(_jsonable(doc), indent=1))
    sub = (f"relukit {__version__}, torch {meta['torch_version']} on {meta['device']}; "
           f"{cfg.seeds} seeds; {'--quick' if meta['quick'] else 'full run'}; "
           f"{meta['seconds']:.0f} s. The raw numbers are in results.json and the CSVs "
           "beside this page.")
    write_page(out / "index.html", title="relukit lab: what ReLU does, measured",
               subtitle=html_escape(sub), sections=page, verdicts=verdicts)
    return verdicts


def html_escape(s: str) -> str:
    import html

    return html.escape(s)


def run_lab(
    out: Path | str = "lab-report",
    *,
    quick: bool = False,
    activations: Sequence[str] | None = None,
    seeds: int | None = None,
    device: str = "auto",
    config: LabConfig | None = None,
    show_progress: bool = True,
    **overrides,
) -> Path:
    """Run every section and write the report folder; returns the path of index.html.

    ``overrides``: LabConfig fields (lr grid, epochs, depth, width, negative_bias...).
    """
    dev = resolve_device(device)
    if seeds is not None and seeds < 1:
        raise ValueError(f"--seeds: must be >= 1, got {seeds}")
    names = _check_activations(activations) if activations is not None else None
    cfg = config or LabConfig.preset(quick, activations=names, seeds=seeds, **overrides)
    path = check_out(out)
    start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small models: one thread is faster here and reproducible
    try:
        with out_lock(path), _Progress(show_progress) as progress, _atomic_dir(path) as tmp:
            results = run_sections(cfg, dev, progress)
            seconds = time.perf_counter() - start
            meta = {"quick": quick, "device": str(dev), "torch_version": torch.__version__,
                    "relukit_version": __version__, "seeds": cfg.seeds,
                    "seconds": seconds}
            verdicts = write_outputs(cfg, results, tmp, meta)
    finally:
        torch.set_num_threads(threads)
    if show_progress:
        print_summary(seconds, verdicts)
    return Path(out) / "index.html"


def print_summary(seconds: float, verdicts: Sequence[Verdict]) -> None:
    rows = [(v.verdict, v.claim, v.sentence) for v in verdicts]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        for status, claim, sentence in rows:
            print(f"[{status}] {claim}\n    {sentence}")
        return
    colour = {"supported": "green", "agrees": "green", "partly supported": "yellow",
              "tie": "white", "inconclusive": "white", "not measured": "dim"}
    table = Table(title=f"relukit lab — {seconds:.0f} s", show_lines=True)
    table.add_column("verdict")
    table.add_column("claim")
    table.add_column("numbers behind it")
    for status, claim, sentence in rows:
        table.add_row(f"[{colour.get(status, 'red')}]{status}[/]", claim, sentence)
    Console().print(table)
