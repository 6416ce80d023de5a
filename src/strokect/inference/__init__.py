"""Inference over any predictor: slice-wise prediction, sliding window, MC dropout, ensembles,
post-processing and the generic calibration search.

A predictor is any callable ``f(x: Tensor) -> Tensor``; MC dropout and ensembles are predictors
too (`strokect.inference.sampling`), never new engines. This layer knows no method and no
checkpoint: `strokect.pipelines.segment` puts a method, its weights and these pieces together.
"""

from strokect.inference.postprocess import component_sizes, postprocess
from strokect.inference.predict import InferencePlan, mean_and_variance, predict_volume
from strokect.inference.prepared import Prepared
from strokect.inference.sampling import (
    SampledPredictor,
    StagedPredictor,
    ensemble,
    mc_dropout,
    mean_variance,
    split_mean_variance,
)
from strokect.inference.search import Objective, SearchResult, grid_search, score_masks
from strokect.inference.sliding import predict_slices, sliding_window

__all__ = [
    "InferencePlan",
    "Objective",
    "Prepared",
    "SampledPredictor",
    "SearchResult",
    "StagedPredictor",
    "component_sizes",
    "ensemble",
    "grid_search",
    "mc_dropout",
    "mean_and_variance",
    "mean_variance",
    "postprocess",
    "predict_slices",
    "predict_volume",
    "score_masks",
    "sliding_window",
    "split_mean_variance",
]
