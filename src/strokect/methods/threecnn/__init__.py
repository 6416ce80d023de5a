"""``threecnn``: follow-up infarct on NCCT by hypodensity-class patch CNNs (Barros et al., JNIS 2020).

See ``docs/methods/threecnn.md`` for the settings and every deviation from the paper.
"""

from strokect.methods.threecnn.config import (
    CLASS_BOUNDS_HU,
    CLASSES,
    ThreeCnnCalibration,
    ThreeCnnConfig,
    lesion_class_of,
)
from strokect.methods.threecnn.hemorrhage import detect_hemorrhage_hu
from strokect.methods.threecnn.method import ThreeCnnMethod
from strokect.methods.threecnn.network import PatchCNN

__all__ = [
    "CLASSES",
    "CLASS_BOUNDS_HU",
    "PatchCNN",
    "ThreeCnnCalibration",
    "ThreeCnnConfig",
    "ThreeCnnMethod",
    "detect_hemorrhage_hu",
    "lesion_class_of",
]
