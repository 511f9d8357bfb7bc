"""ActivationMonitor counting: dead, alive-on-one-sample, exact zeros, channels, saturation."""

import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from relukit.diagnostics import ActivationMonitor, LayerStats, MonitorReport  # noqa: E402


def _linear(weight, bias):
    layer = nn.Linear(len(weight[0]), len(weight))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight, dtype=torch.float32))
        layer.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    return layer


def test_dead_by_construction_and_single_sample_alive():
    # unit 0 fires on every positive x, unit 1 only on the one x above 10, unit 2 never.
    model = nn.Sequential(_linear([[1.0], [1.0], [1.0]], [0.0, -10.0, -1e4]), nn.ReLU())
    x = torch.tensor([[-1.0], [2.0], [3.0], [20.0], [-5.0]])
    with ActivationMonitor(model) as monitor:
        model(x)
        report = monitor.report()
    stats = report.layer("1")
    assert isinstance(report, MonitorReport) and isinstance(stats, LayerStats)
    assert stats.activation == "relu"
    assert stats.units == 3
    assert stats.dead_units == [2]
    assert stats.dead_fraction == pytest.approx(1 / 3)
    y = model(x)
    assert stats.sparsity == pytest.approx(float((y == 0).float().mean()))
    assert stats.observations == 5
    assert stats.active_fraction == pytest.approx([3 / 5, 1 / 5, 0.0])


def test_exactly_zero_units_are_dead_and_counted_as_zeros():
    torch.manual_seed(0)
    fc = nn.Linear(6, 5)
    with torch.no_grad():
        fc.weight[[1, 3]] = 0.0
        fc.bias[[1, 3]] = 0.0
    model = nn.Sequential(fc, nn.ReLU(), nn.Linear(5, 2))
    x = torch.randn(200, 6)
    with ActivationMonitor(model) as monitor:
        model(x)
        stats = monitor.report().layer("1")
    assert stats.dead_units == [1, 3]
    hidden = torch.relu(fc(x))
    assert stats.sparsity == pytest.approx(float((hidden == 0).float().mean()))
    assert stats.producer == "0" and stats.consumer == "2"


def test_conv_channels_are_units():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, padding=1)
    with torch.no_grad():
        conv.bias[1] = -1e4
    model = nn.Sequential(conv, nn.ReLU(), nn.Conv2d(4, 2, 1))
    with ActivationMonitor(model) as monitor:
        model(torch.randn(2, 3, 8, 8))
        model(torch.randn(3, 3, 8, 8))
        stats = monitor.report().layer("1")
    assert stats.units == 4 and stats.unit_dim == 1
    assert stats.dead_units == [1]
    assert stats.observations == 5 * 8 * 8


def test_sequence_units_are_the_last_dim_and_unit_dim_overrides():
    torch.manual_seed(0)
    fc = nn.Linear(4, 3)
    with torch.no_grad():
        fc.bias[2] = -1e4
    model = nn.Sequential(fc, nn.ReLU())
    x = torch.randn(2, 7, 4)  # (N, T, C)
    with ActivationMonitor(model) as monitor:
        model(x)
        stats = monitor.report().layer("1")
    assert (stats.units, stats.unit_dim, stats.dead_units) == (3, 2, [2])
    with ActivationMonitor(model, unit_dim=1) as monitor:
        model(x)
        stats = monitor.report().layer("1")
    assert (stats.units, stats.unit_dim) == (7, 1)
    with pytest.raises(ValueError, match="unit_dim=5"):
        with ActivationMonitor(model, unit_dim=5):
            model(x)


def test_conv1d_outputs_count_channels_not_positions():
    torch.manual_seed(0)
    conv = nn.Conv1d(2, 5, 3)
    with torch.no_grad():
        conv.bias[3] = -1e4
    model = nn.Sequential(conv, nn.BatchNorm1d(5), nn.ReLU())
    with torch.no_grad():
        model[1].bias[3] = -1e4
    with ActivationMonitor(model) as monitor:
        model(torch.randn(4, 2, 9))  # (N, C, L): 3-D, but channels are the units
        stats = monitor.report().layer("2")
    assert (stats.units, stats.unit_dim, stats.dead_units) == (5, 1, [3])


def test_sigmoid_saturation_and_leaky_negative_side():
    torch.manual_seed(0)
    fc = _linear([[0.1, 0.1], [0.1, 0.1], [0.1, 0.1]], [0.0, 50.0, -50.0])
    model = nn.Sequential(fc, nn.Sigmoid(), _linear([[1.0, 0, 0], [0, 0, 0]], [-0.5, 0]),
                          nn.LeakyReLU(0.1))
    x = torch.randn(100, 2)
    with ActivationMonitor(model) as monitor:
        model(x)
        report = monitor.report()
    sig, leaky = report.layer("1"), report.layer("3")
    assert sig.activation == "sigmoid"
    assert sig.inactive_units == [1, 2]
    hidden = torch.sigmoid(fc(x))
    exact = ((hidden == 0) | (hidden == 1)).all(dim=0)  # f' = y(1 - y) exactly 0
    assert sig.dead_units == exact.nonzero().flatten().tolist() == [1]
    assert sig.saturated_fraction == pytest.approx(2 / 3)
    assert leaky.dead_units == [] and leaky.saturated_fraction is None
    pre = model[2](model[1](fc(x)))
    assert leaky.negative_fraction == pytest.approx(float((pre < 0).float().mean()))
    assert any("saturated" in cause for cause in report.causes)


def test_relu6_upper_clamp_and_custom_catalogue_module():
    class Clamp6(nn.Module):  # stands for a relukit.torch module: recognised by the attribute
        catalogue_name = "relu6"

        def forward(self, x):
            return x.clamp(0, 6)

    model = nn.Sequential(_linear([[1.0], [1.0], [1.0]], [0.0, 100.0, -100.0]), Clamp6())
    with ActivationMonitor(model) as monitor:
        model(torch.linspace(-3, 3, 50).unsqueeze(1))
        stats = monitor.report().layer("1")
    assert stats.activation == "relu6"
    assert stats.dead_units == [1, 2]  # stuck at 6 and stuck at 0


def test_hugging_face_activations_are_recognised():
    activations = pytest.importorskip("transformers.activations")
    torch.manual_seed(1)
    fc = nn.Linear(4, 3)
    with torch.no_grad():
        fc.bias[0] = -1e4
    model = nn.Sequential(nn.Linear(4, 4), activations.NewGELUActivation(), fc,
                          activations.ReLUSquaredActivation())
    x = torch.randn(5, 6, 4)
    with ActivationMonitor(model) as monitor:
        model(x)
        report = monitor.report()
    assert [s.activation for s in report.layers] == ["NewGELUActivation", "ReLUSquaredActivation"]
    assert report.layer("1").negative_fraction is not None
    never_positive = (model[:3](x) <= 0).all(dim=0).all(dim=0)  # per unit of the last dim
    assert report.layer("3").dead_units == torch.nonzero(never_positive).flatten().tolist()
    assert 0 in report.layer("3").dead_units


def test_windows_history_and_report_of_empty_window():
    model = nn.Sequential(_linear([[1.0], [1.0]], [0.0, 0.0]), nn.ReLU())
    with ActivationMonitor(model, window=2) as monitor:
        model(torch.tensor([[1.0]]))
        assert monitor.step() is None
        model(torch.tensor([[-1.0]]))
        closed = monitor.step()  # unit fired in the first step: alive over the window
        assert closed is not None and closed.layer("1").dead_units == []
        model(torch.tensor([[-1.0]]))
        monitor.step()
        model(torch.tensor([[-2.0]]))
        with monitor.paused():
            model(torch.tensor([[5.0]]))  # not counted: the units stay dead
        monitor.step()
        assert monitor.report() is monitor.history[-1]
    assert monitor.dead_fraction_history() == {"1": [0.0, 1.0]}
    assert [r.step for r in monitor.history] == [2, 4]


def test_hooks_are_removed_on_exit_and_close():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    with ActivationMonitor(model):
        assert model[1]._forward_hooks
    assert not model[1]._forward_hooks and not model._forward_hooks
    monitor = ActivationMonitor(model)
    monitor.close()
    assert not model[1]._forward_hooks and not model[0]._forward_hooks


def test_report_serialises_and_prints():
    model = nn.Sequential(_linear([[1.0], [1.0]], [0.0, -1e4]), nn.ReLU(), nn.Linear(2, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with ActivationMonitor(model, optimizer=opt) as monitor:
        model(torch.randn(8, 1)).sum().backward()
        opt.step()
        report = monitor.step()
    data = json.loads(json.dumps(report.to_dict()))
    assert data["layers"][0]["dead_units"] == [1]
    assert {g["name"] for g in data["gradients"]} == {"0", "2"}
    text = str(report)
    assert "relu" in text and "dead" in text and "never fired" in text


@pytest.mark.parametrize("kwargs, error, words", [
    ({"window": 0}, ValueError, "window must be an int >= 1"),
    ({"window": 2.5}, TypeError, "window must be an int"),
    ({"saturation_margin": "a"}, TypeError, "saturation_margin must be a real number"),
    ({"saturation_margin": 0.7}, ValueError, r"saturation_margin must be in \(0, 0.5\)"),
    ({"saturation_margin": float("nan")}, ValueError, "saturation_margin"),
    ({"vanishing_ratio": 2}, ValueError, r"vanishing_ratio must be in \(0, 1\)"),
    ({"exploding_ratio": None}, TypeError, "exploding_ratio"),
    ({"exploding_ratio": -1}, ValueError, "exploding_ratio must be > 0"),
    ({"sync": "yes"}, TypeError, "sync must be True or False or None"),
    ({"track_gradients": 1}, TypeError, "track_gradients must be True or False"),
    ({"training_only": None}, TypeError, "training_only"),
    ({"keep_last_inputs": "no"}, TypeError, "keep_last_inputs"),
    ({"unit_dim": 1.5}, TypeError, "unit_dim must be None, an int or a dict"),
    ({"unit_dim": {"1": "x"}}, TypeError, "unit_dim"),
    ({"modules": "1"}, TypeError, "modules must be None or a list"),
])
def test_every_parameter_is_checked_up_front(kwargs, error, words):
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    with pytest.raises(error, match=words):
        ActivationMonitor(model, **kwargs)
    assert not model[1]._forward_hooks  # nothing was hooked


def test_bad_arguments_name_the_parameter():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    with pytest.raises(ValueError, match="modules"):
        ActivationMonitor(model, modules=["nope"])
    with pytest.raises(ValueError, match="not a recognised activation"):
        ActivationMonitor(model, modules=["0"])
    with pytest.raises(TypeError, match="optimizer"):
        ActivationMonitor(model, optimizer="adam")
    with pytest.raises(ValueError, match="no activation module"):
        ActivationMonitor(nn.Linear(2, 2))
    with pytest.raises(KeyError, match="monitored layers"):
        ActivationMonitor(model).report().layer("x")


def test_import_without_torch_says_how_to_install():
    code = ("import sys; sys.modules['torch'] = None\n"
            "try:\n    import relukit.diagnostics\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert "pip install" in out.stdout and "relukit[torch]" in out.stdout


class _SharedAct(nn.Module):
    """One ReLU module used after two layers of different widths, as many models do."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.head = nn.Linear(3, 5), nn.Linear(5, 4), nn.Linear(4, 1)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.head(self.act(self.fc2(self.act(self.fc1(x)))))


def test_a_shared_activation_module_gets_counts_per_call_and_can_be_revived():
    torch.manual_seed(0)
    model = _SharedAct()
    with torch.no_grad():
        model.fc1.bias[1] = -1e4
        model.fc2.bias[3] = -1e4
    x = torch.randn(30, 3)
    with ActivationMonitor(model) as monitor:
        model(x)
        report = monitor.report()
        first, second = report.layer("act"), report.layer("act#1")
        assert (first.units, first.dead_units, first.producer, first.consumer) == (
            5, [1], "fc1", "fc2")
        with monitor.paused():
            hidden = model.fc2(torch.relu(model.fc1(x)))
        expected = (hidden <= 0).all(dim=0).nonzero().flatten().tolist()
        assert 3 in expected
        assert (second.units, second.dead_units, second.producer, second.consumer) == (
            4, expected, "fc2", "head")
        assert second.module == "act"
        before = model(x)
        from relukit.diagnostics import revive

        assert revive(model, report, check_inputs=x).revived == {"act": [1], "act#1": expected}
        assert torch.equal(before, model(x))


def test_recomputation_during_backward_is_not_counted_twice():
    from torch.utils.checkpoint import checkpoint

    class Checkpointed(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = nn.Sequential(nn.Linear(3, 4), nn.ReLU())

        def forward(self, x):
            return checkpoint(self.block, x, use_reentrant=False).sum()

    model = Checkpointed()
    with ActivationMonitor(model) as monitor:
        model(torch.randn(6, 3, requires_grad=True)).backward()
        stats = monitor.report().layer("block.1")
    assert stats.observations == 6
    assert [s.name for s in monitor.report().layers] == ["block.1"]


def test_nan_outputs_are_not_counted_as_exact_zeros():
    model = torch.nn.Sequential(torch.nn.GELU())
    x = torch.tensor([[float("nan"), 0.0, 1.0, 2.0]])
    with ActivationMonitor(model) as monitor:
        model(x)
        stats = monitor.report().layers[0]
    assert stats.sparsity == pytest.approx(0.25)  # only gelu(0) is an exact zero


def test_training_only_ignores_forwards_in_eval_mode():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(2))
        model[0].bias.zero_()
    train_x = torch.tensor([[1.0, -1.0]])  # unit 1 never fires on training data
    eval_x = torch.tensor([[1.0, 1.0]])  # ... but does on evaluation data
    with ActivationMonitor(model, training_only=True) as monitor:
        model.train()
        model(train_x)
        model.eval()
        model(eval_x)
        assert monitor.report().layers[0].dead_units == [1]
    with ActivationMonitor(model) as monitor:  # default: every forward counts
        model.train()
        model(train_x)
        model.eval()
        model(eval_x)
        assert monitor.report().layers[0].dead_units == []


def test_a_forward_that_raises_adds_nothing():
    class Fails(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.act, self.out = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)

        def forward(self, x, fail=False):
            h = self.act(self.fc(x))
            if fail:
                raise RuntimeError("half-way")
            return self.out(h)

    model = Fails()
    with ActivationMonitor(model) as monitor:
        model(torch.randn(5, 2))
        with pytest.raises(RuntimeError, match="half-way"):
            model(torch.randn(7, 2), fail=True)
        assert monitor.report().layer("act").observations == 5
        model(torch.randn(3, 2))  # and counting goes on after the failure
        assert monitor.report().layer("act").observations == 8


@pytest.mark.parametrize("with_optimizer", [True, False])
def test_gradients_are_recorded_whatever_the_zero_grad_order(with_optimizer):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(16, 4)
    expected = []
    kwargs = {"optimizer": opt} if with_optimizer else {}
    with ActivationMonitor(model, window=2, **kwargs) as monitor:
        for _ in range(2):
            model(x).sum().backward()
            expected.append(float(model[0].weight.grad.square().sum()
                                  + model[0].bias.grad.square().sum()) ** 0.5)
            opt.step()
            opt.zero_grad()  # before monitor.step(): the gradients are gone by now
            report = monitor.step()
    norms = {g.name: g.norm for g in report.gradients}
    assert norms["0"] == pytest.approx(sum(expected) / 2, rel=1e-5)
    assert report.gradient_note is None


def test_the_report_says_why_it_has_no_gradients():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with ActivationMonitor(model, optimizer=opt) as monitor:
        model(torch.randn(4, 4)).sum().backward()  # no opt.step()
        report = monitor.step()
    assert report.gradients == [] and "no optimizer.step()" in report.gradient_note
    assert "no optimizer.step()" in str(report)
    with ActivationMonitor(model) as monitor:
        with torch.no_grad():
            model(torch.randn(4, 4))
        assert "no backward pass" in monitor.step().gradient_note
    with ActivationMonitor(model, track_gradients=False) as monitor:
        model(torch.randn(4, 4)).sum().backward()
        assert "track_gradients=False" in monitor.step().gradient_note
