"""The lab's sections, in page order. Each module owns one experiment end to end.

To add one, write a ``Section`` subclass (see ``relukit.lab.section``) and append an instance
here; the runner, results.json, the CSVs, the verdict table and the page pick it up.
"""

from ..section import Section
from .atlas import Atlas
from .convergence import Convergence
from .dying import Dying
from .gradient_flow import GradientFlow
from .memory import Memory
from .papers import Papers
from .sparsity import Sparsity

SECTIONS: list[Section] = [Atlas(), GradientFlow(), Convergence(), Sparsity(), Dying(),
                           Memory(), Papers()]

__all__ = ["SECTIONS"]
