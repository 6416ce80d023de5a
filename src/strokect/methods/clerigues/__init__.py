"""``clerigues``: acute core on CT perfusion (Clèrigues et al., Comput Biol Med 2019).

See ``docs/methods/clerigues.md`` for the settings and every deviation from the paper.
"""

from strokect.methods.clerigues.config import (
    ALL_MODALITIES,
    PAPER_MIN_SIZES_VOXELS,
    PAPER_THRESHOLDS,
    CleriguesCalibration,
    CleriguesConfig,
)
from strokect.methods.clerigues.method import CleriguesMethod, patch_dataset
from strokect.methods.clerigues.preprocessing import prepare_case, prepare_volumes

__all__ = [
    "ALL_MODALITIES",
    "PAPER_MIN_SIZES_VOXELS",
    "PAPER_THRESHOLDS",
    "CleriguesCalibration",
    "CleriguesConfig",
    "CleriguesMethod",
    "patch_dataset",
    "prepare_case",
    "prepare_volumes",
]
