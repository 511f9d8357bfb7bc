"""relukit's PyTorch layer: the ReLU family with a backward that saves the least it needs.

``relukit.torch.functional`` mirrors ``torch.nn.functional`` and the modules here mirror
``torch.nn`` (same names, signatures and state_dicts); forward values are torch's. What each
backward keeps is tabled in ``relukit.torch.functional``; ``saved_tensor_bytes`` measures it.
"""

from .._optional import require

require("torch", "torch")

from . import functional  # noqa: E402
from .autograd import saved_tensor_bytes  # noqa: E402
from .modules import (  # noqa: E402
    CELU,
    ELU,
    GELU,
    SELU,
    CReLU,
    Hardtanh,
    LeakyReLU,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    RReLU,
    Sigmoid,
    SiLU,
    Softplus,
    Tanh,
)

__all__ = [
    "CELU",
    "ELU",
    "GELU",
    "SELU",
    "CReLU",
    "Hardtanh",
    "LeakyReLU",
    "Mish",
    "PReLU",
    "ReLU",
    "ReLU6",
    "RReLU",
    "Sigmoid",
    "SiLU",
    "Softplus",
    "Tanh",
    "ConversionSummary",
    "convert",
    "functional",
    "saved_tensor_bytes",
]


# Modules built from the catalogue (``catalogue.TorchRule``): hardswish, relu2, ...
from .modules import FROM_RULES as _FROM_RULES  # noqa: E402

globals().update(_FROM_RULES)
__all__ += sorted(_FROM_RULES)

from .factory import create_act_layer, get_act_layer  # noqa: E402

__all__ += ["create_act_layer", "get_act_layer"]

# Last, so that the name ``convert`` ends up bound to the function, not its submodule.
from .convert import ConversionSummary, convert  # noqa: E402
