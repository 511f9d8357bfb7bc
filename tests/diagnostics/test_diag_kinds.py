"""Recognition of activation modules (relukit.torch, torch.nn) and what counts as active."""

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from relukit.diagnostics import ActivationMonitor, spec_for  # noqa: E402


def test_every_relukit_torch_module_is_recognised_by_its_catalogue_name():
    modules = pytest.importorskip("relukit.torch.modules")
    classes = [c for c in vars(modules).values()
               if isinstance(c, type) and issubclass(c, nn.Module) and c.__dict__.get(
                   "catalogue_name")]
    assert len(classes) >= 16
    for cls in classes:
        spec = spec_for(cls())
        assert spec is not None and spec.name == cls.catalogue_name, cls


@pytest.mark.parametrize("module", [
    nn.ReLU(), nn.ReLU6(), nn.Hardtanh(-2.0, 3.0), nn.LeakyReLU(0.2), nn.PReLU(), nn.RReLU(),
    nn.ELU(), nn.CELU(0.5), nn.SELU(), nn.GELU(), nn.SiLU(), nn.Mish(), nn.Softplus(),
    nn.Sigmoid(), nn.Tanh()])
def test_inactive_means_the_low_gradient_side_for_every_activation(module):
    """Checked against torch's own derivative, on a dense grid of inputs: where the spec says
    inactive, |f'| is at the low end (0, the negative slope, or < 1% of its peak); where it
    says active, it is not; dead means torch's f' is exactly 0."""
    import relukit

    spec = spec_for(module)
    module.eval()  # rrelu: the mean slope
    x = torch.linspace(-30, 30, 60001, dtype=torch.float32, requires_grad=True)
    y = module(x.clone())
    (d,) = torch.autograd.grad(y.sum(), x)
    d, y, x = d.abs(), y.detach(), x.detach()
    v = x if spec.on_input else y
    active = torch.ones_like(v, dtype=torch.bool)
    if spec.low is not None:
        active &= v > spec.low
    if spec.high is not None:
        active &= v < spec.high
    peak = float(d.max())
    if relukit.get(spec.name).shape == "piecewise_linear":
        low_slope = float(d.min())  # 0 for relu-types, the negative slope otherwise
        assert torch.all(d[~active] <= low_slope + 1e-6)
        assert torch.all(d[active] > low_slope)
    elif not spec.on_input:  # monotone: the active outputs are exactly where |f'| is large
        assert torch.all(d[~active] < 0.0101 * peak), spec
        assert torch.all(d[active] >= 0.0099 * peak), spec
    else:  # gelu, silu, mish: f' also crosses 0 at the minimum; only the tail is inactive
        assert torch.all(d[~active] < 0.0101 * peak), spec
        edge = (x > spec.low) & (x < spec.low + 0.05)
        assert torch.all(d[edge] >= 0.0099 * peak), spec
    assert (~active).any() and active.any()
    if spec.can_die:
        dead = torch.zeros_like(active)
        if spec.dead_low is not None:
            dead |= v <= spec.dead_low
        if spec.dead_high is not None:
            dead |= v >= spec.dead_high
        assert torch.all(d[dead] == 0)
    assert spec_for(nn.Linear(2, 2)) is None


def test_dead_and_inactive_are_separate_columns_for_every_activation():
    torch.manual_seed(0)
    acts = [nn.ReLU(), nn.LeakyReLU(0.1), nn.PReLU(3), nn.ELU(), nn.Sigmoid(), nn.Tanh(),
            nn.GELU()]
    x = torch.rand(64, 1) + 0.5
    fc = nn.Linear(1, 3)
    with torch.no_grad():
        fc.weight.fill_(1.0)
        fc.bias.copy_(torch.tensor([0.0, -12.0, -14.0]))  # alive, far in the tails
    for act in acts:
        model = nn.Sequential(fc, act)
        with ActivationMonitor(model) as monitor:
            model(x)
            stats = monitor.report().layer("1")
        assert stats.inactive_units == [1, 2], act
        assert stats.inactive_rule
        # dead: torch's own derivative is exactly 0 on every sample (gelu: not counted, its
        # f' underflows to 0 only far in the tail, where the unit is reported inactive)
        pre = fc(x).detach().requires_grad_(True)
        (d,) = torch.autograd.grad(act(pre).sum(), pre)
        if stats.activation != "gelu":
            assert stats.dead_units == (d == 0).all(dim=0).nonzero().flatten().tolist(), act
        assert stats.can_die == (stats.activation in ("relu", "sigmoid", "tanh"))
        if stats.activation == "relu":
            assert stats.dead_units == [1, 2]
        text = str(monitor.report())
        assert "inact" in text and "dead" in text


def test_prelu_slopes_are_reported_per_layer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.PReLU(4))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([0.25, 0.01, -0.2, 0.5]))
    with ActivationMonitor(model) as monitor:
        model(torch.randn(10, 2))
        stats = monitor.report().layer("1")
    assert stats.slopes == pytest.approx([0.25, 0.01, -0.2, 0.5])
    assert stats.slope_summary["min"] == pytest.approx(-0.2)
    assert stats.slope_summary["relu_like"] == 2
    assert "prelu slopes" in str(monitor.report())
    assert any("2 of 4 PReLU slopes" in c for c in monitor.report().causes)


def test_hardtanh_units_stuck_at_either_clamp_are_dead():
    fc = nn.Linear(1, 3)
    with torch.no_grad():
        fc.weight.fill_(1.0)
        fc.bias.copy_(torch.tensor([0.0, 50.0, -50.0]))
    model = nn.Sequential(fc, nn.Hardtanh(-2.0, 3.0))
    with ActivationMonitor(model) as monitor:
        model(torch.linspace(-1, 1, 20).unsqueeze(1))
        assert monitor.report().layer("1").dead_units == [1, 2]


def test_inplace_relu_is_counted_and_its_neighbours_found():
    torch.manual_seed(0)
    fc = nn.Linear(4, 6)
    with torch.no_grad():
        fc.bias[4] = -1e4
    model = nn.Sequential(fc, nn.ReLU(inplace=True), nn.Linear(6, 2))
    x = torch.randn(50, 4)
    expected = (fc(x) <= 0).all(dim=0).nonzero().flatten().tolist()
    with ActivationMonitor(model) as monitor:
        model(x)
        stats = monitor.report().layer("1")
    assert 4 in expected and stats.dead_units == expected
    assert (stats.producer, stats.consumer) == ("0", "2")


def test_relukit_relu_dead_units():
    rt = pytest.importorskip("relukit.torch")
    fc = nn.Linear(3, 4)
    with torch.no_grad():
        fc.bias[[0, 2]] = -1e4
        fc.bias[[1, 3]] = 1e4
    model = nn.Sequential(fc, rt.ReLU())
    with ActivationMonitor(model) as monitor:
        model(torch.randn(10, 3)).sum().backward()
        stats = monitor.report().layer("1")
    assert (stats.activation, stats.dead_units) == ("relu", [0, 2])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_counting_and_step_do_not_synchronise_the_gpu():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.Sigmoid(),
                          nn.Linear(64, 1)).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(128, 32, device="cuda")

    def train_step():
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()
        monitor.step()

    with ActivationMonitor(model, optimizer=opt, window=100) as monitor:
        for _ in range(2):  # first steps allocate and trace: allowed to sync
            train_step()
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            for _ in range(3):
                train_step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
        assert monitor.report().layer("1").units == 64
