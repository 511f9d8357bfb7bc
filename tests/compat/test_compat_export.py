"""torch.export, ONNX (dynamo=True and the legacy exporter, run in onnxruntime), torch.jit.script
and torch.jit.trace: relukit's modules (and a model after convert()) against torch's."""

from __future__ import annotations

import io
import warnings

import pytest

torch = pytest.importorskip("torch")

from compat_cases import (  # noqa: E402
    CASES,
    CORE,
    build_model,
    case_params,
    compare,
    randn_like,
    run_pair,
    uses_torch_for_script,
    x_input,
)

F32 = (1e-5, 1e-6)  # float32 rounding of a different kernel (onnxruntime's, inductor's)


def _aten_ops(ep) -> list[str]:
    return sorted(str(n.target) for n in ep.graph.nodes if n.op == "call_function")


def _fwd_bwd(model, x):
    leaf = x.clone().requires_grad_()
    y = model(leaf)
    y.backward(randn_like(y, seed=2))
    grads = [leaf.grad] + [p.grad for p in model.parameters()]
    return y.detach(), grads


@pytest.mark.parametrize("case,flavour", case_params())
def test_export_eval_no_grad(case, flavour, note):
    """Eval mode under no_grad: the graph has exactly torch's aten ops, and runs to its values."""
    x = x_input()
    with torch.no_grad():
        ref_model = build_model(case, "torch").eval()
        ours = build_model(case, flavour).eval()
        ep_ref = torch.export.export(ref_model, (x,))
        ep = torch.export.export(ours, (x,))
        assert _aten_ops(ep) == _aten_ops(ep_ref)
        compare(ep.module()(x), ref_model(x), case, "exported forward", tol=(0, 0))


@pytest.mark.parametrize("case,flavour", case_params())
def test_export_train_grad(case, flavour, note):
    """Training mode with grad on: export, then forward+backward of the exported module."""
    x = x_input()
    ref_model = build_model(case, "relukit" if case.kbit else "torch")
    ours = build_model(case, flavour)

    def run(model):
        ep = torch.export.export(model, (x,))
        mod = ep.module()
        return _fwd_bwd(mod, x)

    def check(o, r):
        compare(o[0], build_model(case, "torch")(x).detach(), case, "forward", tol=(0, 0))
        if case.kbit:  # the exported module's gradient: torch's exact or the bits=k one
            exact = _fwd_bwd(build_model(case, "torch"), x)[1]
            try:
                compare(o[1], exact, case, "grads", tol=F32)
                note("fallback", "exported bits=k backward is torch's exact one")
                return
            except AssertionError:
                r = _fwd_bwd(build_model(case, "relukit"), x)
        compare(o[1], r[1], case, "grads")

    run_pair(lambda: run(ref_model), lambda: run(ours), check, note)


def _ort_run(onnx_bytes, x):
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    return torch.from_numpy(sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0])


def _onnx(model, x, dynamo: bool):
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            prog = torch.onnx.export(model, (x,), dynamo=True, verbose=False, optimize=False)
            data = prog.model_proto.SerializeToString()
        else:
            buf = io.BytesIO()
            torch.onnx.export(model, (x,), buf, dynamo=False)
            data = buf.getvalue()
    got = _ort_run(data, x)
    with torch.no_grad():
        want = model(x)
    torch.testing.assert_close(got, want, rtol=F32[0], atol=F32[1],
                               msg=lambda m: f"onnxruntime vs PyTorch forward: {m}")
    return got


class _Branches(torch.nn.Module):
    """Every CORE case's model side by side: one dynamo export (the slow part) for all."""

    def __init__(self, models):
        super().__init__()
        self.branches = torch.nn.ModuleList(models)

    def forward(self, x):
        return tuple(m(x) for m in self.branches)


def _onnx_flavour(case):
    return "convert" if case.convertible else "relukit"


#: torch's own module does not export with dynamo=True (aten.rrelu_with_noise_functional has no
#: ONNX translation, even in eval mode): exported on their own, where relukit must fail alike
_DYNAMO_TORCH_FAILS = {"RReLU"}


@pytest.fixture(scope="module")
def onnx_dynamo_shared():
    """case id -> (onnxruntime output, PyTorch output) from one export of all CORE cases;
    None when that export fails (then each cell exports its own model)."""
    import onnxruntime as ort

    x = x_input((3, 6), seed=6)
    cases = [c for c in CORE if c.row not in _DYNAMO_TORCH_FAILS]
    model = _Branches([build_model(c, _onnx_flavour(c)) for c in cases]).eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prog = torch.onnx.export(model, (x,), dynamo=True, verbose=False, optimize=False)
        sess = ort.InferenceSession(prog.model_proto.SerializeToString(),
                                    providers=["CPUExecutionProvider"])
        got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
    except Exception:  # noqa: BLE001 - the cells find out which case breaks it
        return None
    with torch.no_grad():
        want = model(x)
    return {c.id: (torch.from_numpy(g), w) for c, g, w in zip(cases, got, want, strict=False)}


@pytest.mark.xdist_group("onnx")
@pytest.mark.parametrize("case", case_params(CORE, with_flavour=False))
@pytest.mark.parametrize("exporter", ["dynamo", "legacy"])
def test_onnx(exporter, case, note, request):
    """Exported in eval mode (grad mode on, as users do), run in onnxruntime, equal to the
    PyTorch forward within float32 rounding (issue 14: CELU/ELU alpha, LeakyReLU slope,
    Hardtanh and RReLU bounds, PReLU with 6 channels, GELU tanh). The converted model for
    every convertible case, relukit's module otherwise."""
    x = x_input((3, 6), seed=6)
    dyn = exporter == "dynamo"
    if dyn:
        shared = request.getfixturevalue("onnx_dynamo_shared")
        if shared is not None and case.id in shared:
            got, want = shared[case.id]
            torch.testing.assert_close(got, want, rtol=F32[0], atol=F32[1],
                                       msg=lambda m: f"onnxruntime vs PyTorch forward: {m}")
            return
    # only when relukit's fails do we export torch's: does it fail the same way?
    try:
        _onnx(build_model(case, _onnx_flavour(case)), x, dyn)
        return
    except Exception as ours:  # noqa: BLE001
        try:
            _onnx(build_model(case, "torch"), x, dyn)
        except type(ours):
            note("torch_fails", f"{type(ours).__name__}: {str(ours).splitlines()[0][:100]}")
            return
        raise


@pytest.mark.parametrize("case,flavour", case_params())
def test_jit_script(case, flavour, note):
    """Scripting must not fail (it may script torch's module instead); forward and gradients
    equal torch's module's (bits=k: torch's exact gradient, the scripted module is torch's)."""
    x = x_input()
    ours = build_model(case, flavour)
    ref = build_model(case, "torch")
    act = ours[1]

    def run(model):
        return _fwd_bwd(torch.jit.script(model), x)

    def check(o, r):
        compare(o[0], r[0], case, "forward", tol=(0, 0))
        if case.kbit:
            try:
                compare(o[1], r[1], case, "grads")
            except AssertionError:
                compare(o[1], _fwd_bwd(build_model(case, "relukit"), x)[1], case, "grads")
        else:
            compare(o[1], r[1], case, "grads")

    run_pair(lambda: run(ref), lambda: run(ours), check, note)
    if uses_torch_for_script(act):
        note("fallback", "scripts torch's module")


@pytest.mark.parametrize("case,flavour", case_params())
def test_jit_trace(case, flavour, note):
    """torch.jit.trace with grad on, then forward+backward of the traced module."""
    x = x_input()
    ours = build_model(case, flavour)
    ref = build_model(case, "relukit" if case.kbit else "torch")

    def run(model):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(model, (x,), check_trace=False)
        return _fwd_bwd(traced, x)

    def check(o, r):
        compare(o[0], build_model(case, "torch")(x).detach(), case, "forward", tol=(0, 0))
        if case.kbit:
            try:
                compare(o[1], _fwd_bwd(build_model(case, "torch"), x)[1], case, "grads", tol=F32)
                note("fallback", "traced bits=k backward is torch's exact one")
                return
            except AssertionError:
                pass
        compare(o[1], r[1], case, "grads")

    run_pair(lambda: run(ref), lambda: run(ours), check, note)


def test_core_cases_cover_every_module():
    assert {c.row for c in CORE} == {c.row for c in CASES}
