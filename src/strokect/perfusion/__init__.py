"""4D CT perfusion analysis: AIF/VOF, SVD deconvolution, CBF/CBV/MTT/Tmax/TTP, readout, temporal tools."""

from strokect.perfusion.aif import InputFunction, aif_from_mask, select_aif, select_vof
from strokect.perfusion.deconvolution import METHODS, ResidueSummary, deconvolve, oscillation_index
from strokect.perfusion.maps import (
    HEMATOCRIT_FACTOR,
    TISSUE_DENSITY_G_PER_ML,
    PerfusionConfig,
    PerfusionResult,
    compute_perfusion_maps,
)
from strokect.perfusion.readout import Readout, readout_from_maps
from strokect.perfusion.run import perfusion_summary, run_perfusion, write_perfusion_outputs
from strokect.perfusion.temporal import (
    accumulated_intensity,
    crop_perfusion_window,
    perfusion_window,
    resample_frames,
    temporal_mip,
)

__all__ = [
    "HEMATOCRIT_FACTOR",
    "METHODS",
    "TISSUE_DENSITY_G_PER_ML",
    "InputFunction",
    "PerfusionConfig",
    "PerfusionResult",
    "Readout",
    "ResidueSummary",
    "accumulated_intensity",
    "aif_from_mask",
    "compute_perfusion_maps",
    "crop_perfusion_window",
    "deconvolve",
    "oscillation_index",
    "perfusion_summary",
    "perfusion_window",
    "readout_from_maps",
    "resample_frames",
    "run_perfusion",
    "select_aif",
    "select_vof",
    "temporal_mip",
    "write_perfusion_outputs",
]
