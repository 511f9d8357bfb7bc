# ruff: noqa: E501
"""Cells that fail with relukit today: test name -> the error (one line). Each is marked
xfail(strict=True) by conftest.py, so it turns red once fixed: then delete its line."""

KNOWN_FAILURES: dict[str, str] = {
}
