"""Clear ImportErrors for the optional extras (``relukit[torch]``, ``relukit[lab]``)."""

from __future__ import annotations

import importlib


def require(module: str, extra: str):
    """Import ``module`` or raise an ImportError naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(install_hint(module, extra)) from err


def install_hint(module: str, extra: str) -> str:
    """How to get ``extra``, in words that work from a checkout: relukit is not on a package
    index, so ``pip install 'relukit[lab]'`` would fail; ``pip install '.[lab]'`` does not."""
    return (f"this part of relukit needs {module!r} (the relukit[{extra}] extra): in the relukit "
            f"checkout run `pip install '.[{extra}]'` (relukit is not on a package index)")
