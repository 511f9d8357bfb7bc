"""One validator per argument of the torch layer, used wherever the argument enters
(functional, modules, ``convert``): the same bad value gives the same exception type and the
same message everywhere. A wrong type is a TypeError, a value out of range a ValueError; each
message names the parameter and its valid values.

Values torch.nn accepts are accepted too: ints for booleans (``nn.ReLU(inplace=1)``) and
one-element tensors for float parameters (``nn.LeakyReLU(torch.tensor(0.1))``).
"""

from __future__ import annotations

import numbers

import torch

from .. import catalogue

#: Bits of a k-bit code of f' (``relukit.torch.fewbit``).
MAX_BITS = 8

#: What a lean backward keeps (``saves=``): f' from the output, or the input as torch does;
#: the piecewise-linear functions also take "mask" (1 bit per element). Each activation's
#: own modes are its catalogue entry's ``saves``.
SAVES = catalogue.SAVES
SAVES_PIECEWISE = catalogue.SAVES_PIECEWISE


def bits(where: str, value) -> int | None:
    """``bits``: None (exact gradient) or an int in 1..MAX_BITS."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{where}: bits must be None or an int in 1..{MAX_BITS}, got "
            f"{type(value).__name__} {value!r}"
        )
    if not 1 <= int(value) <= MAX_BITS:
        raise ValueError(
            f"{where}: bits={value!r} is out of range; valid values: None (exact) or "
            f"1..{MAX_BITS}"
        )
    return int(value)


def flag(where: str, name: str, value) -> bool:
    """A boolean flag such as ``inplace``: True/False, or an int 0/1 as torch.nn takes."""
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral) and int(value) in (0, 1):
        return bool(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype == torch.bool:
        return bool(value)
    raise TypeError(f"{where}: {name} must be True or False (or 0/1), got {value!r}")


def real(value):
    """A one-element tensor or NumPy scalar as a Python number; anything else unchanged (the
    catalogue's parameter check judges it)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.dtype.is_complex:
        return value.item()
    if hasattr(value, "item") and not isinstance(value, (int, float)):
        try:
            return value.item()
        except (TypeError, ValueError):
            return value
    return value


def saves(where: str, value, allowed: tuple[str, ...] = SAVES) -> str:
    """``saves``: what the backward keeps. "output": f' recovered from the output; "mask":
    1 bit per element (piecewise-linear functions); "input": torch's own op and behaviour."""
    if not isinstance(value, str):
        raise TypeError(
            f"{where}: saves must be one of {', '.join(allowed)}, got {type(value).__name__}"
        )
    if value not in allowed:
        raise ValueError(f"{where}: invalid saves={value!r}; valid values: {', '.join(allowed)}")
    return value


def positive_int(where: str, name: str, value) -> int:
    """A count such as PReLU's ``num_parameters``: an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an int >= 1, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{where}: invalid {name}={value!r}; valid values: ints >= 1")
    return int(value)


def dim(where: str, value, ndim: int | None = None) -> int:
    """A dimension such as CReLU's ``dim``: an int, and with ``ndim`` one of x's dimensions
    (a 0-D x counts as 1-D, as torch's cat of its reshape does)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: dim must be an int, got {value!r}")
    value = int(value)
    if ndim is not None:
        n = max(ndim, 1)
        if not -n <= value < n:
            raise ValueError(
                f"{where}: dim={value} is out of range for an input with {ndim} dimension(s); "
                f"valid: {-n} .. {n - 1}"
            )
    return value
