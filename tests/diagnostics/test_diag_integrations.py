"""Framework callbacks: the Hugging Face one driven through its real event methods."""

import logging
import warnings

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402


def _model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    with torch.no_grad():
        model[0].bias[:5] = -1e4  # 5 of 8 units dead: past a 0.5 threshold
    return model


# The Hugging Face tests share one worker under xdist: importing transformers is the slow part.
hf_group = pytest.mark.xdist_group("diag_hugging_face")


@hf_group
def test_hugging_face_callback_logs_and_warns(caplog):
    trainer_callback = pytest.importorskip("transformers.trainer_callback")
    from relukit.diagnostics import DeadUnitsWarning, HuggingFaceCallback

    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    callback = HuggingFaceCallback(window=2, dead_threshold=0.5)
    assert isinstance(callback, trainer_callback.TrainerCallback)
    state, control = trainer_callback.TrainerState(), trainer_callback.TrainerControl()
    handler = trainer_callback.CallbackHandler([callback], model, None, opt, None)
    handler.on_train_begin(None, state, control)
    assert callback.monitor is not None
    with caplog.at_level(logging.INFO, logger="relukit.diagnostics"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(4):
                opt.zero_grad()
                model(torch.randn(16, 4)).sum().backward()
                opt.step()
                handler.on_optimizer_step(None, state, control)
    assert len(callback.reports) == 2
    assert callback.reports[-1].layer("1").dead_units == [0, 1, 2, 3, 4]
    dead_warnings = [w for w in caught if issubclass(w.category, DeadUnitsWarning)]
    assert len(dead_warnings) == 2 and "62%" in str(dead_warnings[0].message)
    assert any(r.levelno == logging.WARNING and "layer 1" in r.message for r in caplog.records)
    handler.on_train_end(None, state, control)  # nothing ran since the last window: no report
    assert len(callback.reports) == 2
    assert callback.monitor is None and not model[1]._forward_hooks


@hf_group
def test_hugging_face_callback_stays_quiet_below_threshold():
    pytest.importorskip("transformers.trainer_callback")
    from relukit.diagnostics import DeadUnitsWarning, HuggingFaceCallback

    model = _model()
    callback = HuggingFaceCallback(window=1, dead_threshold=0.9)
    callback.on_train_begin(None, None, None, model=model)
    model(torch.randn(16, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeadUnitsWarning)
        callback.on_optimizer_step(None, None, None)
    assert len(callback.reports) == 1
    with pytest.raises(ValueError, match="dead_threshold"):
        HuggingFaceCallback(dead_threshold=0)


@hf_group
def test_hugging_face_callback_in_a_real_trainer_run(tmp_path):
    pytest.importorskip("accelerate")  # transformers' Trainer needs it
    transformers = pytest.importorskip("transformers")
    from relukit.diagnostics import DeadUnitsWarning, HuggingFaceCallback

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = _model()

        def forward(self, x, labels=None):
            out = self.body(x).squeeze(-1)
            return {"loss": nn.functional.mse_loss(out, labels), "logits": out}

    data = [{"x": torch.randn(4), "labels": torch.randn(())} for _ in range(32)]
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=8, max_steps=4, report_to=[],
        save_strategy="no", logging_strategy="no", use_cpu=True, disable_tqdm=True)
    callback = HuggingFaceCallback(window=2)
    trainer = transformers.Trainer(model=Net(), args=args, train_dataset=data,
                                   callbacks=[callback])
    with pytest.warns(DeadUnitsWarning, match="layer body.1"):
        trainer.train()
    assert [r.step for r in callback.reports] == [2, 4]
    assert set(range(5)) <= set(callback.reports[-1].layer("body.1").dead_units)
    assert callback.monitor is None  # hooks removed at the end of training


def test_lightning_callback_reports_windows():
    pytest.importorskip("lightning.pytorch")
    from relukit.diagnostics import LightningCallback

    class Module:
        logged = {}

        def log(self, key, value):
            self.logged[key] = value

    model = _model()
    callback = LightningCallback(window=1, dead_threshold=1.0)
    callback.on_fit_start(type("T", (), {"optimizers": []})(), model)
    model(torch.randn(8, 4))
    module = Module()
    callback.on_train_batch_end(None, module, None, None, 0)
    assert module.logged["dead_fraction/1"] == pytest.approx(5 / 8)
    callback.on_fit_end(None, model)
