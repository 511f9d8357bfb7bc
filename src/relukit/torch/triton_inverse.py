"""Triton kernel for ``relukit.torch.inverse``: f' from the output y and the packed branch bits
(``relukit.torch.packing`` layout: element 8j+i is bit 7-i of byte j) in one pass.

The same algorithm as the torch path (series / x = y / tail guess, the same fixed Newton
iterations), in float64 for float32 outputs and float32 for half ones. Used only where
``relukit.torch.triton_kernels.available_for(y)``; the tests run it on CPU tensors under
``TRITON_INTERPRET=1``. One difference: exact gelu's Phi(x) below x = -3 comes from a rational
erfc approximation (relative error 1.2e-7, Numerical Recipes' erfcc) instead of torch.erfc,
which changes f' there by far less than the output's rounding does.
"""

from __future__ import annotations

import math

import torch

from . import inverse
from .triton_kernels import triton

if triton is not None:
    import triton.language as tl

_KEYS = {"gelu": 0, "gelu_tanh": 1, "silu": 2, "mish": 3}
_BLOCK = 1024
_N_SERIES = 10

if triton is not None:

    @triton.jit
    def _sigmoid(z):
        return 1.0 / (1.0 + tl.exp(-z))

    @triton.jit
    def _phi_cdf(x):
        # Phi(x): erf where it does not cancel, erfc approximation on the left tail
        z = -x * 0.7071067811865476
        t = 1.0 / (1.0 + 0.5 * tl.abs(z))
        poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (
            0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (
                1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
        erfc_tail = t * tl.exp(poly)
        return tl.where(x < -3.0, 0.5 * erfc_tail, 0.5 * (1.0 + tl.math.erf(-z)))

    @triton.jit
    def _f_df(x, KEY: tl.constexpr):
        if KEY == 0:
            cdf = _phi_cdf(x)
            pdf = tl.exp(-0.5 * x * x) * 0.3989422804014327
            f = x * cdf
            df = cdf + x * pdf
        elif KEY == 1:
            x2 = x * x
            sg = _sigmoid(1.5957691216057308 * x * (1.0 + 0.044715 * x2))
            f = x * sg
            df = sg + x * 1.5957691216057308 * sg * (1.0 - sg) * (1.0 + 0.134145 * x2)
        elif KEY == 2:
            sg = _sigmoid(x)
            f = x * sg
            df = sg * (1.0 + x * (1.0 - sg))
        else:
            sg = _sigmoid(x)
            e = tl.exp(tl.minimum(x, 20.0))
            m = e * (e + 2.0)
            t = tl.where(x > 20.0, 1.0, m / (m + 2.0))
            f = x * t
            df = t + x * sg * (1.0 - t * t)
        return f, df

    @triton.jit
    def _cbrt(v):
        a = tl.exp(tl.log(tl.maximum(tl.abs(v), 1e-30)) / 3.0)
        return tl.where(v < 0.0, -a, a)

    @triton.jit
    def _tail_guess(ell, KEY: tl.constexpr):
        if KEY == 0:
            q = tl.maximum(-2.0 * (ell + 0.9189385332046727), 0.5)
            q = tl.maximum(q + 2.0 * tl.log(1.0 - 1.0 / q), 0.5)
            x = -tl.sqrt(q)
        elif KEY == 1:
            x = -_cbrt(tl.maximum(-ell, 0.1) / (1.5957691216057308 * 0.044715))
            p3 = 1.0 / (27.0 * 0.044715 * 0.044715 * 0.044715)
            for _ in tl.static_range(2):
                two_u = 1.5957691216057308 * x * (1.0 + 0.044715 * x * x)
                sp = tl.maximum(two_u, 0.0) + tl.log(1.0 + tl.exp(-tl.abs(two_u)))
                r = (ell - tl.log(-x) + sp) / 1.5957691216057308
                hq = 0.5 * r / 0.044715
                root = tl.sqrt(hq * hq + p3)
                x = tl.minimum(_cbrt(p3 / (root - hq)) + _cbrt(hq - root), -0.5)
        else:
            el = tl.minimum(ell, -1.5)
            l2 = tl.log(-el)
            x = el - l2 + l2 / el
        return x

    @triton.jit
    def _inverse_kernel(y_ptr, packed_ptr, consts_ptr, out_ptr, n,
                        KEY: tl.constexpr, WORK64: tl.constexpr, ITERATIONS: tl.constexpr,
                        N_SERIES: tl.constexpr, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        inside = offs < n
        byte = tl.load(packed_ptr + offs // 8, mask=inside, other=0).to(tl.int32)
        bit = (byte >> (7 - offs % 8)) & 1
        right = bit != 0
        left = bit == 0
        y_in = tl.load(y_ptr + offs, mask=inside, other=0.0)
        if WORK64:
            wdt = tl.float64
        else:
            wdt = tl.float32
        yw = y_in.to(wdt)
        x_min = tl.load(consts_ptr + 0).to(wdt)
        f_min = tl.load(consts_ptr + 1).to(wdt)
        inv_sqrt_c2 = tl.load(consts_ptr + 2).to(wdt)
        e = tl.load(consts_ptr + 3).to(wdt)
        tiny = tl.load(consts_ptr + 4).to(wdt)
        tinier = tl.load(consts_ptr + 5).to(wdt)
        y_cap = tl.load(consts_ptr + 6).to(wdt)
        s_cut = tl.load(consts_ptr + 7).to(wdt)
        # tl.minimum/maximum propagate NaN like torch.clamp
        y_r = tl.minimum(yw, y_cap, propagate_nan=tl.PropagateNan.ALL)
        y_l = tl.minimum(yw, -tiny, propagate_nan=tl.PropagateNan.ALL)
        yc = tl.where(right, y_r, y_l)
        yc = tl.maximum(yc, f_min, propagate_nan=tl.PropagateNan.ALL)
        sign = tl.where(right, 1.0, -1.0).to(wdt)
        dy = tl.where(right, y_r, y_l) - f_min
        s = 0.5 * (tl.sqrt(tl.maximum(dy + e, 0.0, propagate_nan=tl.PropagateNan.ALL))
                   + tl.sqrt(tl.maximum(dy - e, 0.0, propagate_nan=tl.PropagateNan.ALL)))
        s = s * sign
        tail = left & (s < -s_cut)
        far = right & (s > s_cut)
        sc = tl.minimum(tl.maximum(s, -s_cut), s_cut)
        poly = tl.zeros_like(s)
        for k in tl.static_range(N_SERIES):
            c = tl.load(consts_ptr + 8 + (N_SERIES - 1 - k)).to(wdt)
            poly = (poly + c) * sc
        x = x_min + poly
        ell = tl.log(-yc)
        x = tl.where(far, tl.maximum(yc, x), x)
        x = tl.where(tail, tl.minimum(_tail_guess(ell, KEY), x), x)
        for _ in tl.static_range(ITERATIONS):
            f, df = _f_df(x, KEY)
            big_s = tl.sqrt(tl.maximum(f - f_min, 0.0))
            q = tl.where(tl.abs(df) > 1e-6, 2.0 * big_s / (sign * df), inv_sqrt_c2)
            step_s = (s - sign * big_s) * q
            fl = tl.minimum(f, -tinier)
            slope = df / fl
            step_l = (ell - tl.log(-fl)) / tl.where(slope > 0.0, slope, 1.0)
            x = x + tl.where(tail, step_l, step_s)
            x = tl.where(right, tl.maximum(x, x_min), tl.minimum(x, x_min))
        f, df = _f_df(x, KEY)
        df = tl.where(right | (yw < 0.0) | (yw != yw), df, 0.0)
        df = tl.where(yw != yw, yw, df)
        tl.store(out_ptr + offs, df.to(y_in.dtype), mask=inside)


def derivative_from_packed(y: torch.Tensor, packed: torch.Tensor, name: str,
                           approximate: str = "none") -> torch.Tensor:
    """``inverse.derivative_from_output(y, right)`` with ``right`` packed by
    ``packing.pack_mask`` (bits in y's logical order), in one pass; y float32/float16/bfloat16
    on a device Triton runs on (``triton_kernels.available_for(y)``)."""
    key = inverse.function_key(name, approximate)
    p = inverse._PARAMS[key]
    work64 = y.dtype == torch.float32
    tiny, tinier = (1e-290, 1e-307) if work64 else (1e-30, 1e-37)
    e = inverse._NOISE.get(y.dtype, 0.0) * inverse._ulp_at(p.f_min, y.dtype)
    consts = torch.tensor([p.x_min, p.f_min, 1.0 / math.sqrt(p.c2), e, tiny, tinier,
                           inverse._Y_CAP, inverse._S_SERIES, *p.series[:_N_SERIES]],
                          dtype=torch.float64, device=y.device)
    yc = y.contiguous()
    out = torch.empty_like(yc)
    n = yc.numel()
    if n:
        grid = (triton.cdiv(n, _BLOCK),)
        _inverse_kernel[grid](yc.view(-1), packed, consts, out.view(-1), n,
                              KEY=_KEYS[key], WORK64=work64, ITERATIONS=inverse._ITERATIONS,
                              N_SERIES=_N_SERIES, BLOCK=_BLOCK)
    return out
