"""Triton kernels for CUDA tensors: the 1-bit mask computed and packed in one pass over x, and
the backward select read straight from the packed bits in one pass over the gradient.

Same layout as ``relukit.torch.packing`` (element 8j+i is bit 7-i of byte j). Used only for
CUDA tensors when triton imports; everything else takes the pure-torch path. The tests run
these kernels on CPU tensors under ``TRITON_INTERPRET=1``.
"""

from __future__ import annotations

import os

import torch

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - triton is optional
    triton = None

#: Mask rules, matching ``relukit.torch.autograd``'s ``_dead_*`` helpers.
DEAD_LE, DEAD_GE, DEAD_UNLESS_GT, DEAD_OUTSIDE = 0, 1, 2, 3
#: Backward rules: 0 where dead, or slope * grad where dead.
ZERO, SLOPE = 0, 1

_BYTES_PER_PROGRAM = 512
_ELEMENTS_PER_PROGRAM = 4096


_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def available_for(t: torch.Tensor) -> bool:
    """Use the kernels for this tensor? A CUDA tensor (any device under TRITON_INTERPRET=1,
    which the tests use) of float32/float16/bfloat16, triton importable, and not inside
    torch.compile's tracing. float64 stays on the torch path: a Python float reaches a Triton
    kernel as float32, and torch multiplies doubles by a double slope."""
    if triton is None or torch.compiler.is_compiling() or t.dtype not in _DTYPES:
        return False
    return t.is_cuda or os.environ.get("TRITON_INTERPRET") == "1"


if triton is not None:

    @triton.jit
    def _pack_kernel(x_ptr, out_ptr, n, nbytes, lo, hi,
                     RULE: tl.constexpr, BYTES: tl.constexpr):
        byte_idx = tl.program_id(0) * BYTES + tl.arange(0, BYTES)
        bit = tl.arange(0, 8)
        elem = byte_idx[:, None] * 8 + bit[None, :]
        inside = elem < n
        x = tl.load(x_ptr + elem, mask=inside, other=0.0)
        # comparisons as in torch's backward kernels; NaN compares false everywhere
        if RULE == 0:
            alive = tl.where(x <= lo, 0, 1)
        elif RULE == 1:
            alive = tl.where(x >= lo, 0, 1)
        elif RULE == 2:
            alive = tl.where(x > lo, 1, 0)
        else:
            alive = tl.where((x > lo) & (x < hi), 1, 0)
        alive = tl.where(inside, alive, 0)
        weights = 1 << (7 - bit)
        byte = tl.sum(alive * weights[None, :], axis=1)
        tl.store(out_ptr + byte_idx, byte.to(tl.uint8), mask=byte_idx < nbytes)

    @triton.jit
    def _select_kernel(g_ptr, packed_ptr, out_ptr, n, slope,
                       RULE: tl.constexpr, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        inside = offs < n
        byte = tl.load(packed_ptr + offs // 8, mask=inside, other=0).to(tl.int32)
        alive = ((byte >> (7 - offs % 8)) & 1) != 0
        g = tl.load(g_ptr + offs, mask=inside, other=0.0)
        if RULE == 0:
            out = tl.where(alive, g, tl.zeros_like(g))
        else:
            # torch multiplies in float32 ("opmath") and rounds once to the gradient's dtype
            scaled = (g.to(tl.float32) * slope).to(g.dtype)
            out = tl.where(alive, g, scaled)
        tl.store(out_ptr + offs, out, mask=inside)


    @triton.jit
    def _kbit_pack_kernel(x_ptr, bnd_ptr, icodes_ptr, out_ptr, n, nbytes, n_boundaries,
                          BITS: tl.constexpr, BYTES: tl.constexpr):
        byte_idx = tl.program_id(0) * BYTES + tl.arange(0, BYTES)
        bit = tl.arange(0, 8)
        elem = byte_idx[:, None] * 8 + bit[None, :]
        inside = elem < n
        x = tl.load(x_ptr + elem, mask=inside, other=0.0).to(tl.float32)
        # torch.bucketize(right=False): the interval index is the count of boundaries < x,
        # counted as "not x <= b" so that NaN lands in the last interval, as in bucketize
        interval = tl.zeros([BYTES, 8], dtype=tl.int32)
        for i in range(n_boundaries):
            interval += tl.where(x <= tl.load(bnd_ptr + i), 0, 1)
        code = tl.load(icodes_ptr + interval, mask=inside, other=0)
        weights = 1 << (7 - bit)
        keep = byte_idx < nbytes
        for b in tl.static_range(BITS):
            plane = tl.sum(tl.where(inside, (code >> b) & 1, 0) * weights[None, :], axis=1)
            tl.store(out_ptr + b * nbytes + byte_idx, plane.to(tl.uint8), mask=keep)

    @triton.jit
    def _kbit_grad_kernel(g_ptr, packed_ptr, levels_ptr, out_ptr, n, nbytes,
                          BITS: tl.constexpr, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        inside = offs < n
        shift = 7 - offs % 8
        code = tl.zeros([BLOCK], dtype=tl.int32)
        for b in tl.static_range(BITS):
            byte = tl.load(packed_ptr + b * nbytes + offs // 8, mask=inside, other=0)
            code |= ((byte.to(tl.int32) >> shift) & 1) << b
        level = tl.load(levels_ptr + code, mask=inside, other=0.0)
        g = tl.load(g_ptr + offs, mask=inside, other=0.0)
        tl.store(out_ptr + offs, (g.to(tl.float32) * level).to(g.dtype), mask=inside)


def kbit_pack(x: torch.Tensor, boundaries: torch.Tensor, interval_codes: torch.Tensor,
              bits: int) -> torch.Tensor:
    """k-bit codes of x's intervals as ``bits`` bit planes (``packing.pack_codes`` layout),
    for bits < 8; x is compared in float32, as the torch path does for every dtype but
    float64."""
    x = x.contiguous().view(-1)
    n = x.numel()
    nbytes = (n + 7) // 8
    out = torch.empty(bits, nbytes, dtype=torch.uint8, device=x.device)
    if n:
        bnd = boundaries.to(device=x.device, dtype=torch.float32)
        codes = interval_codes.to(device=x.device, dtype=torch.int32)
        grid = (triton.cdiv(nbytes, _BYTES_PER_PROGRAM),)
        _kbit_pack_kernel[grid](x, bnd, codes, out, n, nbytes, bnd.numel(),
                                BITS=bits, BYTES=_BYTES_PER_PROGRAM)
    return out


def kbit_grad(grad: torch.Tensor, packed: torch.Tensor, levels: torch.Tensor, bits: int):
    """grad * levels[code], the codes read from ``kbit_pack``'s planes. The levels are
    rounded to grad's dtype first, as the torch path multiplies in that dtype."""
    g = grad.contiguous()
    out = torch.empty_like(g)
    n = g.numel()
    if n:
        lv = levels.to(device=g.device, dtype=g.dtype).to(torch.float32)
        grid = (triton.cdiv(n, _ELEMENTS_PER_PROGRAM),)
        _kbit_grad_kernel[grid](g.view(-1), packed, lv, out.view(-1), n, packed.shape[1],
                                BITS=bits, BLOCK=_ELEMENTS_PER_PROGRAM)
    return out


def pack(x: torch.Tensor, rule: int, lo: float = 0.0, hi: float = 0.0) -> torch.Tensor:
    """Packed alive flags of x (any shape, read in logical order) under ``rule``."""
    x = x.contiguous().view(-1)
    n = x.numel()
    nbytes = (n + 7) // 8
    out = torch.empty(nbytes, dtype=torch.uint8, device=x.device)
    if n:
        grid = (triton.cdiv(nbytes, _BYTES_PER_PROGRAM),)
        _pack_kernel[grid](x, out, n, nbytes, float(lo), float(hi),
                           RULE=rule, BYTES=_BYTES_PER_PROGRAM)
    return out


def select(grad: torch.Tensor, packed: torch.Tensor, rule: int, slope: float = 0.0):
    """grad where the packed flag is set; 0 (rule ZERO) or slope * grad (rule SLOPE) elsewhere."""
    g = grad.contiguous()
    out = torch.empty_like(g)
    n = g.numel()
    if n:
        grid = (triton.cdiv(n, _ELEMENTS_PER_PROGRAM),)
        _select_kernel[grid](g.view(-1), packed, out.view(-1), n, float(slope),
                             RULE=rule, BLOCK=_ELEMENTS_PER_PROGRAM)
    return out
