"""Compatibility suite: xfail(strict=True) for the cells listed in known_failures.py, and a
``note`` fixture that records a cell's remark (``torch_fails``, ``fallback``) for the matrix."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from known_failures import KNOWN_FAILURES  # noqa: E402


def pytest_collection_modifyitems(config, items):
    for item in items:
        if not str(item.fspath).replace("\\", "/").rsplit("/tests/", 1)[-1].startswith("compat/"):
            continue
        reason = KNOWN_FAILURES.get(item.name)
        if reason is not None:
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"relukit issue 9: {reason}"))


@pytest.fixture
def note(record_property):
    """note(key, text): a remark for docs/compatibility.md (recorded in the junit xml)."""
    def _note(key, text=""):
        record_property(key, text)
    return _note
