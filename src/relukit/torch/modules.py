"""nn.Modules with torch.nn's names, constructor signatures, ``extra_repr`` and state_dicts.

Each subclasses its torch.nn namesake (code that checks ``isinstance(m, nn.ReLU)`` keeps
working, and a state_dict loads either way) and only replaces ``forward`` by the lean
function of ``relukit.torch.functional``. ``catalogue_name`` names the catalogue entry;
``saved_bits_per_element(dtype)`` is what the backward keeps per input element beyond the
output (which the next layer keeps anyway).
"""

from __future__ import annotations

import torch
from torch import nn

from . import functional as F


def _dtype_bits(dtype: torch.dtype) -> int:
    return torch.finfo(dtype).bits


class _Lean:
    catalogue_name: str = ""
    #: Bits per element kept beyond the output when it does not depend on the dtype.
    _saved_bits: float = 1.0

    def saved_bits_per_element(self, dtype: torch.dtype = torch.float32) -> float:
        """Bits per input element the backward keeps beyond the output, for ``dtype``."""
        return self._saved_bits


class ReLU(_Lean, nn.ReLU):
    catalogue_name = "relu"

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.relu(input, self.inplace)


class LeakyReLU(_Lean, nn.LeakyReLU):
    catalogue_name = "leaky_relu"

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)


class ReLU6(_Lean, nn.ReLU6):
    catalogue_name = "relu6"

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.relu6(input, self.inplace)


class Hardtanh(_Lean, nn.Hardtanh):
    catalogue_name = "hardtanh"

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)


class RReLU(_Lean, nn.RReLU):
    """Random slopes in training; 1 bit per element plus the generator state per call."""

    catalogue_name = "rrelu"

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)


class PReLU(_Lean, nn.PReLU):
    """Learned slope(s), state_dict key ``weight`` as torch.nn.PReLU."""

    catalogue_name = "prelu"

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.prelu(input, self.weight)

    def saved_bits_per_element(self, dtype: torch.dtype = torch.float32) -> float:
        # weights > 0: the output alone; else 1 bit, and the input when a weight is 0
        if bool((self.weight > 0).all()):
            return 0.0
        if self.weight.requires_grad and bool((self.weight == 0).any()):
            return 1.0 + _dtype_bits(dtype)
        return 1.0


class CReLU(_Lean, nn.Module):
    """cat(relu(x), relu(-x)) along ``dim``: the output has twice the channels."""

    catalogue_name = "crelu"
    _saved_bits = 2.0  # per input element: 1 per output element

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.crelu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class ELU(_Lean, nn.ELU):
    catalogue_name = "elu"

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def saved_bits_per_element(self, dtype: torch.dtype = torch.float32) -> float:
        return 0.0 if self.alpha >= 0 else 1.0


class CELU(_Lean, nn.CELU):
    catalogue_name = "celu"
    _saved_bits = 0.0

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.celu(input, self.alpha, self.inplace)


class SELU(_Lean, nn.SELU):
    catalogue_name = "selu"
    _saved_bits = 0.0

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.selu(input, self.inplace)


class _KBit(_Lean):
    bits: int | None

    def saved_bits_per_element(self, dtype: torch.dtype = torch.float32) -> float:
        return float(self.bits) if self.bits is not None else float(_dtype_bits(dtype))


class GELU(_KBit, nn.GELU):
    """GELU; ``bits=k`` (1..8) keeps a k-bit code of the derivative instead of the input."""

    catalogue_name = "gelu"

    def __init__(self, approximate: str = "none", bits: int | None = None) -> None:
        super().__init__(approximate=approximate)
        F._check_bits("GELU", bits)
        self.bits = bits

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.gelu(input, approximate=self.approximate, bits=self.bits)

    def extra_repr(self) -> str:
        extra = f", bits={self.bits}" if self.bits is not None else ""
        return super().extra_repr() + extra


class SiLU(_KBit, nn.SiLU):
    """SiLU; ``bits=k`` (1..8) keeps a k-bit code of the derivative instead of the input."""

    catalogue_name = "silu"

    def __init__(self, inplace: bool = False, bits: int | None = None) -> None:
        super().__init__(inplace=inplace)
        F._check_bits("SiLU", bits)
        self.bits = bits

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.silu(input, bits=self.bits, inplace=self.inplace)

    def extra_repr(self) -> str:
        extra = f"bits={self.bits}" if self.bits is not None else ""
        return ", ".join(s for s in (super().extra_repr(), extra) if s)


class Mish(_KBit, nn.Mish):
    """Mish; ``bits=k`` (1..8) keeps a k-bit code of the derivative instead of the input."""

    catalogue_name = "mish"

    def __init__(self, inplace: bool = False, bits: int | None = None) -> None:
        super().__init__(inplace=inplace)
        F._check_bits("Mish", bits)
        self.bits = bits

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.mish(input, bits=self.bits, inplace=self.inplace)

    def extra_repr(self) -> str:
        extra = f"bits={self.bits}" if self.bits is not None else ""
        return ", ".join(s for s in (super().extra_repr(), extra) if s)


class Softplus(_Lean, nn.Softplus):
    catalogue_name = "softplus"

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def saved_bits_per_element(self, dtype: torch.dtype = torch.float32) -> float:
        return float(_dtype_bits(dtype))  # torch's backward, which reads the input


class Sigmoid(_Lean, nn.Sigmoid):
    catalogue_name = "sigmoid"
    _saved_bits = 0.0

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.sigmoid(input)


class Tanh(_Lean, nn.Tanh):
    catalogue_name = "tanh"
    _saved_bits = 0.0

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.tanh(input)
