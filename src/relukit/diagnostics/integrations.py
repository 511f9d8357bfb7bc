"""Training-framework callbacks: PyTorch Lightning and Hugging Face ``Trainer``.

Both wrap an :class:`ActivationMonitor` around the model when training starts, call
``monitor.step()`` after each optimizer step, log every closed window's report (the table
at DEBUG, a one-line summary at INFO on logger ``relukit.diagnostics``) and warn — Python
``warnings.warn`` with :class:`DeadUnitsWarning`, plus a ``logging`` warning — when a layer's
dead fraction reaches ``dead_threshold`` (default 0.5) or a cause is reported with
``warn_on_causes``. The frameworks are imported lazily: these classes exist without them and
fail on use with an ImportError naming the package.
"""

from __future__ import annotations

import importlib
import logging
import warnings

from .monitor import ActivationMonitor
from .report import MonitorReport

logger = logging.getLogger("relukit.diagnostics")


class DeadUnitsWarning(UserWarning):
    """A monitored layer has too many dead units (or a failure cause was found)."""


def _check_threshold(dead_threshold: float) -> None:
    if not 0 < dead_threshold <= 1:
        raise ValueError(f"dead_threshold must be in (0, 1], got {dead_threshold!r}")


class _Reporter:
    """What both callbacks share: owning the monitor, logging and warning."""

    def __init__(self, window: int, dead_threshold: float, warn_on_causes: bool,
                 monitor_kwargs: dict):
        _check_threshold(dead_threshold)
        self.window = window
        self.dead_threshold = dead_threshold
        self.warn_on_causes = warn_on_causes
        self.monitor_kwargs = monitor_kwargs
        self.monitor: ActivationMonitor | None = None
        self.reports: list[MonitorReport] = []

    def _start(self, model, optimizer) -> None:
        self._stop()
        # evaluation runs the same modules in eval mode: its forwards must not count
        kwargs = {"training_only": True, **self.monitor_kwargs}
        self.monitor = ActivationMonitor(model, optimizer=optimizer, window=self.window,
                                         **kwargs)

    def _step(self) -> MonitorReport | None:
        if self.monitor is None:
            return None
        report = self.monitor.step()
        if report is not None:
            self._publish(report)
        return report

    def _stop(self) -> None:
        if self.monitor is not None:
            self.monitor.close()
            self.monitor = None

    def _publish(self, report: MonitorReport) -> None:
        self.reports.append(report)
        logger.debug("%s", report)
        worst = max(report.layers, key=lambda s: s.dead_fraction, default=None)
        logger.info("step %d: %d dead units%s", report.step, report.dead_units,
                    f", worst layer {worst.name} {100 * worst.dead_fraction:.0f}% dead"
                    if worst else "")
        problems = [f"layer {s.name}: {100 * s.dead_fraction:.0f}% of {s.units} units dead"
                    for s in report.layers if s.dead_fraction >= self.dead_threshold]
        if self.warn_on_causes:
            problems += report.causes
        if problems:
            message = f"relukit diagnostics at step {report.step}: " + "; ".join(problems)
            logger.warning(message)
            warnings.warn(message, DeadUnitsWarning, stacklevel=3)


def _base(module: str, attr: str):
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError:
        return None


_HFBase = _base("transformers.trainer_callback", "TrainerCallback")
_LBase = _base("lightning.pytorch", "Callback") or _base("pytorch_lightning", "Callback")


class HuggingFaceCallback(*(b for b in (_HFBase,) if b), _Reporter):  # type: ignore[misc]
    """``transformers.TrainerCallback``: ``Trainer(..., callbacks=[HuggingFaceCallback()])``."""

    def __init__(self, window: int = 100, dead_threshold: float = 0.5,
                 warn_on_causes: bool = False, **monitor_kwargs):
        if _HFBase is None:
            raise ImportError("HuggingFaceCallback needs transformers: pip install transformers")
        _Reporter.__init__(self, window, dead_threshold, warn_on_causes, monitor_kwargs)

    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        if model is not None:
            self._start(model, optimizer)

    def on_optimizer_step(self, args, state, control, **kwargs):
        self._step()

    def on_train_end(self, args, state, control, **kwargs):
        if self.monitor is not None and self.monitor.pending:
            self._publish(self.monitor.report())  # the last, unfinished window
        self._stop()


class LightningCallback(*(b for b in (_LBase,) if b), _Reporter):  # type: ignore[misc]
    """Lightning ``Callback``: ``Trainer(callbacks=[LightningCallback()])``; also logs the
    dead fraction of each layer through ``pl_module.log`` when a window closes."""

    def __init__(self, window: int = 100, dead_threshold: float = 0.5,
                 warn_on_causes: bool = False, **monitor_kwargs):
        if _LBase is None:
            raise ImportError("LightningCallback needs PyTorch Lightning: pip install lightning")
        _Reporter.__init__(self, window, dead_threshold, warn_on_causes, monitor_kwargs)

    def on_fit_start(self, trainer, pl_module):
        optimizers = getattr(trainer, "optimizers", None) or [None]
        self._start(pl_module, optimizers[0])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        report = self._step()
        if report is not None:
            for stats in report.layers:
                pl_module.log(f"dead_fraction/{stats.name}", stats.dead_fraction)

    def on_fit_end(self, trainer, pl_module):
        self._stop()
