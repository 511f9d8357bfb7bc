"""revive: output unchanged at that moment, units fire afterwards, optimizer rows reset."""

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from relukit.diagnostics import ActivationMonitor, revive  # noqa: E402


def _dead_mlp():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.0), nn.Linear(16, 3))
    with torch.no_grad():
        model[0].bias[[1, 4, 9]] = -1e4
    return model


def test_revive_keeps_outputs_and_units_fire_afterwards():
    model = _dead_mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(64, 8)
    with ActivationMonitor(model, optimizer=opt) as monitor:
        nn.functional.mse_loss(model(x), torch.zeros(64, 3)).backward()
        opt.step()
        report = monitor.step()
        assert report.layer("1").dead_units == [1, 4, 9]
        assert torch.count_nonzero(opt.state[model[0].weight]["exp_avg"][[1, 4, 9]]) == 0
        # Give the dead rows some optimizer state, as a long run would have.
        for key in ("exp_avg", "exp_avg_sq"):
            opt.state[model[0].weight][key][[1, 4, 9]] = 1.0
            opt.state[model[3].weight][key][:, [1, 4, 9]] = 1.0
        model.eval()
        before = model(x)
        summary = revive(model, report, optimizer=opt, monitor=monitor)
        after = model(x)
        assert summary.revived == {"1": [1, 4, 9]}
        assert torch.equal(before, after)
        assert torch.count_nonzero(model[3].weight[:, [1, 4, 9]]) == 0
        assert torch.count_nonzero(model[0].bias[[1, 4, 9]]) == 0
        state_in, state_out = opt.state[model[0].weight], opt.state[model[3].weight]
        live = [u for u in range(16) if u not in (1, 4, 9)]
        assert torch.count_nonzero(state_in["exp_avg"][[1, 4, 9]]) == 0
        assert torch.count_nonzero(state_out["exp_avg"][:, [1, 4, 9]]) == 0
        assert torch.count_nonzero(state_in["exp_avg"][0]) > 0  # untouched
        # "neutral": the second moment of a revived row is the live rows' mean, so its steps
        # are the size the live rows take
        expected = state_in["exp_avg_sq"][live].mean(0)
        assert torch.allclose(state_in["exp_avg_sq"][[1, 4, 9]], expected.expand(3, -1))
        expected = state_out["exp_avg_sq"][:, live].mean(1, keepdim=True)
        assert torch.allclose(state_out["exp_avg_sq"][:, [1, 4, 9]], expected.expand(-1, 3))
        model(x)
        assert monitor.report().layer("1").dead_units == []


def test_revive_conv_bn_relu_resets_the_channel():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(6 * 4 * 4, 2))
    with torch.no_grad():
        model[1].bias[[0, 3]] = -1e4  # BN shift keeps channels 0 and 3 below zero
    x = torch.randn(4, 3, 8, 8)
    with ActivationMonitor(model) as monitor:
        model(x)
        report = monitor.report()
        stats = report.layer("2")
        assert (stats.producer, stats.norm, stats.consumer) == ("0", "1", "5")
        assert stats.dead_units == [0, 3]
        model.eval()
        before = model(x)
        revive(model, report, check_inputs=x)
        assert torch.equal(before, model(x))
        assert model[1].bias[0] == 0 and model[1].weight[3] == 1
        assert model[1].running_var[0] == 1
        cols = torch.arange(16)
        assert torch.count_nonzero(model[5].weight[:, torch.cat([cols, 48 + cols])]) == 0
        model.train()
        model(x)
        assert monitor.report().layer("2").dead_units == []


def test_revive_refuses_without_a_located_consumer():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.act = nn.ReLU()

        def forward(self, x):
            return x + self.act(self.fc(x))

    torch.manual_seed(0)
    model = Residual()
    with torch.no_grad():
        model.fc.bias[2] = -1e4
    with ActivationMonitor(model) as monitor:
        model(torch.randn(10, 4))
        report = monitor.report()
    assert report.layer("act").dead_units == [2]
    weight = model.fc.weight.clone()
    with pytest.raises(ValueError, match="cannot revive layer act: cannot locate the consuming"):
        revive(model, report)
    assert torch.equal(weight, model.fc.weight)  # nothing changed
    summary = revive(model, report, strict=False)
    assert summary.total == 0 and "act" in summary.refused


def test_revive_refuses_a_two_sided_clamp():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU6(), nn.Linear(4, 1))
    with torch.no_grad():
        model[0].bias[0] = 100.0
    with ActivationMonitor(model) as monitor:
        model(torch.randn(200, 3))
        report = monitor.report()
    assert 0 in report.layer("1").dead_units  # stuck at the upper clamp, 6
    with pytest.raises(ValueError, match="relu6"):
        revive(model, report)


def _revived_run(opt_factory, mode="neutral", steps=4):
    """A dead-unit MLP trained a few steps, revived, then trained on: returns what a test
    needs to compare the revived rows with a fresh optimizer fed the same gradients."""
    model = _dead_mlp()
    opt = opt_factory(model.parameters())
    x, target = torch.randn(64, 8), torch.randn(64, 3)

    def step():
        opt.zero_grad()
        nn.functional.mse_loss(model(x), target).backward()
        opt.step()

    with ActivationMonitor(model, optimizer=opt) as monitor:
        for _ in range(steps):
            step()
            report = monitor.step()
        with torch.no_grad():  # long-running state: big moments on the dead rows
            for value in opt.state[model[0].weight].values():
                if value.dim():
                    value[[1, 4, 9]] = 1.0
        summary = revive(model, report, optimizer=opt, monitor=monitor, adam_state=mode)
    assert summary.revived == {"1": [1, 4, 9]}
    # the reference: a fresh optimizer of the same kind on a copy of the revived rows
    rows = model[0].weight.detach()[[1, 4, 9]].clone().requires_grad_(True)
    fresh = opt_factory([rows])
    for _ in range(3):
        step()
        fresh.zero_grad()
        rows.grad = model[0].weight.grad[[1, 4, 9]].clone()
        fresh.step()
        yield model[0].weight.detach()[[1, 4, 9]], rows.detach()


@pytest.mark.parametrize("factory", [
    lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: torch.optim.Adagrad(ps, lr=0.1, initial_accumulator_value=0.1),
    lambda ps: torch.optim.RMSprop(ps, lr=0.01, momentum=0.5),
    lambda ps: torch.optim.Rprop(ps, lr=0.01),
    lambda ps: torch.optim.Adadelta(ps),
], ids=["sgd-momentum", "sgd-nesterov", "adagrad", "rmsprop", "rprop", "adadelta"])
def test_revived_rows_move_as_with_a_fresh_optimizer(factory):
    for revived, reference in _revived_run(factory):
        assert torch.allclose(revived, reference, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("factory", [
    lambda ps: torch.optim.Adam(ps, lr=0.01),
    lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1),
    lambda ps: torch.optim.Adam(ps, lr=0.01, amsgrad=True),
], ids=["adam", "adamw", "adam-amsgrad"])
def test_adam_bias_correction_mode_matches_a_fresh_adam(factory):
    for revived, reference in _revived_run(factory, mode="bias_correction", steps=30):
        assert torch.allclose(revived, reference, rtol=1e-5, atol=1e-6)


def test_unknown_optimizers_are_refused_before_any_change():
    model = _dead_mlp()
    opt = torch.optim.LBFGS(model.parameters())
    x = torch.randn(64, 8)
    with ActivationMonitor(model) as monitor:
        model(x)
        report = monitor.report()
        weight = model[0].weight.clone()
        with pytest.raises(TypeError, match="LBFGS.*supported: .*Adam"):
            revive(model, report, optimizer=opt, monitor=monitor)
        assert torch.equal(weight, model[0].weight)
        with pytest.raises(ValueError, match="adam_state"):
            revive(model, report, monitor=monitor, adam_state="fresh")


def test_only_units_inactive_at_the_current_weights_are_revived():
    model = _dead_mlp()
    x = torch.randn(64, 8)
    with ActivationMonitor(model) as monitor:
        model(x)
        report = monitor.report()
        assert report.layer("1").dead_units == [1, 4, 9]
        with torch.no_grad():
            model[0].bias[4] = 1e4  # the weights moved since the window: unit 4 fires now
        model.eval()
        before = model(x)
        summary = revive(model, report, check_inputs=x)
        assert summary.revived == {"1": [1, 9]} and summary.alive_now == {"1": [4]}
        assert model[0].bias[4] == 1e4 and torch.count_nonzero(model[3].weight[:, 4]) == 3
        assert torch.equal(before, model(x))
        with pytest.raises(ValueError, match="needs data to check"):
            revive(model, report)


def test_revive_checks_on_the_monitors_last_batch_by_default():
    model = _dead_mlp()
    x = torch.randn(64, 8)
    with ActivationMonitor(model) as monitor:
        model(x)
        report = monitor.report()
        assert monitor.last_inputs is not None and monitor.last_inputs[0][0] is x
        model.eval()
        before = model(x)
        assert revive(model, report, monitor=monitor).revived == {"1": [1, 4, 9]}
        assert torch.equal(before, model(x))
