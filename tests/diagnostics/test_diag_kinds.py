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


@pytest.mark.parametrize("module, expected", [
    (nn.ReLU(), ("gate", 0.0, None)),
    (nn.ReLU6(), ("gate", 0.0, 6.0)),
    (nn.Hardtanh(-2.0, 3.0), ("gate", -2.0, 3.0)),
    (nn.LeakyReLU(0.2), ("signed", None, None)),
    (nn.PReLU(), ("signed", None, None)),
    (nn.ELU(), ("signed", None, None)),
    (nn.GELU(), ("signed", None, None)),
    (nn.Softplus(), ("plain", None, None)),
    (nn.Sigmoid(), ("gate", 0.01, 0.99)),
    (nn.Tanh(), ("gate", -0.98, 0.98)),
])
def test_active_region_of_torch_modules(module, expected):
    spec = spec_for(module)
    assert spec.kind == expected[0]
    assert spec.low == pytest.approx(expected[1]) if expected[1] is not None else spec.low is None
    assert spec.high == pytest.approx(expected[2]) if expected[2] is not None else \
        spec.high is None
    assert spec_for(nn.Linear(2, 2)) is None


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
