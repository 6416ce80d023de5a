"""Cohort summary: overall, > 10 mL subgroup, volume groups, NaN counting, JSON-serializable."""

from __future__ import annotations

import json
import math

import numpy as np

from strokect.stats import summarize_evaluation


def _records():
    rng = np.random.default_rng(0)
    out = []
    for i, ref in enumerate([2.0, 5.0, 8.0, 12.0, 20.0, 35.0, 60.0, 80.0]):
        pred = ref * (1 + rng.normal(0, 0.15))
        out.append({
            "dice": 0.5 + 0.05 * i, "hd95_mm": float("nan") if i == 0 else 3.0 + i,
            "pred_volume_ml": pred, "ref_volume_ml": ref, "both_empty": False, "one_empty": i == 0,
        })  # fmt: skip
    return out


def test_summary_groups_and_missing_counts():
    s = summarize_evaluation(_records(), metrics=("dice", "hd95_mm"))
    json.dumps(s, allow_nan=True)
    overall = s["overall"]
    assert overall["n_cases"] == 8 and overall["n_one_empty"] == 1
    assert (
        overall["metrics"]["hd95_mm"]["n"] == 7 and overall["metrics"]["hd95_mm"]["n_missing"] == 1
    )
    assert s["reference_gt_10_ml"]["n_cases"] == 5
    assert [g["n_cases"] for g in s["volume_groups"].values()] == [3, 3, 2]
    assert list(s["volume_groups"]) == ["<10 mL", "10-50 mL", ">50 mL"]
    icc3 = overall["volume_agreement"]["icc_3_1"]
    assert 0.9 < icc3["value"] <= 1 and icc3["ci_low"] < icc3["value"]
    small = s["volume_groups"][">50 mL"]["volume_agreement"]["bland_altman"]
    assert "not_computed" in small


def test_summary_of_an_empty_group_is_explicit():
    s = summarize_evaluation(_records()[:2], metrics=("dice",), groups_ml=(1, 3))
    g = s["volume_groups"]["1-3 mL"]
    assert g["n_cases"] == 1 and math.isnan(
        s["volume_groups"]["<1 mL"]["metrics"]["dice"]["median"]
    )
