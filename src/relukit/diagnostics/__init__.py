"""Diagnostics for the ReLU family: find dead, saturated and gradient-starved units in real
training, say why they died, and revive them — also under torch.distributed.

    >>> from relukit.diagnostics import ActivationMonitor, revive
    >>> with ActivationMonitor(model, optimizer=opt) as monitor:       # doctest: +SKIP
    ...     for x, y in data:
    ...         opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    ...         monitor.step()
    ...     print(monitor.report())
    ...     revive(model, monitor.report(), optimizer=opt)

Needs PyTorch (the ``torch`` extra: ``pip install '.[torch]'`` in the checkout).
"""

from .._optional import require

require("torch", "torch")

from .kinds import ActivationSpec, spec_for  # noqa: E402
from .monitor import ActivationMonitor  # noqa: E402
from .repair import ReviveSummary, revive  # noqa: E402
from .report import GradientStats, LayerStats, MonitorReport  # noqa: E402


def __getattr__(name: str):
    # The callbacks import their framework: only pay for it when they are asked for.
    if name in ("HuggingFaceCallback", "LightningCallback", "DeadUnitsWarning"):
        from . import integrations

        return getattr(integrations, name)
    raise AttributeError(f"module 'relukit.diagnostics' has no attribute {name!r}")


__all__ = [
    "DeadUnitsWarning",
    "ActivationMonitor",
    "ActivationSpec",
    "GradientStats",
    "HuggingFaceCallback",
    "LayerStats",
    "LightningCallback",
    "MonitorReport",
    "ReviveSummary",
    "revive",
    "spec_for",
]
