"""Sharding logic (fast) and a real 2-process gloo run through torchrun (slow)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from strokect.data.loader import make_loader
from strokect.engine import dist_info_from_env, shard_indices
from strokect.methods.base import TrainContext


def test_dist_info_from_env():
    info = dist_info_from_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"})
    assert (info.rank, info.world_size, info.local_rank, info.enabled) == (3, 4, 1, True)
    assert not dist_info_from_env({}).enabled
    with pytest.raises(ValueError, match="RANK=5"):
        dist_info_from_env({"WORLD_SIZE": "2", "RANK": "5"})


@pytest.mark.parametrize("shuffle", [False, True])
def test_shards_are_disjoint_and_cover_everything(shuffle):
    n, world = 10, 3
    shards = [
        shard_indices(n, rank=r, world_size=world, shuffle=shuffle, seed=1) for r in range(world)
    ]
    assert all(len(s) == 4 for s in shards)  # ceil(10 / 3), padded by wrapping around
    flat = [i for s in shards for i in s]
    assert set(flat) == set(range(n))
    assert len(flat) - len(set(flat)) == 2  # only the padding repeats
    if shuffle:
        other = shard_indices(n, rank=0, world_size=world, shuffle=True, seed=1, epoch=1)
        assert other != shards[0]  # a new order every epoch


def test_make_loader_shards_by_context_rank():
    dataset = torch.utils.data.TensorDataset(torch.arange(8))
    seen = []
    for rank in range(2):
        loader = make_loader(
            dataset, TrainContext(rank=rank, world_size=2), batch_size=2, shuffle=True
        )
        seen.append(sorted(int(v) for (batch,) in loader for v in batch))
    assert set(seen[0]).isdisjoint(seen[1]) and sorted(seen[0] + seen[1]) == list(range(8))
    single = make_loader(dataset, TrainContext(), batch_size=8, shuffle=False)
    assert next(iter(single))[0].tolist() == list(range(8))


WORKER = """
import sys, torch
from strokect.engine import fit
from strokect.methods.examples import ToyEndToEnd
m = ToyEndToEnd()
cases = list(range(4))
r = fit(m, lambda c: m.train_data(cases, c), lambda c: m.val_data(cases, c),
        out_dir=sys.argv[1], max_epochs=2, progress=False, seed=0)
w = torch.cat([p.detach().flatten() for n in r.networks.values() for p in n.parameters()])
torch.save(w, f"{sys.argv[1]}/weights_rank{torch.distributed.get_rank() if torch.distributed.is_initialized() else 0}.pt")
print("steps", r.steps)
"""


@pytest.mark.slow
def test_two_process_gloo_training_with_torchrun(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(
        WORKER.replace(
            "torch.distributed.get_rank() if torch.distributed.is_initialized() else 0",
            "__import__('os').environ['RANK']",
        )
    )
    out = tmp_path / "run"
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", str(script), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    w0 = torch.load(out / "weights_rank0.pt", weights_only=True)
    w1 = torch.load(out / "weights_rank1.pt", weights_only=True)
    assert torch.equal(w0, w1)  # DDP kept both replicas identical
    # 16 samples, batch 4, 2 ranks -> 2 steps per epoch per rank
    assert proc.stdout.count("steps 4") == 2
    assert (out / "model.pt").is_file() and (out / "log.csv").is_file()
