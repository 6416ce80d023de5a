"""Distributed data parallel (``torchrun``) support: process groups, wrapping and data sharding.

``torchrun --nproc_per_node N -m strokect ...`` (or any launcher setting ``WORLD_SIZE``, ``RANK``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) makes :func:`strokect.engine.fit` join a process
group: NCCL on CUDA, Gloo on CPU. Each network with trainable parameters is wrapped in
``DistributedDataParallel``; each process sees its shard of the data; only rank 0 writes files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DistributedSampler

__all__ = [
    "DistInfo",
    "all_reduce_means",
    "dist_info_from_env",
    "shard_indices",
    "wrap_networks",
]


@dataclass(frozen=True)
class DistInfo:
    """Rank layout of this process (``world_size == 1`` outside a distributed launch)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def dist_info_from_env(environ: Mapping[str, str] | None = None) -> DistInfo:
    """Read ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` as set by ``torchrun`` (defaults 1, 0, 0)."""
    env = os.environ if environ is None else environ
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise ValueError(f"malformed WORLD_SIZE/RANK/LOCAL_RANK environment: {exc}") from exc
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"inconsistent distributed environment: RANK={rank}, WORLD_SIZE={world}")
    return DistInfo(rank=rank, world_size=world, local_rank=local)


def init_process_group(info: DistInfo, device: torch.device) -> bool:
    """Join the process group when distributed and not joined yet; returns True if this call joined."""
    if not info.enabled or dist.is_initialized():
        return False
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)
    return True


def shard_indices(
    n: int, *, rank: int, world_size: int, shuffle: bool, seed: int = 0, epoch: int = 0
) -> list[int]:
    """Indices of ``range(n)`` that process ``rank`` handles in ``epoch`` (as `DistributedSampler`).

    Every rank gets ``ceil(n / world_size)`` indices (padded by wrapping around), shards are
    disjoint apart from that padding, and their union covers every index.
    """
    sampler = DistributedSampler(
        range(n), num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed
    )
    sampler.set_epoch(epoch)
    return list(sampler)


def wrap_networks(networks: dict[str, nn.Module], info: DistInfo, device: torch.device):
    """Wrap every network that has trainable parameters in ``DistributedDataParallel``."""
    if not info.enabled:
        return dict(networks)
    device_ids = [device.index] if device.type == "cuda" else None
    wrapped = {}
    for name, net in networks.items():
        if any(p.requires_grad for p in net.parameters()):
            wrapped[name] = nn.parallel.DistributedDataParallel(net, device_ids=device_ids)
        else:
            wrapped[name] = net
    return wrapped


def all_reduce_means(
    sums: dict[str, float], weight: float, device: torch.device
) -> dict[str, float]:
    """Weighted means of ``sums`` over all processes (``sums`` hold value x weight totals)."""
    keys = sorted(sums)
    if dist.is_available() and dist.is_initialized():
        buf = torch.tensor([sums[k] for k in keys] + [weight], dtype=torch.float64, device=device)
        dist.all_reduce(buf)
        values = buf.tolist()
        sums, weight = dict(zip(keys, values[:-1])), values[-1]
    if weight <= 0:
        return {}
    return {k: sums[k] / weight for k in keys}


def gather_objects(obj, info: DistInfo) -> list:
    """``[obj]`` from every rank (a one-element list when not distributed)."""
    if not (info.enabled and dist.is_initialized()):
        return [obj]
    out = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out
