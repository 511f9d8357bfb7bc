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
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.count_nonzero(opt.state[model[0].weight][key][[1, 4, 9]]) == 0
            assert torch.count_nonzero(opt.state[model[3].weight][key][:, [1, 4, 9]]) == 0
            assert torch.count_nonzero(opt.state[model[0].weight][key][0]) > 0  # untouched
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
        revive(model, report)
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
