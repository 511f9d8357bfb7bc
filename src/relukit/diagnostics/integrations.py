"""Training-framework callbacks: PyTorch Lightning and Hugging Face ``Trainer``.

Both wrap an :class:`ActivationMonitor` around the model when training starts, call
``monitor.step()`` once per optimizer step, and put every closed window's metrics where the
framework's dashboards read them (``report_scalars``: ``relukit/dead_fraction/<layer>``,
``relukit/inactive_fraction/<layer>``, ``relukit/sparsity/<layer>``,
``relukit/grad_norm/<layer>``, ``relukit/dead_units``, ``relukit/inactive_units``):

* Hugging Face: into the Trainer's logs — a window's close makes the Trainer log at that
  step, and the metrics are added to that log, so ``state.log_history`` and every
  ``report_to`` integration (TensorBoard, Weights & Biases, ...) get them;
* Lightning: through ``pl_module.log_dict`` (to every logger of the Trainer), stepping once
  per optimizer step (``trainer.global_step``), so ``accumulate_grad_batches`` is respected.

They also log the report (the table at DEBUG, a one-line summary at INFO on logger
``relukit.diagnostics``) and warn — ``warnings.warn`` with :class:`DeadUnitsWarning`, plus a
``logging`` warning — when a layer's dead fraction reaches ``dead_threshold`` (default 0.5) or
a cause is reported with ``warn_on_causes``. The frameworks are imported lazily: these classes
exist without them and fail on use with an ImportError naming the package.
"""

from __future__ import annotations

import importlib
import logging
import sys
import types
import warnings

from .._optional import install_hint
from .monitor import ActivationMonitor, report_scalars
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
    """``transformers.TrainerCallback``: ``Trainer(..., callbacks=[HuggingFaceCallback()])``.

    When a window closes the Trainer is asked to log at that step, and the window's metrics
    are added to that log. So that the ``report_to`` integrations (registered before user
    callbacks) see them, the callback moves itself to the front of the Trainer's callback
    list when training begins.
    """

    def __init__(self, window: int = 100, dead_threshold: float = 0.5,
                 warn_on_causes: bool = False, **monitor_kwargs):
        if _HFBase is None:
            raise ImportError("HuggingFaceCallback: " + install_hint("transformers"))
        _Reporter.__init__(self, window, dead_threshold, warn_on_causes, monitor_kwargs)
        self._unlogged: dict[str, float] = {}

    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        self._first_in_line()
        if model is not None:
            self._start(model, optimizer)

    def _first_in_line(self) -> None:
        # the CallbackHandler that calls us: run our on_log before the reporting callbacks
        frame: types.FrameType | None = sys._getframe(1)
        for _ in range(4):
            if frame is None:
                return
            handler = frame.f_locals.get("self")
            callbacks = getattr(handler, "callbacks", None)
            if isinstance(callbacks, list) and any(c is self for c in callbacks):
                callbacks.remove(self)
                callbacks.insert(0, self)
                return
            frame = frame.f_back

    def on_optimizer_step(self, args, state, control, **kwargs):
        report = self._step()
        if report is not None:
            self._unlogged = report_scalars(report)
            if control is not None:
                control.should_log = True  # the Trainer logs at this step: our metrics go along

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not self._unlogged or logs is None:
            return
        logs.update(self._unlogged)
        history = getattr(state, "log_history", None)
        if history and history[-1].get("step") == state.global_step:
            history[-1].update(self._unlogged)  # the Trainer copied logs before calling us
        self._unlogged = {}

    def on_train_end(self, args, state, control, **kwargs):
        if self.monitor is not None and self.monitor.pending:
            self._publish(self.monitor.report())  # the last, unfinished window
        self._stop()


class LightningCallback(*(b for b in (_LBase,) if b), _Reporter):  # type: ignore[misc]
    """Lightning ``Callback``: ``Trainer(callbacks=[LightningCallback()])``. Steps the monitor
    once per optimizer step and logs each closed window's metrics with
    ``pl_module.log_dict``."""

    def __init__(self, window: int = 100, dead_threshold: float = 0.5,
                 warn_on_causes: bool = False, **monitor_kwargs):
        if _LBase is None:
            raise ImportError("LightningCallback: " + install_hint("lightning"))
        _Reporter.__init__(self, window, dead_threshold, warn_on_causes, monitor_kwargs)
        self._seen_step = 0

    def on_fit_start(self, trainer, pl_module):
        optimizers = getattr(trainer, "optimizers", None) or [None]
        self._start(pl_module, optimizers[0])
        self._seen_step = int(getattr(trainer, "global_step", 0))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        # global_step counts optimizer steps: under accumulate_grad_batches=k it moves every
        # k batches, and the monitor steps with it
        step = int(trainer.global_step)
        while self._seen_step < step:
            self._seen_step += 1
            report = self._step()
            if report is not None:
                pl_module.log_dict(report_scalars(report), on_step=True, on_epoch=False)

    def on_fit_end(self, trainer, pl_module):
        self._stop()
