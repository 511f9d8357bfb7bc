import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from relukit.cli import catalogue_markdown

README = Path(__file__).resolve().parents[1] / "README.md"

#: Every fenced Python block of the README (```python, ```py, ```python3), with its line.
_FENCE = re.compile(r"^```[ \t]*(python3?|py)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def python_blocks(text: str) -> list[tuple[int, str]]:
    return [(text.count("\n", 0, m.start()) + 1, m.group(2)) for m in _FENCE.finditer(text)]


_BLOCKS = python_blocks(README.read_text())

#: Modules a block may import that come from an optional extra: the block is skipped, with the
#: reason, where the extra is not installed (with the extras installed, every block runs).
_OPTIONAL = {"torch": "torch", "matplotlib": "lab", "sklearn": "lab", "transformers": "dev",
             "lightning": "dev", "triton": "dev", "onnx": "dev", "onnxruntime": "dev"}


def _imports(code: str) -> set[str]:
    found = re.findall(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", code, re.M)
    found += re.findall(r"^\s*import\s+[\w.]+\s*,\s*([A-Za-z_]\w*)", code, re.M)
    return set(found)


def test_readme_catalogue_table_matches_the_catalogue():
    text = README.read_text()
    start = text.index("<!-- catalogue:start -->") + len("<!-- catalogue:start -->")
    end = text.index("<!-- catalogue:end -->")
    assert text[start:end].strip() == catalogue_markdown()


def test_readme_starts_with_the_two_commands():
    head = README.read_text()[:400]
    assert "make demo" in head and "make test" in head


def test_the_fence_finder_sees_every_python_block():
    """Every ``` fence that names python is one of the blocks the test below runs."""
    text = README.read_text()
    fences = re.findall(r"^```[ \t]*(?:python3?|py)[ \t]*$", text, re.M)
    assert len(fences) == len(_BLOCKS) >= 1


def test_readme_install_lines_work_from_a_checkout():
    """relukit is not on a package index: the README installs from the checkout."""
    text = README.read_text()
    assert "pip install relukit" not in text
    assert "pip install '.[lab]'" in text and "pip install '.[torch]'" in text


@pytest.mark.parametrize("line,code", _BLOCKS, ids=[f"README.md:{line}" for line, _ in _BLOCKS])
def test_readme_python_block_runs_as_written(line, code, tmp_path):
    """Each block runs on its own, in a fresh interpreter and an empty folder, as a reader
    would paste it: no NameError from a name defined elsewhere, no missing import."""
    for module in sorted(_imports(code)):
        extra = _OPTIONAL.get(module)
        if extra and importlib.util.find_spec(module) is None:
            pytest.skip(f"README.md:{line} imports {module}: install '.[{extra}]' to run it")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    script = tmp_path / f"readme_{line}.py"
    script.write_text(code)
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"README.md:{line} failed:\n{r.stderr[-3000:]}"


def test_readme_images_exist():
    """Every image the README shows is committed (the lab's plots are regenerated into docs/)."""
    root = README.parent
    paths = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", README.read_text())
    assert paths
    for p in paths:
        assert (root / p).is_file(), p
