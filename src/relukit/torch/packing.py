"""Bit packing of masks and k-bit codes with plain torch ops (no Python loop over elements).

Layout, the same on every path: element ``8*j + i`` of the flattened tensor is bit ``7 - i``
of byte ``j`` (most significant bit first, as ``numpy.packbits``); a tensor of n elements packs
into ``ceil(n / 8)`` bytes, the padding bits are 0. k-bit codes are stored as k such bit
planes, plane b holding bit b of every code: ``(k, ceil(n / 8))`` bytes.

Two implementations of the 1-bit mask:

* the portable one (``pack_mask``/``unpack_mask``): plain whole-tensor ops that
  ``torch.compile`` understands and fuses;
* the eager one (``pack_flags``/``unpack_flags_float``): bool flags reinterpreted as int64
  words, gathered 8 to a byte by one multiplication (and spread back by another), so a pass
  touches 1 byte per element. ``unpack_flags_float`` writes the flags straight into the
  buffer that becomes the gradient, so torch's own backward kernel can run in place and no
  full-size temporary is allocated beyond the result.

What these cost against torch's own backward is measured by ``benchmarks/bench_torch_speed.py``
(fwd+bwd per activation, masks and k-bit codes included), not stated here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

# x * _PACK (mod 2**64) gathers the lowest bit of each of the 8 bytes of a little-endian int64
# into its top byte, byte i landing on bit 7 - i: the 64 partial products 2**(8i + 63 - 9j) are
# distinct powers of two, so nothing carries, and only i == j lands in bits 56..63.
_PACK = 0x8040201008040201 - (1 << 64)
# p * _SPREAD copies byte p into all 8 bytes; & _SELECT keeps bit 7 - i in byte i.
_SPREAD = 0x0101010101010101
_SELECT = 0x0102040810204080
_LOW_BITS = 0x0101010101010101
_LITTLE_ENDIAN = torch.tensor([1], dtype=torch.int16).view(torch.uint8)[0].item() == 1


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
    flat = codes.reshape(-1).to(torch.uint8)
    if bits == 8:
        return flat.unsqueeze(0).clone()
    if fast_ok():
        n = flat.numel()
        padded = torch.zeros(n + (-n) % 8, dtype=torch.uint8, device=flat.device)
        padded[:n] = flat
        words = padded.view(torch.int64)  # 8 codes per word: bit b of each is one plane
        # a loop over the bits of a code, not over elements
        return torch.stack([_gather_lsbs((words >> b) & _LOW_BITS) for b in range(bits)])
    return torch.stack([pack_mask((flat >> b) & 1 == 1) for b in range(bits)])


def unpack_codes(packed: torch.Tensor, n: int, bits: int) -> torch.Tensor:
    """The first ``n`` codes of ``pack_codes`` output, as a flat uint8 tensor."""
    if bits == 8:
        return packed[0, :n]
    if fast_ok():
        words = _spread_to_bytes01(packed[0])
        for b in range(1, bits):
            words |= _spread_to_bytes01(packed[b]) << b
        return words.view(torch.uint8)[:n]
    codes = unpack_mask(packed[0], n).to(torch.uint8)
    for b in range(1, bits):
        codes |= unpack_mask(packed[b], n).to(torch.uint8) << b
    return codes


# ----------------------------------------------------------------------------- eager path


def fast_ok() -> bool:
    """The eager path reinterprets bool/uint8 memory as int64 words (``Tensor.view(dtype)``),
    which needs a little-endian host and is not something to hand to ``torch.compile``."""
    return _LITTLE_ENDIAN and not torch.compiler.is_compiling()


def _gather_lsbs(words: torch.Tensor) -> torch.Tensor:
    """Bytes that are 0 or 1, as int64 words, to one byte per word (in place on ``words``)."""
    words.mul_(_PACK)
    return words.view(torch.uint8)[7::8].contiguous()


def pack_flags(x: torch.Tensor, write: Callable[[torch.Tensor, torch.Tensor], object],
               writes_alive: bool) -> torch.Tensor:
    """Pack, for every element of x (logical order, any strides), the alive flag that
    ``write(x, out)`` puts into a bool tensor shaped like x: the flag itself when
    ``writes_alive``, else its negation (comparisons such as ``x <= 0`` name the dead side;
    negating the packed bytes touches 8 times fewer bytes than negating the flags).

    Three whole-tensor passes: the comparison, one int64 multiply over the flags, one
    strided byte gather.
    """
    n = x.numel()
    n8 = n + (-n) % 8
    flags = torch.empty(n8, dtype=torch.bool, device=x.device)
    if n8 != n:
        flags[n:] = not writes_alive  # padding packs as 0
    if n:
        write(x, flags[:n].view(x.shape))
    packed = _gather_lsbs(flags.view(torch.int64))
    return packed if writes_alive else packed.bitwise_not_()


def unpack_flags_float(packed: torch.Tensor, n: int, dtype: torch.dtype) -> torch.Tensor:
    """A flat tensor of ``n`` elements of ``dtype``: 0 where the flag is 0, > 0 where it is 1
    (a power of two up to 128). Torch's backward kernels read it in place of the input they
    would have saved, and write their result over it."""
    words = packed.to(torch.int64, memory_format=torch.contiguous_format)
    words.mul_(_SPREAD).bitwise_and_(_SELECT)
    out = torch.empty(8 * packed.numel(), dtype=dtype, device=packed.device)
    out.copy_(words.view(torch.uint8))
    return out[:n]


def pack_interval_codes(x: torch.Tensor, boundaries, interval_codes, bits: int) -> torch.Tensor:
    """``pack_codes(interval_codes[bucketize(x, boundaries)], bits)`` without the binary search
    and the table lookup: one comparison per boundary, packed and XORed into the bit planes
    the code flips there (packing is linear over XOR): one pass per boundary, so meant for the
    few boundaries of a small codebook (``benchmarks/bench_torch_speed.py`` times gelu with
    bits=4, which takes this path, and bits=8, which takes ``torch.bucketize``). ``x`` is
    compared in its own dtype; NaN lands in the last interval, as in ``torch.bucketize``.
    """
    n = x.numel()
    n8 = n + (-n) % 8
    flags = torch.empty(n8, dtype=torch.bool, device=x.device)
    below = flags[:n].view(x.shape)
    planes = torch.zeros(bits, n8 // 8, dtype=torch.uint8, device=x.device)
    for b in range(bits):
        if interval_codes[0] >> b & 1:
            planes[b] = 0xFF  # the padding bits are never read back
    for i, edge in enumerate(boundaries):
        flip = interval_codes[i] ^ interval_codes[i + 1]
        if flip == 0:
            continue
        flags[n:] = False  # the multiply below leaves other values in the padding bytes
        torch.le(x, edge, out=below)  # not (x > edge), so that NaN counts as above
        above = _gather_lsbs(flags.view(torch.int64)).bitwise_not_()
        for b in range(bits):
            if flip >> b & 1:
                planes[b] ^= above
    return planes


def _spread_to_bytes01(packed: torch.Tensor) -> torch.Tensor:
    """One int64 word per packed byte whose byte i is bit (7 - i) of it: 0 or 1."""
    words = packed.to(torch.int64, memory_format=torch.contiguous_format)
    words.mul_(_SPREAD).bitwise_and_(_SELECT)
    # each byte is 0 or a single bit <= 0x80: adding 0x7F sets its top bit iff it is nonzero,
    # without a carry into the next byte; move that bit down to bit 0 and keep only it
    words.add_(_LOW_BITS * 0x7F).bitwise_right_shift_(7).bitwise_and_(_LOW_BITS)
    return words


def unpack_flags_bool(packed: torch.Tensor, n: int) -> torch.Tensor:
    """The first ``n`` flags as a flat bool tensor (eager path of ``unpack_mask``)."""
    return _spread_to_bytes01(packed).view(torch.uint8)[:n].view(torch.bool)
