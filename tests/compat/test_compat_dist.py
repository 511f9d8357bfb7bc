"""DDP and FSDP2 (fully_shard) with two gloo processes on CPU: a tiny model after convert()
(relukit's module for CReLU) trains 3 SGD steps; its gradients and parameters equal those of
the torch-activation model trained the same way (bits=k: of relukit's bits=k model with the
gradients averaged by hand). One spawn runs every case; the cells read its results."""

from __future__ import annotations

import json
import traceback
from datetime import timedelta

import pytest

torch = pytest.importorskip("torch")

from compat_cases import CASES, build_model, case_params  # noqa: E402

pytestmark = pytest.mark.xdist_group("dist")
STEPS = 3


def _train(model, wrap, rank, manual_average=False):
    import torch.distributed as dist

    wrapped = wrap(model)
    opt = torch.optim.SGD(wrapped.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(100 + rank)
    grads = []
    for _ in range(STEPS):
        x = torch.randn(4, 6, generator=g) * 2
        opt.zero_grad()
        wrapped(x).square().mean().backward()
        if manual_average:
            for p in wrapped.parameters():
                dist.all_reduce(p.grad)
                p.grad /= dist.get_world_size()
        grads.append([_full(p.grad) for p in wrapped.parameters()])
        opt.step()
    return grads, [_full(p.detach()) for p in wrapped.parameters()]


def _full(t):
    return t.full_tensor() if hasattr(t, "full_tensor") else t


def _worker(rank, rendezvous, out):
    import torch.distributed as dist
    from torch.distributed.fsdp import fully_shard
    from torch.nn.parallel import DistributedDataParallel as DDP

    # a rendezvous file, not a TCP port: no race with other tests for a free port
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank,
                            world_size=2, timeout=timedelta(seconds=120))
    results = {}
    try:
        def fsdp(m):
            fully_shard(m)
            return m

        wraps = {"ddp": DDP, "fsdp2": fsdp}
        for case in CASES:
            if case.inplace:
                continue
            flavour = "convert" if case.convertible else "relukit"
            for wname, wrap in wraps.items():
                key = f"{case.id}/{wname}"
                try:
                    if case.kbit:
                        ref = _train(build_model(case, "relukit"), lambda m: m, rank, True)
                    else:
                        ref = _train(build_model(case, "torch"), wrap, rank)
                    ours = _train(build_model(case, flavour), wrap, rank)
                    diffs = []
                    got, want = sum(ours[0], []) + ours[1], sum(ref[0], []) + ref[1]
                    for a, b in zip(got, want, strict=True):
                        d = (a - b).abs()
                        diffs.append((float(d.max()), float((d / b.abs().clamp_min(1e-6)).max())))
                    results[key] = {"ok": True, "max_abs": max(d[0] for d in diffs),
                                    "max_rel": max(d[1] for d in diffs)}
                except Exception as e:  # noqa: BLE001
                    results[key] = {"ok": False, "error": f"{type(e).__name__}: {e}"[:300],
                                    "tb": traceback.format_exc()[-1500:]}
                    dist.barrier()
        if rank == 0:
            with open(out, "w") as f:
                json.dump(results, f)
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def dist_results(tmp_path_factory):
    import torch.multiprocessing as mp

    folder = tmp_path_factory.mktemp("dist")
    out = str(folder / "results.json")
    mp.spawn(_worker, args=(str(folder / "rendezvous"), out), nprocs=2, join=True)
    with open(out) as f:
        return json.load(f)


DIST_CASES = [c for c in CASES if not c.inplace]


@pytest.mark.parametrize("case", case_params(DIST_CASES, with_flavour=False))
@pytest.mark.parametrize("wrapper", ["ddp", "fsdp2"])
def test_distributed(wrapper, case, dist_results):
    r = dist_results[f"{case.id}/{wrapper}"]
    assert r["ok"], r.get("tb", r.get("error"))
    if case.bitwise:
        assert r["max_abs"] == 0.0, r
    else:
        assert r["max_abs"] <= 1e-5 or r["max_rel"] <= 1e-5, r

