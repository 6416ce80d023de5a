"""`make_loader`: a ``DataLoader`` that shards across ``torchrun`` processes.

Methods build their training and validation batches with it; the engine sets the epoch of its
`DistributedSampler`. It sits in the data layer so that methods never import the engine.
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import DataLoader, Dataset, DistributedSampler

__all__ = ["make_loader"]


def make_loader(
    dataset: Dataset,
    ctx: Any,
    *,
    batch_size: int,
    shuffle: bool,
    drop_last: bool = False,
    num_workers: int = 0,
    collate_fn=None,
) -> DataLoader:
    """A ``DataLoader`` over ``dataset`` that shards across processes when ``ctx.world_size > 1``.

    ``ctx`` is the `strokect.methods.TrainContext` of the run (``rank``, ``world_size``,
    ``seed``). With one process it shuffles with the global torch RNG (so resume replays the
    order); with several it uses a `DistributedSampler` seeded from ``ctx.seed``, and the engine
    calls ``set_epoch`` on it every epoch.
    """
    sampler = None
    if ctx.world_size > 1:
        sampler = DistributedSampler(
            dataset,
            num_replicas=ctx.world_size,
            rank=ctx.rank,
            shuffle=shuffle,
            seed=ctx.seed,
            drop_last=drop_last,
        )
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle if sampler is None else False,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=num_workers,
        collate_fn=collate_fn,
    )
