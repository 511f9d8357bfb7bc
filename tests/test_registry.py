"""One spec per activation drives every layer: each registered activation has all its parts.

The steps of README's "Contributing: add an activation" are checked here: a new catalogue
entry that lacks its NumPy math, its torch function and module, its ``saves`` modes, its
convert() sources, its diagnostics rule, its precision cases against mpmath or its
compatibility case fails one of these tests.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import numpy as np
import pytest

import relukit
from relukit import catalogue

NAMES = relukit.names()
HERE = Path(__file__).parent
PREFIXES = (catalogue.TORCH_NN, catalogue.HF, *catalogue.TIMM, *catalogue.TIMM_ME,
            "relukit.torch.modules.")


@pytest.mark.parametrize("name", NAMES)
def test_catalogue_part(name):
    act = relukit.get(name)
    assert act.module, f"{name}: no relukit.torch module named in its spec"
    assert act.shape in ("piecewise_linear", "piecewise_quadratic", "smooth")
    if act.saves:
        assert act.default_saves in act.saves
    for src in act.converts:
        assert src.qualname.startswith(PREFIXES), src.qualname
    # value and derivative run on the kinks and the tails
    x = np.array([-np.inf, -7.0, -3.0, -1.5, -0.0, 0.0, 0.5, 3.0, 6.0, np.inf, np.nan])
    if name == "prelu":
        x = x.reshape(1, -1)
    y, d = act(x), act.derivative(x)
    assert np.isnan(np.ravel(y)[-1]) and np.isnan(np.ravel(d)[-1])


@pytest.mark.parametrize("name", NAMES)
def test_torch_part(name):
    pytest.importorskip("torch")
    import importlib

    import relukit.torch as rt

    convert_mod = importlib.import_module("relukit.torch.convert")
    from relukit.torch import functional

    act = relukit.get(name)
    module = getattr(rt, act.module)
    assert module.catalogue_name == name and act.module in rt.__all__
    fn = getattr(functional, name)
    assert name in functional.__all__
    params = inspect.signature(fn).parameters
    for p in act.params:
        if p.name in params and p.name not in ("axis", "weight", "rng", "training"):
            assert params[p.name].default == p.default, (name, p.name)
    if act.saves:
        assert params["saves"].default == act.default_saves
        assert tuple(module._modes) == (act.saves if len(act.saves) > 1 else ())
    assert ("bits" in params) == act.kbit
    for src in act.converts:
        assert convert_mod._SPECS[src.qualname].activation == name


@pytest.mark.parametrize("name", NAMES)
def test_diagnostics_part(name):
    pytest.importorskip("torch")
    import relukit.torch as rt
    from relukit.diagnostics.kinds import spec_for

    act = relukit.get(name)
    module = getattr(rt, act.module)()
    spec = spec_for(module)
    assert spec is not None and spec.name == name
    if act.dead_region is not None:
        assert spec.can_die
    if not act.monotone:
        assert spec.on_input


def _load(path: Path):
    sys.path.insert(0, str(path.parent))
    try:
        return __import__(path.stem)
    finally:
        sys.path.remove(str(path.parent))


@pytest.mark.parametrize("name", NAMES)
def test_test_parts(name):
    """Precision against mpmath and the compatibility suite cover every activation."""
    precision = _load(HERE / "test_catalogue_precision.py")
    # crelu's two halves are relu(x) and relu(-x): relu's cases cover its values
    assert relukit.get(name).name == "crelu" or name in {c[1] for c in precision.CASES}
    pytest.importorskip("torch")
    cases = _load(HERE / "compat" / "compat_cases.py")
    assert relukit.get(name).module in cases.ROWS


def test_unserved_names_and_classes_have_reasons():
    for table in (catalogue.UNSERVED_NAMES, catalogue.UNSERVED_CLASSES):
        for key, reason in table.items():
            assert reason.strip(), key
    served = {s.qualname for a in relukit.all_activations() for s in a.converts}
    assert not served & set(catalogue.UNSERVED_CLASSES)
    for name in catalogue.UNSERVED_NAMES:
        with pytest.raises(ValueError):
            relukit.get(name)
