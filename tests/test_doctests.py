"""The examples in the docstrings run: the package's and the catalogue's module docstrings, and
each activation's own help text (``help(relukit.gelu)``: formula, parameters, the convention at
its kinks and an example)."""

from __future__ import annotations

import doctest
import importlib

import pytest

import relukit

FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


@pytest.mark.parametrize("module", ["relukit", "relukit.catalogue"])
def test_module_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=FLAGS)
    assert result.failed == 0
    if module == "relukit":
        assert result.attempted > 0


def test_diagnostics_docstring_examples():
    pytest.importorskip("torch")
    result = doctest.testmod(importlib.import_module("relukit.diagnostics"), optionflags=FLAGS)
    assert result.failed == 0


@pytest.mark.parametrize("name", relukit.names())
def test_each_activation_has_its_own_help_with_a_running_example(name):
    act = relukit.get(name)
    doc = type(act).__doc__
    assert doc is not None and doc.startswith(f"{act.title}: f(x) = {act.formula}")
    assert f"f'(x) = {act.derivative_formula}" in doc and "Example::" in doc
    for p in act.params:
        assert f"{p.name} = {p.default!r}" in doc
    if act.breakpoints():
        assert "PyTorch's side" in doc
    test = doctest.DocTestParser().get_doctest(doc, {}, name, None, 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test)
    assert runner.failures == 0 and runner.tries == 3
