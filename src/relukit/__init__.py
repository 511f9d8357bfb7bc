"""relukit: the ReLU family of activations, exact, fast, memory-lean and observable.

``import relukit`` needs NumPy only::

    >>> import relukit
    >>> relukit.gelu([-1.0, 0.0, 1.0])
    array([-0.15865525,  0.        ,  0.84134475])
    >>> relukit.get("leaky_relu").derivative([-1.0, 2.0], negative_slope=0.1)
    array([0.1, 1. ])

The PyTorch layers live in ``relukit.torch`` (extra ``relukit[torch]``), the diagnostics in
``relukit.diagnostics`` and the experiments in ``relukit.lab`` (extra ``relukit[lab]``).
"""

from .catalogue import (
    Activation,
    Parameter,
    all_activations,
    celu,
    crelu,
    elu,
    gelu,
    get,
    hardtanh,
    leaky_relu,
    mish,
    names,
    prelu,
    relu,
    relu6,
    rrelu,
    selu,
    sigmoid,
    silu,
    softplus,
    tanh,
)

__version__ = "0.1.0"

# every activation of the catalogue, the ones added since the list above included
globals().update({_a.name: _a for _a in all_activations()})

__all__ = [
    "Activation",
    "Parameter",
    "all_activations",
    "celu",
    "crelu",
    "elu",
    "gelu",
    "get",
    "hardtanh",
    "leaky_relu",
    "mish",
    "names",
    "prelu",
    "relu",
    "relu6",
    "rrelu",
    "selu",
    "sigmoid",
    "silu",
    "softplus",
    "tanh",
]
__all__ += sorted(set(names()) - set(__all__))
