"""The lab's sections, in page order. Each module owns one experiment end to end.

To add one, write a ``Section`` subclass (see ``relukit.lab.section``) and append an instance
here; the runner, results.json, the CSVs, the verdict table and the page pick it up.
"""

from ..section import Section
from .atlas import Atlas
from .compute_cost import ComputeCost
from .convergence import Convergence
from .dying import Dying
from .exploding import Exploding
from .gradient_flow import GradientFlow
from .memory import Memory
from .output_relu import OutputRelu
from .papers import Papers
from .sparsity import Sparsity
from .zero_centred import ZeroCentred

SECTIONS: list[Section] = [Atlas(), GradientFlow(), Exploding(), Convergence(), ZeroCentred(),
                           Sparsity(), Dying(), OutputRelu(), ComputeCost(), Memory(), Papers()]

__all__ = ["SECTIONS"]
