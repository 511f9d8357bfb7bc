"""`import relukit` needs NumPy only; a missing extra names the extra to install."""

import subprocess
import sys


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


def test_import_relukit_loads_neither_torch_nor_matplotlib():
    r = _run("import sys, relukit; relukit.gelu([1.0]); "
             "print(sorted(m for m in ('torch', 'matplotlib', 'sklearn', 'scipy') "
             "if m in sys.modules))")
    assert r.returncode == 0, r.stderr
    # scipy is an optional accelerator for erfc only, loaded if present
    assert r.stdout.strip() in ("[]", "['scipy']")


def test_lab_without_matplotlib_names_the_lab_extra():
    r = _run("import sys; sys.modules['matplotlib'] = None; import relukit.lab")
    assert r.returncode != 0
    assert "relukit[lab]" in r.stderr
