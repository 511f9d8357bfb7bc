"""torch.compile(fullgraph=True), static and dynamic=True, training forward+backward and no_grad,
with zero graph breaks counted by torch._dynamo.explain; values and gradients equal to eager
torch. aot_eager for every case (it traces forward and backward through AOTAutograd as inductor
does), inductor for a few representative ones."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from compat_cases import BY_ID, CORE, build_model, case_params, compare, randn_like, x_input  # noqa: E402,E501

F32 = (1e-5, 1e-6)


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _fwd_bwd(model, x, train: bool):
    leaf = x.clone().requires_grad_(train)
    if not train:
        with torch.no_grad():
            return model(leaf), []
    y = model(leaf)
    y.backward(randn_like(y, seed=2))
    return y.detach(), [leaf.grad] + [p.grad for p in model.parameters()]


def _eager_reference(case, x, train):
    """Eager torch's values and gradients: under torch.compile every relukit function is
    torch's op, bits=k included (its k-bit code is an eager-mode trade; compile's partitioner
    decides what to save), so the reference is torch's exact gradient."""
    return _fwd_bwd(build_model(case, "torch"), x, train)


def _graph_breaks(model, x, train) -> int:
    leaf = x.clone().requires_grad_(train)
    with torch.set_grad_enabled(train):
        explanation = torch._dynamo.explain(model)(leaf)
    torch._dynamo.reset()
    return explanation.graph_break_count


@pytest.mark.parametrize("case", case_params(CORE, with_flavour=False))
@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
def test_compile_fullgraph(dynamic, case, note):
    """relukit's model (and the converted model, static): zero graph breaks, fullgraph compiles
    in training (forward+backward) and under no_grad, equal to eager torch."""
    x = x_input((4, 6))
    flavours = ["relukit"] + (["convert"] if case.convertible and not dynamic else [])
    for flavour in flavours:
        for train in (True, False) if flavour == "relukit" and not dynamic else (True,):
            model = build_model(case, flavour)
            assert _graph_breaks(model, x, train) == 0, (flavour, "train" if train else "no_grad")
            compiled = torch.compile(model, backend="aot_eager", fullgraph=True, dynamic=dynamic)
            y, grads = _fwd_bwd(compiled, x, train)
            y_ref, g_ref = _eager_reference(case, x, train)
            compare(y, y_ref, case, f"{flavour} forward", tol=(0, 0))
            compare(grads, g_ref, case, f"{flavour} grads")
            if dynamic:  # a second batch size runs through the same dynamic graph
                x2 = x_input((7, 6), seed=9)
                y2, _ = _fwd_bwd(compiled, x2, train)
                compare(y2, _eager_reference(case, x2, False)[0], case, "dynamic 2nd shape",
                        tol=(0, 0))


def test_compile_rrelu_training_fullgraph(note):
    """RReLU in training: random slopes, so compared with what they must be: the gradient
    on x < 0 is the slope that forward used (y / x), within [lower, upper]; 1 on x > 0."""
    for cls, name in ((torch.nn.RReLU, "torch"), (None, "relukit")):
        import relukit.torch as rt

        act = (cls or rt.RReLU)(0.1, 0.3).train()
        torch._dynamo.reset()
        compiled = torch.compile(act, backend="aot_eager", fullgraph=True)
        x = x_input((16, 6), seed=8)
        x = torch.where(x == 0, torch.ones_like(x), x).requires_grad_()
        y = compiled(x)
        y.sum().backward()
        neg = x.detach() < 0
        slope = (y.detach() / x.detach())[neg]
        assert bool(((slope >= 0.1 - 1e-6) & (slope <= 0.3 + 1e-6)).all()), name
        torch.testing.assert_close(x.grad[neg], slope, rtol=1e-6, atol=0)
        assert bool((x.grad[~neg] == 1).all()), name


INDUCTOR = ["prelu_6ch_neg"]


@pytest.mark.parametrize("case", case_params([BY_ID[i] for i in INDUCTOR], with_flavour=False))
def test_compile_inductor(case, note):
    """A representative case through inductor (slow on 2 cores), training forward+backward,
    equal to eager torch within float32 rounding (inductor's own kernels)."""
    x = x_input((4, 6))
    flavour = "convert" if case.convertible else "relukit"
    for train in (True,):
        model = build_model(case, flavour)
        compiled = torch.compile(model, fullgraph=True)
        y, grads = _fwd_bwd(compiled, x, train)
        y_ref, g_ref = _eager_reference(case, x, train)
        compare(y, y_ref, case, "forward", tol=F32)
        compare(grads, g_ref, case, "grads", tol=(1e-5, 1e-5))


def test_inductor_cases_exist():
    assert all(i in BY_ID for i in INDUCTOR)
    assert case_params  # imported for the parametrisation above
