"""torch.compile and autocast. Most of the compile checks use the "aot_eager" backend (it traces
forward and backward through AOTAutograd as inductor does, without inductor's slow C++ code
generation on this 2-core machine); one test compiles with inductor."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402
from torch import nn  # noqa: E402

import relukit.torch as rt  # noqa: E402
from relukit.torch import functional as F  # noqa: E402

CASES = [
    ("relu", F.relu, TF.relu, 0),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.1), lambda x: TF.leaky_relu(x, 0.1), 0),
    ("relu6", F.relu6, TF.relu6, 0),
    ("hardtanh", lambda x: F.hardtanh(x, -2.0, 3.0), lambda x: TF.hardtanh(x, -2.0, 3.0), 0),
    ("elu", F.elu, TF.elu, 1e-6),
    ("elu_neg", lambda x: F.elu(x, -0.5), lambda x: TF.elu(x, -0.5), 1e-6),
    ("selu", F.selu, TF.selu, 1e-6),
    ("celu", lambda x: F.celu(x, 0.5), lambda x: TF.celu(x, 0.5), 1e-6),
    ("crelu", lambda x: F.crelu(x, 1),
     lambda x: torch.cat((TF.relu(x), TF.relu(-x)), 1), 0),
    ("gelu", F.gelu, TF.gelu, 0),
]


def _input():
    x = torch.randn(8, 50, generator=torch.Generator().manual_seed(0)) * 4
    x[0, :6] = torch.tensor([0.0, -0.0, 6.0, -2.0, 3.0, 1.0])
    return x


def _fwd_bwd(fn, x, grad):
    leaf = x.clone().requires_grad_()
    y = fn(leaf)
    y.backward(grad)
    return y.detach(), leaf.grad


@pytest.mark.parametrize("name,ours,ref,tol", CASES, ids=[c[0] for c in CASES])
def test_compile_aot_eager_full_graph(name, ours, ref, tol):
    torch._dynamo.reset()
    x = _input()
    y_ref = ref(x)
    grad = torch.randn(y_ref.shape, generator=torch.Generator().manual_seed(1))
    compiled = torch.compile(ours, backend="aot_eager", fullgraph=True)
    y, gx = _fwd_bwd(compiled, x, grad)
    y_r, gx_r = _fwd_bwd(ref, x, grad)
    torch.testing.assert_close(y, y_r, rtol=tol, atol=tol)
    torch.testing.assert_close(gx, gx_r, rtol=tol, atol=tol)


def test_compile_runs_torchs_op_for_prelu_kbit_and_rrelu():
    """Under torch.compile every relukit function is torch's own op (the partitioner decides
    what to save): no graph break, torch's values and exact gradients, bits=k included."""
    torch._dynamo.reset()
    x = _input()
    w = torch.tensor([0.25], requires_grad=True)
    for ours, ref in [
        (lambda t: F.prelu(t, w), lambda t: TF.prelu(t, w)),
        (lambda t: F.gelu(t, bits=8), TF.gelu),
        (lambda t: F.silu(t, bits=2), TF.silu),
        (lambda t: F.rrelu(t, training=True), lambda t: TF.rrelu(t, training=True)),
    ]:
        explain = torch._dynamo.explain(ours)(x.clone().requires_grad_())
        assert explain.graph_break_count == 0, explain.break_reasons
        torch._dynamo.reset()
        compiled = torch.compile(ours, backend="aot_eager", fullgraph=True)
        torch.manual_seed(0)
        y, gx = _fwd_bwd(compiled, x, torch.ones(x.shape))
        torch.manual_seed(0)
        y_r, gx_r = _fwd_bwd(torch.compile(ref, backend="aot_eager", fullgraph=True), x,
                             torch.ones(x.shape))
        torch.testing.assert_close(y, y_r, rtol=0, atol=0)
        torch.testing.assert_close(gx, gx_r, rtol=0, atol=0)


def test_compile_inductor_block():
    """The one inductor compile (about 10-20 s here): a Linear -> relukit act -> Linear block."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 64), rt.ReLU(), nn.Linear(64, 64), rt.ELU(),
                          nn.Linear(64, 4))
    ref = nn.Sequential(*[m if isinstance(m, nn.Linear) else
                          {rt.ReLU: nn.ReLU, rt.ELU: nn.ELU}[type(m)]() for m in model])
    x = torch.randn(32, 16)
    compiled = torch.compile(model, backend="inductor", fullgraph=True)
    out = compiled(x)
    out.square().sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    out_ref = ref(x)
    out_ref.square().sum().backward()
    torch.testing.assert_close(out, out_ref, rtol=1e-5, atol=1e-6)
    for g, p in zip(grads, ref.parameters(), strict=True):
        torch.testing.assert_close(g, p.grad, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- autocast


@pytest.mark.parametrize("ours,theirs", [(rt.ReLU, nn.ReLU), (rt.LeakyReLU, nn.LeakyReLU),
                                         (rt.ELU, nn.ELU), (rt.GELU, nn.GELU),
                                         (rt.Hardtanh, nn.Hardtanh)])
def test_cpu_autocast_bfloat16(ours, theirs):
    torch.manual_seed(0)
    lin1, lin2 = nn.Linear(12, 40), nn.Linear(40, 3)
    x = torch.randn(16, 12)
    results = []
    for act in (ours(), theirs()):
        for p in (*lin1.parameters(), *lin2.parameters()):
            p.grad = None
        with torch.autocast("cpu", dtype=torch.bfloat16):
            h = act(lin1(x))
            assert h.dtype == torch.bfloat16
            out = lin2(h)
        out.float().sum().backward()
        results.append((out.detach(), lin1.weight.grad.clone()))
    (out, grad), (out_ref, grad_ref) = results
    assert torch.equal(out, out_ref)
    tol = 0 if ours in (rt.ReLU, rt.LeakyReLU, rt.Hardtanh, rt.GELU) else 2e-2
    torch.testing.assert_close(grad, grad_ref, rtol=tol, atol=tol)
