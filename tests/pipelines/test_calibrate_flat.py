"""A calibration search whose output ignores the searched value is reported, not silently kept."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from strokect.errors import StrokectWarning
from strokect.inference.prepared import Prepared
from strokect.inference.search import Objective, grid_search
from strokect.io.volume import Volume
from strokect.methods.base import CalibrationSearch
from strokect.pipelines.calibrate import search_calibration


@dataclass
class _Calibration:
    threshold: float = 0.5
    unused: float = 0.5


class _Method:
    """Thresholds the prediction at ``threshold``; ``unused`` changes nothing."""

    primary_output = "lesion"
    calibration_cls = _Calibration

    def default_calibration(self):
        return _Calibration()

    def calibration_objective(self):
        return Objective()

    def calibration_searches(self):
        return [
            CalibrationSearch({"threshold": (0.2, 0.4, 0.6)}, name="used"),
            CalibrationSearch({"unused": (0.1, 0.3, 0.9)}, name="ignored"),
        ]

    def finalize(self, prepared, combined, calibration):
        mask = (combined[0] >= calibration.threshold).astype(np.uint8)
        return {"lesion": Volume(mask, (1.0, 1.0, 1.0))}


def _case(seed: int):
    rng = np.random.default_rng(seed)
    prob = rng.uniform(0.0, 1.0, (4, 8, 8)).astype(np.float32)
    label = (prob >= 0.4).astype(np.uint8)
    grid = Volume(np.zeros((4, 8, 8), np.float32), (1.0, 1.0, 1.0))
    prepared = Prepared(image=prob[None], grid=grid, channels=["p"], label=label)
    return f"case_{seed}", prepared, prob[None]


def test_grid_search_marks_a_flat_grid():
    def depends(p):
        return {"dice": 1.0 - abs(p["t"] - 0.3)}

    def constant(p):
        return {"dice": 0.7}

    assert not grid_search({"t": [0.1, 0.3]}, [depends, constant], Objective()).flat
    flat = grid_search({"t": [0.1, 0.3]}, [constant, constant], Objective())
    assert flat.flat and flat.best == {"t": 0.1}
    assert not grid_search({"t": [0.1]}, [constant], Objective()).flat  # nothing to choose


def test_flat_search_warns_and_is_recorded():
    predictions = [_case(0), _case(1)]
    with pytest.warns(StrokectWarning, match="the ignored search gives every case the same") as w:
        calibration, _info, searches = search_calibration(_Method(), predictions, run_dir="RUN")
    assert calibration.threshold == 0.4  # the data's choice (the label is prob >= 0.4)
    assert calibration.unused == 0.1  # the grid's first value
    assert [s["flat"] for s in searches] == [False, True]
    flat_warnings = [str(x.message) for x in w if "ignored search" in str(x.message)]
    assert len(flat_warnings) == 1
    assert "does `lesion` use it?" in flat_warnings[0]  # the primary output when none is named
    json.dumps(searches)  # recorded in calibration.json as plain JSON
