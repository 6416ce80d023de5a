"""Preprocessing: HU windows, brain / intracranial / CSF masks, symmetry, registration, resampling.

See ``docs/preprocess.md``. Every function takes and returns `strokect.io.Volume` objects in mm.
"""

from strokect.preprocess.brain import brain_mask, perfusion_brain_mask
from strokect.preprocess.intensity import (
    hu_windows_to_channels,
    percentile_scale,
    window_hu,
    zscore_in_mask,
)
from strokect.preprocess.masks import csf_mask, intracranial_mask
from strokect.preprocess.registration import (
    RigidTransform,
    register_followup_to_baseline,
    register_rigid,
)
from strokect.preprocess.resample import resample_onto, resample_to_spacing
from strokect.preprocess.symmetry import (
    MidsagittalPlane,
    SymmetryTransform,
    estimate_midsagittal_plane,
    mirror,
    register_flipped,
    symmetric_modalities,
)

__all__ = [
    "MidsagittalPlane",
    "RigidTransform",
    "SymmetryTransform",
    "brain_mask",
    "csf_mask",
    "estimate_midsagittal_plane",
    "hu_windows_to_channels",
    "intracranial_mask",
    "mirror",
    "percentile_scale",
    "perfusion_brain_mask",
    "register_flipped",
    "register_followup_to_baseline",
    "register_rigid",
    "resample_onto",
    "resample_to_spacing",
    "symmetric_modalities",
    "window_hu",
    "zscore_in_mask",
]
