"""Clear ImportErrors for the optional extras (``relukit[torch]``, ``relukit[lab]``)."""

from __future__ import annotations

import importlib


def require(module: str, extra: str):
    """Import ``module`` or raise an ImportError naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(install_hint(module, extra)) from err


def install_hint(module: str, extra: str | None = None, package: str | None = None) -> str:
    """The one wording for anything missing. With ``extra``: how to get it, in words that work
    from a checkout (relukit is not on a package index, so ``pip install 'relukit[lab]'``
    would fail; ``pip install '.[lab]'`` does not). Without: a third-party package an
    integration needs (``package``: its pip name when it differs from ``module``)."""
    if extra is None:
        return (f"this part of relukit needs {module!r}, which is not installed: run "
                f"`pip install {package or module}`")
    return (f"this part of relukit needs {module!r} (the relukit[{extra}] extra): in the relukit "
            f"checkout run `pip install '.[{extra}]'` (relukit is not on a package index)")
