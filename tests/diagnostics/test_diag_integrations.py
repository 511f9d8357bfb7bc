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


@hf_group
def test_hugging_face_metrics_reach_log_history_and_tensorboard(tmp_path):
    """A 4-step Trainer run of a tiny BERT built from a config (no downloads): the window's
    dead/inactive fractions and gradient norms land in log_history and, through
    report_to="tensorboard", in the event file (read back with tensorboard's own reader)."""
    pytest.importorskip("accelerate")
    transformers = pytest.importorskip("transformers")
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing"
                                            ".event_accumulator")
    from relukit.diagnostics import HuggingFaceCallback

    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=32,
                                     hidden_act="relu", num_labels=2)
    model = transformers.BertForSequenceClassification(config)
    data = [{"input_ids": torch.randint(0, 50, (6,)), "labels": torch.tensor(i % 2)}
            for i in range(32)]
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, max_steps=4,
        report_to=["tensorboard"], save_strategy="no",
        logging_strategy="no", use_cpu=True, disable_tqdm=True)
    callback = HuggingFaceCallback(window=2, dead_threshold=1.0)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=data,
                                   callbacks=[callback])
    trainer.train()
    assert [r.step for r in callback.reports] == [2, 4]
    logged = [h for h in trainer.state.log_history if "relukit/dead_units" in h]
    assert [h["step"] for h in logged] == [2, 4]
    last = callback.reports[-1]
    layer = last.layers[0].name  # bert.encoder.layer.0.intermediate.intermediate_act_fn
    assert "intermediate_act_fn" in layer
    assert logged[-1][f"relukit/dead_fraction/{layer}"] == last.layers[0].dead_fraction
    assert logged[-1][f"relukit/inactive_fraction/{layer}"] == last.layers[0].inactive_fraction
    grads = {g.name: g.norm for g in last.gradients}
    assert grads and logged[-1]["relukit/grad_norm/classifier"] == pytest.approx(
        grads["classifier"])
    files = list((tmp_path / "out").rglob("events.out.tfevents.*"))
    assert files
    acc = event_accumulator.EventAccumulator(str(files[0].parent))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    tag = next(t for t in tags if t.endswith(f"relukit/dead_fraction/{layer}"))
    assert [e.step for e in acc.Scalars(tag)] == [2, 4]
    assert acc.Scalars(tag)[-1].value == pytest.approx(last.layers[0].dead_fraction)


def test_lightning_fit_with_gradient_accumulation_steps_per_optimizer_step(tmp_path):
    pl = pytest.importorskip("lightning.pytorch")
    from relukit.diagnostics import LightningCallback

    class Module(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = _model()

        def training_step(self, batch, batch_idx):
            x, y = batch
            return nn.functional.mse_loss(self.net(x).squeeze(-1), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randn(64))
    loader = torch.utils.data.DataLoader(data, batch_size=8)
    callback = LightningCallback(window=2, dead_threshold=1.0)
    logger = pl.loggers.CSVLogger(str(tmp_path))
    trainer = pl.Trainer(max_steps=4, accumulate_grad_batches=2, callbacks=[callback],
                         logger=logger, log_every_n_steps=1, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         accelerator="cpu", devices=1)
    trainer.fit(Module(), loader)
    # 8 batches, 4 optimizer steps: the monitor stepped 4 times, 2 windows of 2 steps,
    # each window counting the 4 batches (32 samples) of its 2 optimizer steps
    assert [r.step for r in callback.reports] == [2, 4]
    assert callback.reports[-1].layer("net.1").observations == 32
    assert callback.reports[-1].layer("net.1").dead_units == [0, 1, 2, 3, 4]
    assert trainer.callback_metrics["relukit/dead_fraction/net.1"] == pytest.approx(5 / 8)
    assert "relukit/grad_norm/net.0" in trainer.callback_metrics
    logger.save()
    text = (tmp_path / "lightning_logs" / "version_0" / "metrics.csv").read_text()
    assert "relukit/dead_fraction/net.1" in text


def test_to_tensorboard_writes_scalars_and_histograms(tmp_path):
    tb = pytest.importorskip("torch.utils.tensorboard")
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing"
                                            ".event_accumulator")
    from relukit.diagnostics import ActivationMonitor

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.PReLU(3))
    with torch.no_grad():
        model[0].bias[:5] = -1e4
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    writer = tb.SummaryWriter(str(tmp_path))
    with ActivationMonitor(model, optimizer=opt) as monitor:
        for _ in range(2):
            opt.zero_grad()
            model(torch.randn(16, 4)).sum().backward()
            opt.step()
            report = monitor.step()
            monitor.to_tensorboard(writer)
    writer.close()
    acc = event_accumulator.EventAccumulator(str(tmp_path),
                                             size_guidance={"histograms": 0, "scalars": 0})
    acc.Reload()
    scalars = acc.Scalars("relukit/dead_fraction/1")
    assert [e.step for e in scalars] == [1, 2]
    assert scalars[-1].value == pytest.approx(5 / 8)
    assert acc.Scalars("relukit/grad_norm/0")[-1].value == pytest.approx(
        next(g.norm for g in report.gradients if g.name == "0"), rel=1e-6)
    assert "relukit/inactive_fraction/3" in acc.Tags()["scalars"]
    hist = acc.Histograms("relukit/active_fraction/1")[-1].histogram_value
    assert hist.num == 8 and hist.min == 0.0  # one value per unit, the dead ones at 0
    slopes = acc.Histograms("relukit/prelu_slopes/3")[-1].histogram_value
    assert slopes.num == 3 and slopes.min == pytest.approx(min(model[3].weight.tolist()))
    assert "relukit/grad_norm_per_layer" in acc.Tags()["histograms"]
