"""``strokect train``: k-fold training by the engine, then the calibration step.

`strokect.engine.train_cross_validation` trains one model per fold; once every fold has its
``model.pt`` (also after ``--fold`` jobs, by the job that finds them all, or on ``--resume`` of
a finished run), `strokect.pipelines.calibrate.calibrate_run` chooses the method's calibration
on the cross-validation predictions. The engine never imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strokect.engine.crossval import CrossValResult, train_cross_validation

__all__ = ["TrainResult", "train"]


@dataclass
class TrainResult:
    """The engine's `CrossValResult` and the calibration document (None when not run)."""

    crossval: CrossValResult
    calibration: dict | None


def train(
    method_name: str, data_root: str | Path, run_dir: str | Path, **options: Any
) -> TrainResult:
    """Train ``method_name`` with k-fold cross-validation, then calibrate it.

    Parameters are those of `strokect.engine.train_cross_validation`. The calibration runs on
    the main process (rank 0) when every fold of the run has its ``model.pt``.
    """
    from strokect.engine.distributed import dist_info_from_env
    from strokect.pipelines.calibrate import calibrate_run

    result = train_cross_validation(method_name, data_root, run_dir, **options)
    calibration = None
    run = Path(run_dir)
    done = all((run / f"fold_{i}" / "model.pt").is_file() for i in range(len(result.splits)))
    if done and dist_info_from_env().rank == 0:
        calibration = calibrate_run(
            run, splits=result.splits, cases=result.cases, cache_dir=run / "cache"
        )
        _record_domain(run, result)
    return TrainResult(result, calibration)


def _record_domain(run: Path, result: CrossValResult) -> None:
    """Store the statistics of the run's training inputs in every fold checkpoint."""
    from strokect.methods.checkpoint import load_model, store_domain
    from strokect.pipelines.domain import domain_of_cases

    method, _ = load_model(run / "fold_0" / "model.pt")
    if not method.training_roles():  # trained on generated data: no input statistics
        return
    scope = f"trained on the {len(result.cases)} cases of {result.data_root}"
    domain = domain_of_cases(method, result.cases.values(), scope=scope, cache_dir=run / "cache")
    for i in range(len(result.splits)):
        for name in ("model.pt", "best.pt"):
            if (run / f"fold_{i}" / name).is_file():
                store_domain(run / f"fold_{i}" / name, domain)
