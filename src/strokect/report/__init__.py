"""Evaluation reports: case matching, figures, the HTML page and `evaluate_folders`."""

from strokect.report.cases import CaseFiles, case_id_from_path, match_cases
from strokect.report.evaluation import EvaluationOutputs, evaluate_case
from strokect.report.figures import (
    bland_altman_figure,
    dice_figure,
    figure_to_png_base64,
    overlay_mosaic,
    volume_scatter_figure,
)
from strokect.report.pipeline import evaluate_cases, evaluate_folders

__all__ = [
    "CaseFiles",
    "EvaluationOutputs",
    "bland_altman_figure",
    "case_id_from_path",
    "dice_figure",
    "evaluate_case",
    "evaluate_cases",
    "evaluate_folders",
    "figure_to_png_base64",
    "match_cases",
    "overlay_mosaic",
    "volume_scatter_figure",
]
