"""``pseudodwi``: acute core from raw 4D CTP via a synthesized pseudo-DWI (Wang, Song et al., MedIA 2020).

See ``docs/methods/pseudodwi.md`` for the settings and every deviation from the paper.
"""

from strokect.methods.pseudodwi.config import (
    MAP_ROLES,
    THRESHOLD_GRID,
    PseudoDwiCalibration,
    PseudoDwiConfig,
)
from strokect.methods.pseudodwi.method import PseudoDwiMethod, SliceSamples

__all__ = [
    "MAP_ROLES",
    "THRESHOLD_GRID",
    "PseudoDwiCalibration",
    "PseudoDwiConfig",
    "PseudoDwiMethod",
    "SliceSamples",
]
