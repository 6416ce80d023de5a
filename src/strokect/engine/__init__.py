"""The one training engine: :func:`fit` runs any `strokect.methods.base.Method`.

See ``docs/engine.md`` for the loop, the checkpoint format, resume and distributed training.
Checkpoints are read and written by `strokect.methods.checkpoint` (below the engine, so methods
and pipelines use it too); batches are built with `strokect.data.loader.make_loader`.
"""

from strokect.engine.crossval import CrossValResult, train_cross_validation
from strokect.engine.distributed import dist_info_from_env, shard_indices
from strokect.engine.loop import FitResult, fit
from strokect.engine.runner import move_to_device
from strokect.engine.seeding import seed_everything, set_deterministic

__all__ = [
    "CrossValResult",
    "FitResult",
    "dist_info_from_env",
    "fit",
    "move_to_device",
    "seed_everything",
    "set_deterministic",
    "shard_indices",
    "train_cross_validation",
]
