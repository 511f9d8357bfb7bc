"""The lab: experiments that reproduce the textbook claims about ReLU, with a report.

Needs the ``lab`` extra (matplotlib, scikit-learn, rich) and the ``torch`` extra.
"""

from .._optional import require

require("matplotlib", "lab")
