"""Calibration after k-fold training: choose a method's post-processing on its CV predictions.

Every fold's ``model.pt`` predicts that fold's validation cases exactly as ``strokect segment``
does (same `Method.prepare`, `strokect.inference.predict_volume`, `Method.combine`); the grid of
`Method.calibration_grid` is searched with `Method.calibration_objective` on these predictions
(`strokect.inference.grid_search`); the chosen calibration is stored in every fold's
``model.pt`` and ``best.pt`` (`strokect.methods.checkpoint.store_calibration`), so `segment
--weights RUN` and released weights use it, and ``RUN/calibration.json`` records the choice,
the per-case scores and the whole grid. (Clèrigues et al., CBM 2019, sec. 4, chose T and S_min
this way.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from strokect.errors import warn
from strokect.inference.prepared import Prepared
from strokect.inference.search import grid_search, score_masks
from strokect.io.records import write_json

__all__ = ["calibrate_run", "case_scorer"]

log = logging.getLogger(__name__)


def case_scorer(method, prepared: Prepared, combined: np.ndarray) -> Callable[[dict], dict]:
    """``params -> {"dice", "hd_mm", "hd_substituted"}`` of the method's primary output.

    Identical masks (e.g. several minimum sizes that remove nothing more) are scored once.
    """
    cache: dict[bytes, dict] = {}
    spacing = prepared.grid.spacing_mm

    def score(params: dict) -> dict:
        calibration = method.calibration_cls(**params)
        mask = method.finalize(prepared, combined, calibration)[method.primary_output].array > 0
        key = np.packbits(mask).tobytes()
        if key not in cache:
            cache[key] = score_masks(mask, prepared.label, spacing_mm=spacing)
        return cache[key]

    return score


def calibrate_run(
    run_dir: str | Path,
    *,
    splits: Sequence[Mapping[str, Sequence[str]]],
    cases: Mapping[str, Any],
    cache_dir: str | Path | None = None,
) -> dict | None:
    """Choose and store the calibration of a finished k-fold run (see the module docstring).

    Parameters
    ----------
    run_dir : path
        A ``strokect train`` run with ``fold_<i>/model.pt`` for every fold.
    splits : sequence of {"train": [...], "val": [...]}
        The run's folds (``RUN/splits.json``).
    cases : mapping case_id -> `strokect.data.Case`
        At least every validation case, with its reference mask.
    cache_dir : path, optional
        Cache of prepared cases (``RUN/cache``) for methods that cache.

    Returns
    -------
    dict or None
        The content of ``calibration.json``; None when there is nothing to calibrate (the
        method has no calibration grid, fewer than 2 folds, a fold without validation cases, or
        no validation case with a reference mask: a warning then says so).
    """
    from strokect.methods.checkpoint import load_model, store_calibration
    from strokect.pipelines.segment import predict_prepared

    run_dir = Path(run_dir)
    if len(splits) < 2 or not all(s["val"] for s in splits):
        return None
    t0 = time.time()
    scorers, ids, method = [], [], None
    for i, split in enumerate(splits):
        method, nets = load_model(run_dir / f"fold_{i}" / "model.pt")
        if method.calibration_grid() is None or method.calibration_cls is None:
            return None
        for cid in split["val"]:
            prepared = method.prepare_case(cases[cid], cache_dir=cache_dir)
            if prepared.label is None:
                continue
            combined = predict_prepared([(method, nets)], prepared)
            scorers.append(case_scorer(method, prepared, combined))
            ids.append(cid)
    if not scorers:
        role = method.reference_roles.get(method.primary_output)
        warn(
            f"{run_dir}: no validation case has a {role!r} reference mask: calibration skipped, "
            "segment uses the method's default calibration"
        )
        return None
    objective = method.calibration_objective()
    result = grid_search(method.calibration_grid(), scorers, objective)
    calibration = method.calibration_cls(**result.best)
    info = {
        "chosen_by": f"grid search on {len(ids)} cross-validation predictions ({result.objective})",
        **{f"cv_mean_{k}": v for k, v in result.means.items()},
    }
    for i in range(len(splits)):
        for name in ("model.pt", "best.pt"):
            path = run_dir / f"fold_{i}" / name
            if path.is_file():
                store_calibration(path, calibration, info)
    per_case = {cid: score(result.best) for cid, score in zip(ids, scorers, strict=True)}
    document = {
        "method": method.name,
        "calibration": dict(result.best),
        **info,
        "seconds": round(time.time() - t0, 1),
        "cv_cases": {
            cid: {k: v for k, v in s.items() if k != "hd_substituted"}
            for cid, s in per_case.items()
        },
        "grid": result.table,
    }
    write_json(document, run_dir / "calibration.json")
    log.info("calibration %s (%s)", result.best, result.objective)
    return document
