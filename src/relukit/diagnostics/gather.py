"""The distributed gather: host copies of the window counts, summed across ranks.

When a process group with more than one rank is initialised (and ``sync`` is not False), the
counts are all-reduced before any verdict — sums for counts, maxima for the last-active step
and the pre-activation maximum — so a unit active only on another rank's data is active.
These are collective calls: every rank must reach them at the same points.
"""

from __future__ import annotations

import numpy as np
import torch

from .counting import SiteCounter
from .window import WindowCounts


def process_group(sync: bool | None):
    """``torch.distributed`` when counts must be summed across ranks, else None."""
    if sync is False or not torch.distributed.is_available():
        return None
    dist = torch.distributed
    if not dist.is_initialized() or dist.get_world_size() < 2:
        if sync:
            raise RuntimeError("ActivationMonitor(sync=True) needs an initialised "
                               "torch.distributed process group with more than one rank")
        return None
    return dist


def gather(counters: list[SiteCounter], step: int, sync: bool | None
           ) -> tuple[list[WindowCounts], int]:
    """Window counts of ``counters`` (the current step's included), and the world size."""
    if not counters:
        return [], 1
    device = counters[0].active.device
    sums: list[torch.Tensor] = []
    maxes: list[torch.Tensor] = []
    for c in counters:
        sums += [c.active + c.step_active, c.zeros.reshape(1),
                 torch.tensor([c.observations, float(not c.inactive_known)],
                              dtype=torch.float64, device=c.active.device)]
        if c.alive is not None:
            sums.append(c.alive + c.step_alive)  # type: ignore[operator]
        if c.negative is not None:
            sums.append(c.negative)
        maxes.append(c.last_active.masked_fill(c.step_active > 0, step).double())
        if c.pre_max is not None:
            maxes.append(c.pre_max.double())
    flat_sum = torch.cat([t.to(device, torch.float64) for t in sums])
    flat_max = torch.cat([t.to(device) for t in maxes])
    dist = process_group(sync)
    world = 1
    if dist is not None:
        dist.all_reduce(flat_sum, op=dist.ReduceOp.SUM)
        dist.all_reduce(flat_max, op=dist.ReduceOp.MAX)
        world = dist.get_world_size()
    s_np, m_np = flat_sum.cpu().numpy(), flat_max.cpu().numpy()
    out, s, m = [], 0, 0
    for c in counters:
        u = int(c.units or 0)
        item = WindowCounts(units=u, observations=int(s_np[s + u + 1]), active=s_np[s:s + u],
                            zeros=float(s_np[s + u]), inactive_known=not s_np[s + u + 2],
                            last_active=m_np[m:m + u].astype(np.int64))
        s += u + 3
        m += u
        if c.alive is not None:
            item.alive = s_np[s:s + u]
            s += u
        if c.negative is not None:
            item.negative = s_np[s:s + u]
            s += u
        if c.pre_max is not None:
            item.pre_max = m_np[m:m + u]
            m += u
        out.append(item)
    return out, world
