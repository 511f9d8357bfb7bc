"""The Triton kernels, run on CPU tensors by Triton's interpreter (TRITON_INTERPRET=1) in a
subprocess: the packed bytes against numpy.packbits, and the lean functions, which route
through the kernels there, against torch bit for bit.

bfloat16 is left out: the interpreter emulates it with truncating conversions, unlike a GPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("triton")

CHECKS = textwrap.dedent("""
    import numpy as np
    import torch
    import torch.nn.functional as TF
    from relukit.torch import functional as F
    from relukit.torch import triton_kernels as tk

    assert tk.available_for(torch.zeros(1)), "interpreter mode not picked up"
    assert not tk.available_for(torch.zeros(1, dtype=torch.float64))
    g = torch.Generator().manual_seed(0)
    for n in (1, 7, 8, 9, 4096 * 8 + 5):
        x = torch.randn(n, generator=g) * 4
        x[: min(n, 6)] = torch.tensor([0.0, -0.0, float("nan"), 6.0, -1.0, 1.0])[: min(n, 6)]
        for rule, lo, hi, alive in [
            (tk.DEAD_LE, 0.0, 0.0, ~(x <= 0)), (tk.DEAD_GE, 0.0, 0.0, ~(x >= 0)),
            (tk.DEAD_UNLESS_GT, 0.0, 0.0, x > 0),
            (tk.DEAD_OUTSIDE, -1.0, 1.0, (x > -1) & (x < 1)),
        ]:
            packed = tk.pack(x, rule, lo, hi)
            assert np.array_equal(packed.numpy(), np.packbits(alive.numpy())), (n, rule)

    def bitwise(a, b):
        nan = torch.isnan(a)
        assert torch.equal(nan, torch.isnan(b))
        assert torch.equal(a[~nan], b[~nan]) and torch.equal(a[~nan].signbit(), b[~nan].signbit())

    cases = [
        (F.relu, TF.relu), (lambda t: F.leaky_relu(t, 0.2), lambda t: TF.leaky_relu(t, 0.2)),
        (lambda t: F.leaky_relu(t, -3.0), lambda t: TF.leaky_relu(t, -3.0)),
        (F.relu6, TF.relu6), (lambda t: F.hardtanh(t, -2.0, 3.0),
                              lambda t: TF.hardtanh(t, -2.0, 3.0)),
        (F.rrelu, TF.rrelu),
        (lambda t: F.crelu(t, 1), lambda t: torch.cat((TF.relu(t), TF.relu(-t)), 1)),
    ]
    for dtype in (torch.float32, torch.float16):
        x = (torch.randn(16, 300, generator=g) * 4).to(dtype)
        x[0, :6] = torch.tensor([0.0, -0.0, 6.0, -2.0, 3.0, 1.0])
        for ours, ref in cases:
            outs = []
            for fn in (ours, ref):
                leaf = x.clone().requires_grad_()
                y = fn(leaf)
                y.backward(torch.ones_like(y) * torch.linspace(-2, 2, y.numel()).view(y.shape))
                outs.append((y.detach(), leaf.grad))
            bitwise(outs[0][0], outs[1][0])
            bitwise(outs[0][1], outs[1][1])
    from relukit.torch.fewbit import get_codebook

    for name, bits in [("gelu", 1), ("gelu", 4), ("silu", 3), ("mish", 7)]:
        cb = get_codebook(name, bits)
        for dtype in (torch.float32, torch.float16):
            x = (torch.randn(3, 1001, generator=g) * 3).to(dtype)
            x[0, :3] = torch.tensor([float("nan"), float("inf"), -float("inf")])
            grad = torch.randn(x.shape, generator=g).to(dtype)
            leaf = x.clone().requires_grad_()
            y = getattr(F, name)(leaf, bits=bits)
            y.backward(grad)
            torch.testing.assert_close(y.detach(), getattr(TF, name)(x), rtol=0, atol=0,
                                       equal_nan=True)
            # numpy sorts NaN last, as torch.bucketize does
            interval = np.searchsorted(np.asarray(cb.boundaries), x.float().numpy(), side="left")
            level = np.asarray(cb.levels)[np.asarray(cb.interval_codes)[interval]]
            level = torch.from_numpy(level).to(dtype)  # rounded as the torch path does
            assert torch.equal(leaf.grad, (grad.float() * level.float()).to(dtype)), (name, bits)
    print("TRITON-OK")
""")


def test_triton_kernels_under_interpreter():
    env = dict(os.environ, TRITON_INTERPRET="1")
    out = subprocess.run([sys.executable, "-c", CHECKS], capture_output=True, text=True,
                         env=env, timeout=300)
    assert "TRITON-OK" in out.stdout, out.stdout[-3000:] + out.stderr[-3000:]


def test_triton_not_used_for_cpu_tensors_normally():
    from relukit.torch import triton_kernels as tk

    if os.environ.get("TRITON_INTERPRET") == "1":
        pytest.skip("the interpreter is on for this whole run")
    assert not tk.available_for(torch.zeros(3))
