"""The one training engine: :func:`fit` runs any `strokect.methods.base.Method`.

See ``docs/engine.md`` for the loop, the checkpoint format, resume and distributed training.
"""

from strokect.engine.checkpoint import (
    find_model_checkpoints,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from strokect.engine.crossval import CrossValResult, train_cross_validation
from strokect.engine.distributed import dist_info_from_env, make_loader, shard_indices
from strokect.engine.loop import FitResult, fit
from strokect.engine.runner import move_to_device
from strokect.engine.seeding import seed_everything, set_deterministic

__all__ = [
    "CrossValResult",
    "FitResult",
    "dist_info_from_env",
    "find_model_checkpoints",
    "fit",
    "load_checkpoint",
    "load_model",
    "make_loader",
    "move_to_device",
    "save_checkpoint",
    "seed_everything",
    "set_deterministic",
    "shard_indices",
    "train_cross_validation",
]
