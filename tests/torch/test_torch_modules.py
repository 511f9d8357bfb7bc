"""relukit.torch modules as drop-ins for torch.nn: signatures, repr, state_dicts, pickling."""

from __future__ import annotations

import copy
import inspect
import io
import pickle

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import relukit  # noqa: E402
import relukit.torch as rt  # noqa: E402

# relukit module, torch.nn module, constructor kwargs
PAIRS = [
    (rt.ReLU, nn.ReLU, {}), (rt.LeakyReLU, nn.LeakyReLU, {"negative_slope": 0.2}),
    (rt.PReLU, nn.PReLU, {"num_parameters": 3, "init": 0.1}), (rt.RReLU, nn.RReLU, {}),
    (rt.ReLU6, nn.ReLU6, {}), (rt.ELU, nn.ELU, {"alpha": 0.5}), (rt.CELU, nn.CELU, {}),
    (rt.SELU, nn.SELU, {}), (rt.GELU, nn.GELU, {"approximate": "tanh"}), (rt.SiLU, nn.SiLU, {}),
    (rt.Mish, nn.Mish, {}), (rt.Hardtanh, nn.Hardtanh, {"min_val": -2.0, "max_val": 3.0}),
    (rt.Softplus, nn.Softplus, {"beta": 2.0}), (rt.Sigmoid, nn.Sigmoid, {}),
    (rt.Tanh, nn.Tanh, {}),
]
IDS = [p[0].__name__ for p in PAIRS]


@pytest.mark.parametrize("ours,theirs,kwargs", PAIRS, ids=IDS)
def test_drop_in_for_torch_nn(ours, theirs, kwargs):
    ours_params = inspect.signature(ours.__init__).parameters
    for name, p in inspect.signature(theirs.__init__).parameters.items():
        assert name in ours_params and ours_params[name].default == p.default, name
    a, b = ours(**kwargs), theirs(**kwargs)
    assert isinstance(a, theirs)
    assert repr(a) == repr(b)
    relukit.get(a.catalogue_name)  # a catalogue name the diagnostics can look up
    assert a.catalogue_name == relukit.get(a.catalogue_name).name
    a.load_state_dict(b.state_dict())
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    x = torch.randn(4, 3, 5)
    torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)


def test_bits_argument_and_repr():
    assert repr(rt.GELU(bits=4)) == "GELU(approximate='none', bits=4)"
    assert repr(rt.SiLU(bits=2)) == "SiLU(bits=2)"
    assert repr(rt.Mish(inplace=True, bits=3)) == "Mish(inplace=True, bits=3)"
    assert repr(rt.CReLU()) == "CReLU(dim=1)"
    with pytest.raises(ValueError, match="bits"):
        rt.GELU(bits=0)
    with pytest.raises(ValueError, match="bits"):
        rt.SiLU(bits=9)


def test_prelu_state_dict_interchange_both_ways():
    ours, theirs = rt.PReLU(4), nn.PReLU(4)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor([0.1, -0.2, 0.3, 0.0]))
    ours.load_state_dict(theirs.state_dict())
    assert list(ours.state_dict()) == ["weight"]
    assert torch.equal(ours.weight, theirs.weight)
    with torch.no_grad():
        ours.weight.mul_(2)
    theirs.load_state_dict(ours.state_dict())
    assert torch.equal(theirs.weight, ours.weight)


@pytest.mark.parametrize("ours,theirs,kwargs", PAIRS + [(rt.CReLU, None, {"dim": 2})],
                         ids=IDS + ["CReLU"])
def test_save_load_deepcopy_pickle(ours, theirs, kwargs):
    m = ours(**kwargs)
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    fresh = ours(**kwargs)
    fresh.load_state_dict(state)
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m)), fresh):
        assert type(clone) is type(m) and repr(clone) == repr(m)
        m.eval(), clone.eval()
        x = torch.randn(2, 3, 4)
        assert torch.equal(clone(x), m(x))
    buf = io.BytesIO()
    torch.save(m, buf)  # whole-module pickling through torch.save
    buf.seek(0)
    assert repr(torch.load(buf, weights_only=False)) == repr(m)


def test_modules_train_a_small_net_like_torch():
    torch.manual_seed(0)
    ref = nn.Sequential(nn.Linear(6, 16), nn.LeakyReLU(0.1), nn.Linear(16, 16), nn.ELU(),
                        nn.Linear(16, 8), nn.PReLU(), nn.Linear(8, 1))
    ours = copy.deepcopy(ref)
    ours[1], ours[3], ours[5] = rt.LeakyReLU(0.1), rt.ELU(), rt.PReLU()
    ours[5].load_state_dict(ref[5].state_dict())
    x, target = torch.randn(32, 6), torch.randn(32, 1)
    for model in (ref, ours):
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        for _ in range(5):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), target).backward()
            opt.step()
    for p, q in zip(ref.parameters(), ours.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_rrelu_module_follows_train_and_eval():
    m = rt.RReLU(0.1, 0.3)
    x = -torch.ones(1000)
    m.train()
    assert m(x).std() > 0.01
    m.eval()
    assert torch.equal(m(x), nn.RReLU(0.1, 0.3).eval()(x))


def test_import_error_message_without_torch(tmp_path):
    import subprocess
    import sys

    # a fake, broken torch first on the path: relukit.torch must say how to install it
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text("raise ImportError('no torch here')\n")
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
        "import relukit\n"
        "try:\n    import relukit.torch\nexcept ImportError as e:\n    print('MSG', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert "pip install '.[torch]'" in out.stdout, out.stdout + out.stderr


def test_distributed_data_parallel_single_rank(tmp_path):
    import torch.distributed as dist

    if not dist.is_available():
        pytest.skip("torch.distributed is not available")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}",
                            rank=0, world_size=1)
    try:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 12), rt.LeakyReLU(0.1), nn.Linear(12, 12),
                              rt.PReLU(12), nn.Linear(12, 1), rt.GELU(bits=4))
        plain = copy.deepcopy(model)
        ddp = nn.parallel.DistributedDataParallel(model)
        x = torch.randn(16, 5)
        ddp(x).sum().backward()
        plain(x).sum().backward()
        for p, q in zip(model.parameters(), plain.parameters(), strict=True):
            torch.testing.assert_close(p.grad, q.grad)
    finally:
        dist.destroy_process_group()
