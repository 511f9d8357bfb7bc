"""Gradient-flow verdicts and the explanation of deaths in real (small) training runs."""

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from relukit.diagnostics import ActivationMonitor  # noqa: E402


def _mlp(depth, width, act, he=False):
    layers = []
    for _ in range(depth):
        fc = nn.Linear(width, width)
        if he:
            nn.init.kaiming_normal_(fc.weight, nonlinearity="relu")
            nn.init.zeros_(fc.bias)
        layers += [fc, act()]
    return nn.Sequential(*layers, nn.Linear(width, 1))


def _one_step_report(model):
    x, y = torch.randn(128, 32), torch.randn(128, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    with ActivationMonitor(model, optimizer=opt) as monitor:
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        return monitor.step()


def test_deep_sigmoid_mlp_is_flagged_vanishing():
    torch.manual_seed(0)
    report = _one_step_report(_mlp(12, 32, nn.Sigmoid))
    verdicts = {g.name: g.verdict for g in report.gradients}
    assert verdicts["0"] == "vanishing"
    assert verdicts["24"] == "ok"  # the output layer gets the gradient
    assert any("vanishing" in c for c in report.causes)


def test_he_initialised_relu_mlp_is_not_flagged():
    torch.manual_seed(0)
    report = _one_step_report(_mlp(12, 32, nn.ReLU, he=True))
    assert len(report.gradients) == 13
    assert {g.verdict for g in report.gradients} == {"ok"}
    assert not any("vanishing" in c or "exploding" in c for c in report.causes)


def test_too_high_learning_rate_kills_units_and_the_cause_names_the_step():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(256, 10)
    y = 2 * x[:, :1] + 1
    jump = 20
    fired = []  # our own record: which hidden units fired in the forward of each step
    with ActivationMonitor(model, optimizer=opt) as monitor:
        for step in range(32):
            if step == jump:
                for group in opt.param_groups:
                    group["lr"] = 0.3
            with torch.no_grad():
                fired.append((model[0](x) > 0).any(dim=0))
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
            monitor.step()
    report = monitor.history[-1]
    dead = report.layer("1").dead_units
    assert len(dead) > 0
    assert all(step_fired.all() for step_fired in fired[:jump])  # all alive before the jump
    last_fired = [max(s for s, f in enumerate(fired) if f[u]) for u in dead]
    died_at = max(set(last_fired), key=last_fired.count) + 1
    assert died_at > jump
    lines = [c for c in report.causes if f"died at step {died_at}," in c]
    assert lines and "learning rate is too high" in lines[0]
    assert "lr 0.3" in lines[0]


def test_bias_cause_for_units_dead_by_construction():
    torch.manual_seed(0)
    fc = nn.Linear(8, 6)
    with torch.no_grad():
        fc.bias[[2, 5]] = -1e4
    model = nn.Sequential(fc, nn.ReLU(), nn.Linear(6, 1))
    with ActivationMonitor(model) as monitor:
        model(torch.randn(64, 8))
        report = monitor.report()
    assert report.layer("1").dead_units == [2, 5]
    assert any(c.startswith("bias of 0 drifted far below") and "2 dead units" in c
               for c in report.causes)
    assert any("never fired" in c for c in report.causes)


def test_amplifying_relu_mlp_is_flagged_exploding():
    torch.manual_seed(0)
    model = _mlp(12, 32, nn.ReLU, he=True)
    with torch.no_grad():
        for layer in model[:-1:2]:
            layer.weight *= 2.0  # each layer doubles the signal: 2**12 over the stack
    report = _one_step_report(model)
    verdicts = {g.name: g.verdict for g in report.gradients}
    assert set(verdicts.values()) == {"exploding"}
    assert any("exploding" in c for c in report.causes)


def test_layers_without_gradient_get_no_verdict():
    torch.manual_seed(0)

    class WithSpare(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
            self.unused = nn.Linear(4, 4)  # never called: its grad stays None

        def forward(self, x):
            return self.net(x)

    model = WithSpare()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with ActivationMonitor(model, optimizer=opt) as monitor:
        model(torch.randn(8, 4)).sum().backward()
        opt.step()
        report = monitor.step()
    assert [g.name for g in report.gradients] == ["net.0", "net.2"]


def test_prelu_slope_with_a_large_summed_gradient_is_not_called_exploding():
    # A PReLU slope's gradient sums over every element of the batch: against a near-zero
    # scalar parameter it is "100x the parameter" without anything exploding.
    torch.manual_seed(0)
    model = _mlp(2, 32, nn.PReLU, he=True)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.PReLU):
                m.weight.fill_(1e-4)
    report = _one_step_report(model)
    verdicts = {g.name: g.verdict for g in report.gradients}
    slopes = [n for n, m in model.named_modules() if isinstance(m, nn.PReLU)]
    grads = {g.name: g for g in report.gradients}
    assert any(grads[n].norm > 100 * grads[n].param_norm for n in slopes)  # the old rule fired
    assert all(verdicts[n] == "ok" for n in slopes)


def test_zero_initialised_head_is_not_called_exploding():
    torch.manual_seed(0)
    model = _mlp(2, 32, nn.ReLU, he=True)
    nn.init.zeros_(model[-1].weight)
    nn.init.zeros_(model[-1].bias)
    report = _one_step_report(model)
    head = [g for g in report.gradients if g.name == str(len(model) - 1)]
    # after one step of lr 1e-3 the head's weights are ~1e-3 of its gradient: the old rule
    # (gradient > 100x the weights) called that exploding
    assert head and head[0].norm > 100 * head[0].param_norm
    assert head[0].verdict == "ok"
