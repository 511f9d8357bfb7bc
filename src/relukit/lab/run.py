"""``relukit lab``: run the experiments, write the report atomically, print a summary."""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def _atomic_dir(out: Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; on success it replaces ``out``.

    An interrupted or failed run removes its temporary folder and leaves the previous report
    untouched.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out.exists():
        if not out.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
            raise ValueError(f"--out: {out} exists and is not a folder")
        old = out.with_name(f".{out.name}.old-{tmp.name.rsplit('-', 1)[-1]}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run_experiments(cfg: LabConfig, device: torch.device, progress: _Progress) -> dict:
    data = digits(device=device)
    results: dict = {}
    n = len(cfg.activations)
    with progress.task("Gradient flow", n) as advance:
        results["gradient_flow"] = experiments.gradient_flow(cfg, data, advance)
    with progress.task("Convergence", n * cfg.seeds * cfg.epochs) as advance:
        results["convergence"] = experiments.convergence(cfg, data, advance)
    with progress.task("Dying ReLU", experiments.dying_steps(cfg)) as advance:
        results["dying"] = experiments.dying(cfg, data, advance)
    with progress.task("Memory", n) as advance:
        try:
            results["memory"] = experiments.memory(cfg, data, advance)
        except ImportError as err:
            results["memory_error"] = str(err)
    return results


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
    names = tuple(catalogue.get(a).name for a in activations) if activations else None
    cfg = config or LabConfig.preset(quick, activations=names, seeds=seeds)
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
