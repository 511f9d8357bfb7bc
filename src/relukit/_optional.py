"""Clear ImportErrors for the optional extras (``relukit[torch]``, ``relukit[lab]``)."""

from __future__ import annotations

import importlib


def require(module: str, extra: str):
    """Import ``module`` or raise an ImportError naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"this part of relukit needs {module!r}: install it with "
            f"`pip install 'relukit[{extra}]'`"
        ) from err
