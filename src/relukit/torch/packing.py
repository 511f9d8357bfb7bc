"""Bit packing of masks and k-bit codes with plain torch ops (no Python loop over elements).

Layout, the same on every path: element ``8*j + i`` of the flattened tensor is bit ``7 - i``
of byte ``j`` (most significant bit first, as ``numpy.packbits``); a tensor of n elements packs
into ``ceil(n / 8)`` bytes, the padding bits are 0. k-bit codes are stored as k such bit
planes, plane b holding bit b of every code: ``(k, ceil(n / 8))`` bytes.

Two implementations of the 1-bit mask:

* the portable one (``pack_mask``/``unpack_mask``): a handful of whole-tensor ops that
  ``torch.compile`` fuses and that run on any device;
* the CPU eager one (``pack_alive_blocked``/``select_blocked``): the tensor is processed in
  cache-sized blocks, so the mask never exists at full size and the backward reads the gradient
  and writes the result once, in a single pass of torch's own vectorised backward kernel. On
  CPU, torch's cost at this size is dominated by first-touching freshly allocated pages, so
  every full-size temporary the lean backward avoids is time saved.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

#: Elements per block of the blocked CPU path: 2**16 float32 = 256 KiB, in L2 with its mask.
BLOCK = 1 << 16

# x * _PACK (mod 2**64) gathers the lowest bit of each of the 8 bytes of a little-endian int64
# into its top byte, byte i landing on bit 7 - i: the 64 partial products 2**(8i + 63 - 9j) are
# distinct powers of two, so nothing carries, and only i == j lands in bits 56..63.
_PACK = 0x8040201008040201 - (1 << 64)
# p * _SPREAD copies byte p into all 8 bytes; & _SELECT keeps bit 7 - i in byte i.
_SPREAD = 0x0101010101010101
_SELECT = 0x0102040810204080
_LITTLE_ENDIAN = torch.tensor([1], dtype=torch.int16).view(torch.uint8)[0].item() == 1


def packed_nbytes(n: int) -> int:
    """Bytes that hold ``n`` one-bit flags."""
    return (n + 7) // 8


def _shifts(device: torch.device) -> torch.Tensor:
    return torch.arange(7, -1, -1, dtype=torch.uint8, device=device)


# ----------------------------------------------------------------------------- portable path


def pack_mask(mask: torch.Tensor) -> torch.Tensor:
    """Pack a bool tensor (any shape, read in logical order) into ``ceil(n/8)`` uint8 bytes."""
    flat = mask.reshape(-1)
    pad = (-flat.numel()) % 8
    if pad:
        flat = torch.cat([flat, flat.new_zeros(pad)])
    groups = flat.view(-1, 8).to(torch.uint8)
    return (groups << _shifts(flat.device)).sum(dim=1, dtype=torch.uint8)


def unpack_mask(packed: torch.Tensor, n: int) -> torch.Tensor:
    """The first ``n`` flags of ``packed`` as a flat bool tensor."""
    bits = (packed.unsqueeze(1) >> _shifts(packed.device)) & 1
    return bits.view(-1)[:n].bool()


def pack_codes(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Pack integer codes in ``[0, 2**bits)`` as ``bits`` bit planes, shape (bits, ceil(n/8))."""
    flat = codes.reshape(-1)
    if bits == 8:
        return flat.to(torch.uint8).unsqueeze(0).clone()
    planes = [pack_mask((flat >> b) & 1 == 1) for b in range(bits)]  # loop over bits only
    return torch.stack(planes)


def unpack_codes(packed: torch.Tensor, n: int, bits: int) -> torch.Tensor:
    """The first ``n`` codes of ``pack_codes`` output, as a flat uint8 tensor."""
    if bits == 8:
        return packed[0, :n]
    codes = unpack_mask(packed[0], n).to(torch.uint8)
    for b in range(1, bits):
        codes |= unpack_mask(packed[b], n).to(torch.uint8) << b
    return codes


# ----------------------------------------------------------------------------- blocked CPU path


def blocked_ok(*tensors: torch.Tensor) -> bool:
    """True when the blocked CPU path applies: eager mode, CPU, contiguous, little-endian."""
    if not _LITTLE_ENDIAN or torch.compiler.is_compiling():
        return False
    return all(t.device.type == "cpu" and t.is_contiguous() for t in tensors)


def pack_alive_blocked(
    x: torch.Tensor, dead: Callable[[torch.Tensor, torch.Tensor], None]
) -> torch.Tensor:
    """Pack ``~dead(x)`` block by block; ``dead(x_block, out_bool_block)`` writes the flags.

    ``x`` must be contiguous on CPU. Returns ``ceil(n/8)`` uint8 bytes in the common layout.
    """
    flat = x.view(-1)
    n = flat.numel()
    packed = torch.empty(packed_nbytes(n), dtype=torch.uint8)
    if n == 0:
        return packed
    buf = torch.zeros(min(BLOCK, n + (-n) % 8), dtype=torch.bool)
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        k = stop - start
        k8 = k + (-k) % 8
        if k8 != k:
            buf[k:k8] = True  # dead padding packs as 0 after the negation below
        dead(flat[start:stop], buf[:k])
        flags = buf[:k8]
        flags.logical_not_()
        words = flags.view(torch.int64)
        words.mul_(_PACK)
        packed[start // 8 : start // 8 + k8 // 8].copy_(words.view(torch.uint8)[7::8])
    return packed


def unpack_float_into(
    packed: torch.Tensor, start_byte: int, nbytes: int, words: torch.Tensor, out: torch.Tensor
) -> torch.Tensor:
    """Expand ``nbytes`` packed bytes into ``out`` (float): 0 where the flag is 0, > 0 where 1.

    ``words`` is an int64 scratch buffer of at least ``nbytes`` elements.
    """
    w = words[:nbytes]
    w.copy_(packed[start_byte : start_byte + nbytes])
    w.mul_(_SPREAD).bitwise_and_(_SELECT)
    dst = out[: 8 * nbytes]
    dst.copy_(w.view(torch.uint8))
    return dst


def select_blocked(
    grad: torch.Tensor,
    packed: torch.Tensor,
    kernel: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], None],
) -> torch.Tensor:
    """Block by block, ``kernel(grad_block, flags_block, out_block)`` where ``flags_block`` is
    grad's dtype, > 0 where the packed flag is set and 0 elsewhere (torch's own backward
    kernels, e.g. ``threshold_backward``, take it in place of the input they would have saved).
    """
    flat = grad.reshape(-1)
    n = flat.numel()
    out = torch.empty(n, dtype=grad.dtype)
    if n == 0:
        return out.view(grad.shape)
    words = torch.empty(BLOCK // 8 + 1, dtype=torch.int64)
    flags = torch.empty(BLOCK + 8, dtype=grad.dtype)
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        k = stop - start
        f = unpack_float_into(packed, start // 8, packed_nbytes(k), words, flags)[:k]
        kernel(flat[start:stop], f, out[start:stop])
    return out.view(grad.shape)
