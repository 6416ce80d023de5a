"""Inference over any predictor: sliding window, slice-wise 2D, MC dropout, ensembles, post-processing.

A predictor is any callable ``f(x: Tensor) -> Tensor``; MC dropout and ensembles are predictors
too (`strokect.inference.sampling`), never new engines.
"""

from strokect.inference.gridsearch import (
    PAPER_MIN_SIZES_VOXELS,
    PAPER_THRESHOLDS,
    GridSearchResult,
    grid_search_postprocess,
)
from strokect.inference.postprocess import component_sizes, postprocess
from strokect.inference.sampling import (
    SampledPredictor,
    ensemble,
    mc_dropout,
    mean_variance,
    split_mean_variance,
)
from strokect.inference.sliding import predict_slices, sliding_window

__all__ = [
    "PAPER_MIN_SIZES_VOXELS",
    "PAPER_THRESHOLDS",
    "GridSearchResult",
    "SampledPredictor",
    "component_sizes",
    "ensemble",
    "grid_search_postprocess",
    "mc_dropout",
    "mean_variance",
    "postprocess",
    "predict_slices",
    "sliding_window",
    "split_mean_variance",
]
