"""``relukit lab``: run the experiments, write the report atomically, print a summary."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from .. import catalogue
from . import experiments, report
from .data import digits
from .experiments import LabConfig
from .models import lab_activations
from .plots import atlas
from .verdicts import all_verdicts


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


#: Written into every report folder: only a folder holding it may be replaced by a new run.
MARKER = ".relukit-report"


def check_out(out: Path | str) -> Path:
    """Resolve ``--out`` and refuse, before any work, a target the run must not replace."""
    path = Path(out).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out: {path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not (path / MARKER).exists():
        raise ValueError(
            f"--out: {path} is a non-empty folder that is not a relukit report (no {MARKER} "
            "file); the lab replaces its output folder as a whole, so give a new or empty "
            "folder, or a previous report")
    if path.parent == path:
        raise ValueError(f"--out: {path} is a filesystem root")
    return path


@contextlib.contextmanager
def _atomic_dir(out: Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; on success it replaces ``out``.

    An interrupted or failed run removes its temporary folder and leaves the previous report
    untouched; a failed swap puts the previous report back.
    """
    out = check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes it 0700; a report is for others to read
        (tmp / MARKER).write_text("written by relukit lab; this folder is replaced by the next "
                                  "run\n")
        yield tmp
        old = out.with_name(f".{out.name}.old-{tmp.name.rsplit('-', 1)[-1]}")
        if out.exists():
            out.rename(old)
        try:
            tmp.rename(out)
        except BaseException:
            if old.exists():
                old.rename(out)
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def run_experiments(cfg: LabConfig, device: torch.device, progress: _Progress) -> dict:
    data = digits(device=device)
    results: dict = {}
    n = len(cfg.activations)
    with progress.task("Gradient flow", n) as advance:
        results["gradient_flow"] = experiments.gradient_flow(cfg, data, advance)
    with progress.task("Convergence", n * cfg.seeds * cfg.epochs) as advance:
        results["convergence"] = experiments.convergence(cfg, data, advance)
    if experiments.dying_steps(cfg):
        with progress.task("Dying ReLU", experiments.dying_steps(cfg)) as advance:
            results["dying"] = experiments.dying(cfg, data, advance)
    with progress.task("Memory", n) as advance:
        try:
            results["memory"] = experiments.memory(cfg, data, advance)
        except ImportError as err:
            results["memory_error"] = str(err)
    return results


def _check_activations(names: Sequence[str]) -> tuple[str, ...]:
    """Catalogue names, each once, that the lab's MLPs can use (crelu doubles the width)."""
    resolved = tuple(dict.fromkeys(catalogue.get(a).name for a in names))
    usable = lab_activations()
    bad = [a for a in resolved if a not in usable]
    if bad:
        raise ValueError(f"--activations: the lab cannot train {', '.join(bad)} (it changes the "
                         f"layer width); valid: {', '.join(usable)}")
    return resolved


def run_lab(
    out: Path | str = "lab-report",
    *,
    quick: bool = False,
    activations: Sequence[str] | None = None,
    seeds: int | None = None,
    device: str = "auto",
    config: LabConfig | None = None,
    show_progress: bool = True,
) -> Path:
    """Run every experiment and write the report folder; returns the path of index.html."""
    dev = resolve_device(device)
    if seeds is not None and seeds < 1:
        raise ValueError(f"--seeds: must be >= 1, got {seeds}")
    names = _check_activations(activations) if activations else None
    cfg = config or LabConfig.preset(quick, activations=names, seeds=seeds)
    check_out(out)
    start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small models: one thread is faster here and reproducible
    try:
        with _Progress(show_progress) as progress, _atomic_dir(Path(out)) as tmp:
            figs: dict = {}
            with progress.task("Atlas", len(cfg.activations) + 1) as advance:
                figs["atlas"] = atlas(tmp, cfg.activations, progress=advance)
            results = run_experiments(cfg, dev, progress)
            results.update(config=cfg.to_dict(), quick=quick, device=str(dev),
                           torch_version=torch.__version__)
            verdicts = all_verdicts(results)
            figs.update(report.make_plots(results, tmp))
            results["seconds"] = time.perf_counter() - start
            report.write_csvs(results, tmp)
            report.write_json(results, verdicts, tmp)
            report.write_html(results, verdicts, figs, tmp)
    finally:
        torch.set_num_threads(threads)
    if show_progress:
        print_summary(results, verdicts)
    return Path(out) / "index.html"


def print_summary(results: dict, verdicts) -> None:
    rows = [(v.status, v.claim, v.sentence) for v in verdicts]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        for status, claim, sentence in rows:
            print(f"[{status}] {claim}\n    {sentence}")
        return
    colour = {"supported": "green", "partly supported": "yellow"}
    table = Table(title=f"relukit lab — {results['seconds']:.0f} s", show_lines=True)
    table.add_column("verdict")
    table.add_column("claim")
    table.add_column("numbers behind it")
    for status, claim, sentence in rows:
        table.add_row(f"[{colour.get(status, 'red')}]{status}[/]", claim, sentence)
    Console().print(table)
