"""torch.func (grad, vjp, jacrev, hessian, vmap, per-sample grads), forward-mode AD, batched
grads and vectorised jacobians: relukit's modules (and a model after convert()) against
torch's, under the same transform.

Every cell is a function ``cell(act, x, g, eager)``: ``eager=False`` runs the transform,
``eager=True`` the same quantity with plain autograd (loops where needed). A relukit module under
the transform is compared with torch's module under the transform; a ``bits=k`` module (an
approximate gradient by design) with its own ``eager=True`` result, and its forward with torch's.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.autograd.forward_ad as fwAD  # noqa: E402
from compat_cases import (  # noqa: E402
    CASES,
    build_act,
    build_model,
    case_params,
    compare,
    randn_like,
    reference_act,
    run_pair,
    x_input,
)
from torch import nn  # noqa: E402
from torch.func import functional_call  # noqa: E402


def _params(act):
    return {k: v.detach().clone() for k, v in act.named_parameters()}


def _call(act, names, *args):
    """act applied to args[-1] (+0, so in-place modules never see a leaf) with args[:-1] as
    its parameters."""
    *ps, x = args
    return functional_call(act, dict(zip(names, ps, strict=False)), (x + 0,))


def _leaves(ts):
    return [t.detach().clone().requires_grad_() for t in ts]


def cell_grad(act, x, g, eager):
    names = list(_params(act))
    args = (*_params(act).values(), x)

    def loss(*a):
        return (_call(act, names, *a) * g).sum()

    if eager:
        leaves = _leaves(args)
        return torch.autograd.grad(loss(*leaves), leaves)
    return torch.func.grad(loss, argnums=tuple(range(len(args))))(*args)


def cell_vjp(act, x, g, eager):
    names = list(_params(act))
    args = (*_params(act).values(), x)
    if eager:
        leaves = _leaves(args)
        out = _call(act, names, *leaves)
        return (out.detach(), *torch.autograd.grad(out, leaves, g))
    out, fn = torch.func.vjp(lambda *a: _call(act, names, *a), *args)
    return (out, *fn(g))


def cell_jacrev(act, x, g, eager):
    names = list(_params(act))
    args = (*_params(act).values(), x)

    def fn(*a):
        return _call(act, names, *a)

    if eager:
        return torch.autograd.functional.jacobian(fn, args, vectorize=False)
    return torch.func.jacrev(fn, argnums=tuple(range(len(args))))(*args)


def cell_hessian(act, x, g, eager):
    names = list(_params(act))
    args = (*_params(act).values(), x[:2])  # 12 inputs: a 12x12 hessian
    g = g[:2]

    def loss(*a):
        return (_call(act, names, *a) * g).sum()

    if eager:
        return torch.autograd.functional.hessian(loss, args, vectorize=False)
    return torch.func.hessian(loss, argnums=tuple(range(len(args))))(*args)


def cell_vmap(act, x, g, eager):
    """vmap over a batch of (4, 6) samples, forward and backward through the vmapped call."""
    xb = torch.stack([x, x.flip(0), -x])
    gb = torch.stack([g, g.flip(0), g * 2])
    leaves = _leaves([xb, *act.parameters()])
    names = [k for k, _ in act.named_parameters()]

    def one(xi):
        return functional_call(act, dict(zip(names, leaves[1:], strict=False)), (xi + 0,))

    y = torch.stack([one(xi) for xi in leaves[0]]) if eager else torch.func.vmap(one)(leaves[0])
    return (y.detach(), *torch.autograd.grad(y, leaves, gb))


def cell_batched_grad(act, x, g, eager):
    """autograd.grad(..., is_grads_batched=True) with 3 upstream gradients."""
    gb = torch.stack([g, -g, g * 0.5])
    leaves = _leaves([x, *act.parameters()])
    names = [k for k, _ in act.named_parameters()]
    y = functional_call(act, dict(zip(names, leaves[1:], strict=False)), (leaves[0] + 0,))
    if eager:
        rows = [torch.autograd.grad(y, leaves, gi, retain_graph=True) for gi in gb]
        return [torch.stack(r) for r in zip(*rows, strict=False)]
    return torch.autograd.grad(y, leaves, gb, is_grads_batched=True)


def cell_jacobian_vectorize(act, x, g, eager):
    names = list(_params(act))
    args = (*_params(act).values(), x)
    return torch.autograd.functional.jacobian(lambda *a: _call(act, names, *a), args,
                                              vectorize=not eager)


CELLS = {
    "grad": cell_grad,
    "vjp": cell_vjp,
    "jacrev": cell_jacrev,
    "hessian": cell_hessian,
    "vmap": cell_vmap,
    "batched_grad": cell_batched_grad,
    "jacobian_vectorize": cell_jacobian_vectorize,
}


#: bits=k under a torch.func transform: relukit runs torch's op there (the k-bit code is an
#: eager-mode memory trade), so the gradient is torch's exact one.
KBIT_EXACT_FALLBACK_OK = True


def _check_cell(cell, case, flavour, note):
    x = x_input()
    y_torch = case.make_torch()(x + 0)
    g = randn_like(y_torch)
    ours = build_act(case, flavour)
    # the forward under the transform is torch's (bitwise), bits=k included
    assert torch.equal(ours(x + 0).detach(), y_torch)
    ref_act = reference_act(case)
    ref = (lambda: cell(ref_act, x, g, eager=True)) if case.kbit else (
        lambda: cell(ref_act, x, g, eager=False))
    def check(o, r):
        if case.kbit and KBIT_EXACT_FALLBACK_OK:
            try:
                compare(o, cell(case.make_torch(), x, g, eager=False), case, cell.__name__)
                note("fallback", "bits=k: torch's exact gradient under torch.func")
                return
            except AssertionError:
                pass
        compare(o, r, case, cell.__name__)

    run_pair(ref, lambda: cell(ours, x, g, eager=False), check, note)


@pytest.mark.parametrize("case,flavour", case_params())
@pytest.mark.parametrize("cell", ["grad", "vjp", "jacrev", "vmap", "batched_grad",
                                  "jacobian_vectorize"])
def test_func(cell, case, flavour, note):
    _check_cell(CELLS[cell], case, flavour, note)


@pytest.mark.parametrize("case,flavour", case_params())
def test_func_hessian(case, flavour, note):
    """Piecewise-linear: 0, compared all the same. bits=k has no second derivative: the
    transform must either give torch's exact hessian (falling back to torch's op) or fail like
    relukit's own double backward does."""
    if not case.kbit:
        _check_cell(cell_hessian, case, flavour, note)
        return
    x = x_input()
    g = randn_like(x)
    ours = build_act(case, flavour)
    exact = cell_hessian(case.make_torch(), x, g, eager=False)
    try:
        eager_err = None
        cell_hessian(case.make_ours(), x, g, eager=True)
    except Exception as e:  # noqa: BLE001
        eager_err = type(e)
    try:
        got = cell_hessian(ours, x, g, eager=False)
    except Exception as e:  # noqa: BLE001
        assert eager_err is not None and isinstance(e, eager_err), (
            f"hessian under torch.func raises {type(e).__name__}: {e}")
        note("torch_fails", "bits=k has no second derivative: raises like double backward")
        return
    compare(got, exact, case, "hessian (torch's exact fallback)", tol=(1e-5, 1e-5))
    note("fallback", "bits=k hessian is torch's exact one")


# ----------------------------------------------------------------------------- per-sample grads


@pytest.mark.parametrize("case,flavour", case_params())
def test_func_per_sample_grads(case, flavour, note):
    """vmap(grad(loss)) with functional_call on Linear -> act -> Linear, against torch's model
    under the same transform (bits=k: against relukit's model, one sample at a time)."""
    X = x_input((5, 6), seed=3)
    Y = x_input((5, 3), seed=4)
    ours = build_model(case, flavour)
    kbit_eager = case.kbit and not KBIT_EXACT_FALLBACK_OK
    ref_model = build_model(case, "relukit" if kbit_eager else "torch")

    def per_sample(model, eager):
        params = {k: v.detach() for k, v in model.named_parameters()}

        def loss(p, x, y):
            out = functional_call(model, p, (x.unsqueeze(0),))
            return nn.functional.mse_loss(out, y.unsqueeze(0))

        if not eager:
            return torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))(params, X, Y)
        names = [k for k, _ in model.named_parameters()]
        rows = [dict(zip(names, torch.autograd.grad(_eager_loss(model, X[i], Y[i]),
                                                    list(model.parameters())), strict=False))
                for i in range(len(X))]
        return {k: torch.stack([r[k] for r in rows]) for k in params}

    run_pair(lambda: per_sample(ref_model, eager=kbit_eager),
             lambda: per_sample(ours, eager=False),
             lambda o, r: compare(o, r, case, "per-sample grads",
                                  tol=None if not case.bitwise else (1e-6, 1e-6)), note)


def _eager_loss(model, x, y):
    return nn.functional.mse_loss(model(x.unsqueeze(0)), y.unsqueeze(0))


# ----------------------------------------------------------------------------- forward mode


def _fwd_ad(model, x, t):
    with fwAD.dual_level():
        out = model(fwAD.make_dual(x, t))
        primal, tangent = fwAD.unpack_dual(out)
    return primal.detach(), tangent


def _func_jvp(model, x, t):
    params = {k: v.detach() for k, v in model.named_parameters()}
    tangents = {k: randn_like(v, seed=7) for k, v in params.items()}
    return torch.func.jvp(lambda p, x: functional_call(model, p, (x,)), (params, x),
                          (tangents, t))


def _kbit_tangent(model, x, t, param_tangents: bool):
    """The bits=k derivative applied to the tangent: act is elementwise, so its jvp with a
    tangent equals its vjp with it (what the non-transformed bits=k backward computes)."""
    lin, act = model[0], model[1]
    with torch.no_grad():
        z = lin(x)
        zt = nn.functional.linear(t, lin.weight)
        if param_tangents:
            tw = randn_like(lin.weight, seed=7)
            tb = randn_like(lin.bias, seed=7)
            zt = zt + nn.functional.linear(x, tw, tb)
    z = z.clone().requires_grad_()
    y = act(z + 0)
    return y.detach(), torch.autograd.grad(y, z, zt)[0]


@pytest.mark.parametrize("case,flavour", case_params())
@pytest.mark.parametrize("mode", ["forward_ad", "func_jvp"])
def test_forward_mode(mode, case, flavour, note):
    """Dual tensors through Linear (weight requiring grad) -> act, and torch.func.jvp of the
    same model with parameter tangents. bits=k: the tangent is torch's exact one (fallback) or
    the bits=k derivative's."""
    def model_of(fl):
        m = build_model(case, fl)
        return nn.Sequential(m[0], m[1])

    x = x_input()
    t = randn_like(x, seed=5)
    fn = _fwd_ad if mode == "forward_ad" else _func_jvp
    assert model_of("torch")[0].weight.requires_grad
    if not case.kbit:
        run_pair(lambda: fn(model_of("torch"), x, t), lambda: fn(model_of(flavour), x, t),
                 lambda o, r: compare(o, r, case, mode), note)
        return
    got = fn(model_of(flavour), x, t)
    exact = fn(model_of("torch"), x, t)
    compare(got[0], exact[0], case, f"{mode} primal", tol=(0, 0))
    approx = _kbit_tangent(model_of("relukit"), x, t, param_tangents=mode == "func_jvp")
    try:
        compare(got[1], exact[1], case, f"{mode} tangent")
        note("fallback", "bits=k forward mode uses torch's exact derivative")
    except AssertionError:
        compare(got[1], approx[1], case, f"{mode} tangent (bits=k derivative)")


def test_cases_cover_every_module():
    rows = {c.row for c in CASES}
    assert rows == {"ReLU", "LeakyReLU", "PReLU", "RReLU", "ReLU6", "CReLU", "ELU", "CELU",
                    "SELU", "Hardtanh", "GELU", "SiLU", "Mish", "Softplus", "Sigmoid", "Tanh",
                    "Hardswish", "Hardsigmoid", "ReLUSquared", "QuickGELU"}
