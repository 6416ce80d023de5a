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

from strokect.config import config_to_dict
from strokect.errors import warn
from strokect.inference.prepared import Prepared
from strokect.inference.search import grid_search, score_masks
from strokect.io.records import write_json

__all__ = ["calibrate_run", "case_scorer"]

log = logging.getLogger(__name__)


def case_scorer(
    method,
    prepared: Prepared,
    combined: np.ndarray,
    *,
    fixed: Mapping[str, Any] | None = None,
    output: str | None = None,
    reference: str = "label",
    hausdorff: bool = True,
) -> Callable[[dict], dict]:
    """``params -> {"dice", "hd_mm", "hd_substituted"}`` of one output of one case.

    ``params`` are completed by ``fixed`` (the other calibration fields); ``output`` defaults to
    the method's primary output; ``reference`` is ``"label"`` (`Prepared.label`) or a key of
    `Prepared.data`; ``hausdorff=False`` scores the Dice only. Identical masks (e.g. several minimum sizes that remove nothing more) are
    scored once.
    """
    cache: dict[bytes, dict] = {}
    spacing = prepared.target.spacing_mm
    name = output or method.primary_output
    ref = prepared.label if reference == "label" else prepared.data[reference]

    def score(params: dict) -> dict:
        calibration = method.calibration_cls(**{**(fixed or {}), **params})
        mask = method.finalize(prepared, combined, calibration)[name].array > 0
        key = np.packbits(mask).tobytes()
        if key not in cache:
            cache[key] = score_masks(mask, ref, spacing_mm=spacing, hausdorff=hausdorff)
        return cache[key]

    return score


def _has_reference(prepared: Prepared, reference: str) -> bool:
    if reference == "label":
        return prepared.label is not None
    return prepared.data.get(reference) is not None


def cv_predictions(
    run_dir: str | Path,
    splits: Sequence[Mapping[str, Sequence[str]]],
    cases: Mapping[str, Any],
    *,
    cache_dir: str | Path | None = None,
) -> tuple[Any, list[tuple[str, Prepared, np.ndarray]]]:
    """Every validation case predicted by its own fold's model, as ``segment`` does.

    Returns the method (None when it has nothing to calibrate) and ``[(case_id, prepared,
    combined)]`` for the cases with a reference mask.
    """
    from strokect.methods.checkpoint import load_model
    from strokect.pipelines.segment import predict_prepared

    predictions, method = [], None
    for i, split in enumerate(splits):
        method, nets = load_model(Path(run_dir) / f"fold_{i}" / "model.pt")
        if method.calibration_cls is None or not method.calibration_searches():
            return None, []
        for cid in split["val"]:
            prepared = method.prepare_case(cases[cid], cache_dir=cache_dir)
            if prepared.label is None:
                continue
            predictions.append((cid, prepared, predict_prepared([(method, nets)], prepared)))
    return method, predictions


def search_calibration(
    method, predictions: Sequence[tuple[str, Prepared, np.ndarray]], *, run_dir: str | Path = ""
) -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
    """Run the method's `calibration_searches` in order on cross-validation predictions.

    Returns the calibration, the summary stored in the checkpoints (``chosen_by``, mean scores)
    and one record per search (cases, objective, choice, per-case scores, whole grid).
    """
    chosen = config_to_dict(method.default_calibration())
    info: dict[str, Any] = {}
    searches: list[dict[str, Any]] = []
    all_searches = method.calibration_searches()
    for search in all_searches:
        used = [
            (cid, p, c)
            for cid, p, c in predictions
            if _has_reference(p, search.reference) and (search.select is None or search.select(p))
        ]
        label = search.name or "calibration"
        if not used:
            warn(
                f"{run_dir or 'calibration'}: no cross-validation case for the {label} search: "
                f"{', '.join(search.grid)} keep their default values"
            )
            searches.append(
                {"name": label, "n_cases": 0, "kept": {k: chosen[k] for k in search.grid}}
            )
            continue
        fixed = dict(chosen)
        objective = search.objective or method.calibration_objective()
        options = {
            "fixed": fixed,
            "output": search.output,
            "reference": search.reference,
            "hausdorff": "hd_mm" in objective.names,
        }
        scorers = [case_scorer(method, p, c, **options) for _, p, c in used]
        result = grid_search(search.grid, scorers, objective)
        output = search.output or method.primary_output
        if result.flat:
            warn(
                f"{run_dir or 'calibration'}: the {label} search gives every case the same "
                f"score at every value of {', '.join(search.grid)}: {result.best} is the grid's "
                f"first value, not a choice made by the data (does `{output}` use it?)"
            )
        chosen.update(result.best)
        prefix = "" if len(all_searches) == 1 else f"{label}_"
        info.update({f"cv_mean_{prefix}{k}": v for k, v in result.means.items()})
        searches.append(
            {
                "name": label,
                "output": output,
                "reference": search.reference,
                "n_cases": len(used),
                "objective": result.objective,
                "best": dict(result.best),
                "flat": result.flat,
                "cv_cases": {
                    cid: {k: v for k, v in score(result.best).items() if k != "hd_substituted"}
                    for (cid, _, _), score in zip(used, scorers, strict=True)
                },
                "grid": result.table,
            }
        )
    calibration = method.calibration_cls(**chosen)
    if len(searches) == 1:
        how = f" ({searches[0]['objective']})"
    else:
        how = ": " + " then ".join(f"{s['name']} on {s['n_cases']} cases" for s in searches)
    info = {
        "chosen_by": f"grid search on {len(predictions)} cross-validation predictions{how}",
        **info,
    }
    return calibration, info, searches


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
    from strokect.methods.checkpoint import store_calibration

    run_dir = Path(run_dir)
    if len(splits) < 2 or not all(s["val"] for s in splits):
        return None
    t0 = time.time()
    method, predictions = cv_predictions(run_dir, splits, cases, cache_dir=cache_dir)
    if method is None:
        return None
    if not predictions:
        role = method.reference_roles.get(method.primary_output)
        warn(
            f"{run_dir}: no validation case has a {role!r} reference mask: calibration skipped, "
            "segment uses the method's default calibration"
        )
        return None
    calibration, info, searches = search_calibration(method, predictions, run_dir=run_dir)
    for i in range(len(splits)):
        for name in ("model.pt", "best.pt"):
            path = run_dir / f"fold_{i}" / name
            if path.is_file():
                store_calibration(path, calibration, info)
    document = {
        "method": method.name,
        "calibration": config_to_dict(calibration),
        **info,
        "seconds": round(time.time() - t0, 1),
        "cv_cases": searches[0].get("cv_cases", {}),
        "grid": searches[0].get("grid", []),
        "searches": searches,
    }
    write_json(document, run_dir / "calibration.json")
    log.info("calibration %s", document["calibration"])
    return document
