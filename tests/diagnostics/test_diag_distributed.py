"""Two processes, gloo backend on localhost: counts are summed across ranks before verdicts.

Unit 0 fires only on rank 0's data, unit 1 only on rank 1's, unit 2 on nobody's: each rank
alone would call two units dead, the summed report calls only unit 2 dead.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

TIMEOUT_S = 90


def _worker(rank: int, port: int, out: str) -> None:
    from datetime import timedelta

    import torch
    import torch.distributed as dist
    from torch import nn

    from relukit.diagnostics import ActivationMonitor

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2, timeout=timedelta(seconds=60))
    try:
        fc = nn.Linear(1, 3)
        with torch.no_grad():
            fc.weight.copy_(torch.tensor([[1.0], [-1.0], [1.0]]))
            fc.bias.copy_(torch.tensor([0.0, 0.0, -1e4]))
        model = nn.parallel.DistributedDataParallel(nn.Sequential(fc, nn.ReLU()))
        sign = 1.0 if rank == 0 else -1.0
        x = sign * torch.linspace(0.5, 2.0, 8).unsqueeze(1)
        with ActivationMonitor(model) as monitor, ActivationMonitor(model, sync=False) as local:
            model(x).sum().backward()
            summed = monitor.step()
            alone = local.step()
        Path(out).write_text(json.dumps({"summed": summed.to_dict(), "alone": alone.to_dict()}))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_two_ranks(outs) -> tuple[list[int], str]:
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    procs = [subprocess.Popen([sys.executable, __file__, str(r), str(port), str(outs[r])],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for r in range(2)]
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=TIMEOUT_S)[0].decode(errors="replace"))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return [p.returncode for p in procs], "\n".join(logs)


def test_counts_are_summed_across_two_gloo_ranks(tmp_path):
    outs = [tmp_path / f"rank{r}.json" for r in range(2)]
    codes, logs = _run_two_ranks(outs)
    if codes != [0, 0] and "address already in use" in logs.lower():
        codes, logs = _run_two_ranks(outs)  # another process took the free port meanwhile
    assert codes == [0, 0], logs
    for rank, out in enumerate(outs):
        data = json.loads(out.read_text())
        summed, alone = data["summed"], data["alone"]
        assert summed["world_size"] == 2 and alone["world_size"] == 1
        (layer,) = summed["layers"]
        assert layer["name"] == "module.1"
        assert layer["dead_units"] == [2]
        assert layer["observations"] == 16
        assert alone["layers"][0]["dead_units"] == ([1, 2] if rank == 0 else [0, 2])


if __name__ == "__main__":
    _worker(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
