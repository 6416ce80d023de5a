"""Evaluate a folder of predictions against a folder of references: CSV, JSON and HTML report.

Outputs in ``out_dir`` (each written atomically, so none is ever half-written):

- ``per_case.csv``: one row per case id found in either folder: ``case_id``, ``status`` (``ok`` or
  ``error``), every metric of `strokect.metrics.METRIC_COLUMNS` (``nan`` where undefined), and
  ``message`` (why a case was not evaluated, or a note such as an image that did not fit).
- ``summary.json``: settings, case counts, the problems list and `strokect.stats.summarize_evaluation`
  (overall, reference > 10 mL, volume groups); NaN/inf are written as ``null``.
- ``report.html``: one self-contained page (see :mod:`strokect.report.html`).

A case that cannot be evaluated (no partner file, several files for one id, unreadable file,
geometry mismatch, non-binary mask, 4D image) is reported with its reason; the others still are.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from strokect.io import Volume, read_volume, require_3d
from strokect.io.records import write_csv
from strokect.io.records import write_json as write_json  # re-export: kept importable here
from strokect.metrics import METRIC_COLUMNS, evaluate_masks
from strokect.metrics._checks import as_binary_mask
from strokect.report.cases import CaseFiles

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluationOutputs:
    """Paths written by `evaluate_folders` and case counts."""

    csv_path: Path
    json_path: Path
    html_path: Path
    n_cases: int
    n_evaluated: int
    n_failed: int


def read_case_masks(case: CaseFiles) -> tuple[np.ndarray, np.ndarray, Volume]:
    """Read and check the masks of one case; returns (pred, ref, reference volume).

    Raises ``ValueError``/``OSError`` with a message naming the file when the case cannot be used.
    """
    ref_vol = require_3d(read_volume(case.ref), name=f"reference {case.ref.name}")
    pred_vol = require_3d(read_volume(case.pred), name=f"prediction {case.pred.name}")
    if not pred_vol.same_geometry(ref_vol):
        raise ValueError(
            f"geometry mismatch: prediction {case.pred.name} has {pred_vol.geometry_summary()}, "
            f"origin {np.round(pred_vol.origin, 2).tolist()}; reference {case.ref.name} has "
            f"{ref_vol.geometry_summary()}, origin {np.round(ref_vol.origin, 2).tolist()}"
        )
    pred = as_binary_mask(pred_vol.array, name=f"prediction {case.pred.name}")
    ref = as_binary_mask(ref_vol.array, name=f"reference {case.ref.name}")
    return pred, ref, ref_vol


def read_case_image(case: CaseFiles, ref_vol: Volume) -> tuple[np.ndarray | None, str]:
    """The case's CT on the reference grid, or (None, note) when absent or not on that grid."""
    if case.image is None:
        return None, ""
    try:
        image = require_3d(read_volume(case.image), name=f"image {case.image.name}")
    except (ValueError, OSError) as exc:
        return None, f"image not used: {exc}"
    if not image.same_geometry(ref_vol):
        return None, f"image not used: {case.image.name} is not on the reference grid"
    return image.array, ""


def evaluate_case(case: CaseFiles) -> dict:
    """Per-case record: ``case_id``, ``status``, ``message`` and the metrics (NaN on error)."""
    record: dict = {"case_id": case.case_id, "status": "error", "message": case.problem or ""}
    record.update({c: float("nan") for c in METRIC_COLUMNS})
    if case.problem:
        return record
    try:
        pred, ref, ref_vol = read_case_masks(case)
        record.update(evaluate_masks(pred, ref, spacing_mm=ref_vol.spacing_mm))
    except (ValueError, OSError) as exc:
        record["message"] = str(exc).strip().splitlines()[0]
        return record
    record["status"] = "ok"
    if case.image is not None:
        record["message"] = read_case_image(case, ref_vol)[1]
    return record


def write_case_csv(records: Sequence[dict], path: Path) -> Path:
    """Write the per-case table (header: case_id, status, metrics..., message)."""
    return write_csv(records, path, columns=["case_id", "status", *METRIC_COLUMNS, "message"])
