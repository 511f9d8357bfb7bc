"""The output folder's safety, shared by ``relukit lab`` and ``relukit atlas``: refuse a
target that is not ours, write into a temporary folder that replaces it only on success, and
lock it against a second run."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: Written into every report folder: only a folder holding it may be replaced by a new run.
MARKER = ".relukit-report"


def check_out(out: Path | str) -> Path:
    """Resolve ``--out`` and refuse, before any work, a target the run must not replace."""
    path = Path(out).expanduser().resolve()
    if path.parent == path:
        raise ValueError(f"--out: {path} is a filesystem root")
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out: {path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not (path / MARKER).exists():
        raise ValueError(
            f"--out: {path} is a non-empty folder that is not a relukit report (no {MARKER} "
            "file); the lab replaces its output folder as a whole, so give a new or empty "
            "folder, or a previous report")
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


LOCK_SUFFIX = ".lock"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def out_lock(out: Path) -> Iterator[Path]:
    """A lock file beside ``out``: a second lab writing into the same folder is refused while
    the first runs. A lock left by a process that no longer exists is taken over."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = out.with_name(f".{out.name}{LOCK_SUFFIX}")
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and _pid_alive(pid):
                raise RuntimeError(f"--out: another relukit run (pid {pid}) is writing to "
                                   f"{out}; wait for it or choose another --out "
                                   f"(lock file {lock})") from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()}\n")
        break
    else:  # pragma: no cover - a race lost twice
        raise RuntimeError(f"--out: could not take the lock {lock}")
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)


