"""evaluate_folders on a synthetic cohort: CSV, JSON and HTML; broken cases reported per case."""

from __future__ import annotations

import base64
import csv
import json
import math

import pytest

from strokect.io import read_volume
from strokect.metrics import evaluate_masks
from strokect.report import evaluate_folders
from tests.browser import screenshot
from tests.report.cohort_for_tests import write_cohort


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    root = tmp_path_factory.mktemp("cohort")
    dirs = write_cohort(root)
    out = evaluate_folders(dirs["pred"], dirs["ref"], out_dir=root / "out", image_dir=dirs["image"])
    return dirs, out


def test_counts_and_per_case_statuses(evaluated):
    _, out = evaluated
    assert (out.n_cases, out.n_evaluated, out.n_failed) == (12, 8, 4)
    rows = {r["case_id"]: r for r in csv.DictReader(out.csv_path.open())}
    assert [rows[c]["status"] for c in sorted(rows)] == ["ok"] * 8 + ["error"] * 4
    assert rows["case09"]["message"].startswith("geometry mismatch")
    assert "binary" in rows["case10"]["message"]
    assert rows["case11"]["message"] == "no matching reference file"
    assert rows["case12"]["message"] == "no matching prediction file"
    assert rows["case07"]["dice"] == "1.0" and rows["case07"]["hd95_mm"] == "0.0"
    assert rows["case08"]["hd95_mm"] == "nan" and rows["case08"]["one_empty"] == "true"


def test_csv_values_equal_the_metric_functions(evaluated):
    dirs, out = evaluated
    rows = {r["case_id"]: r for r in csv.DictReader(out.csv_path.open())}
    ref = read_volume(dirs["ref"] / "CASE03_seg.nii.gz")
    pred = read_volume(dirs["pred"] / "case03_pred.nii.gz")
    expected = evaluate_masks(pred.array, ref.array, spacing_mm=ref.spacing_mm)
    for key in ("dice", "hd95_mm", "assd_mm", "ref_volume_ml", "lesion_f1"):
        assert float(rows["case03"][key]) == pytest.approx(expected[key], rel=1e-12)


def test_json_is_strict_and_counts_missing(evaluated):
    _, out = evaluated
    doc = json.loads(out.json_path.read_text())  # strict: NaN written as null
    assert doc["n_evaluated"] == 8 and len(doc["problems"]) == 4
    overall = doc["summary"]["overall"]
    assert overall["n_both_empty"] == 1 and overall["n_one_empty"] == 1
    assert overall["metrics"]["hd95_mm"]["n_missing"] == 1
    assert set(doc["summary"]["volume_groups"]) == {"<10 mL", "10-50 mL", ">50 mL"}
    icc3 = overall["volume_agreement"]["icc_3_1"]
    assert icc3["ci_low"] < icc3["value"] < icc3["ci_high"]
    assert not any(
        isinstance(v, float) and math.isnan(v) for v in overall["metrics"]["dice"].values()
    )


def test_html_is_self_contained(evaluated):
    _, out = evaluated
    page = out.html_path.read_text()
    images = page.count("src='data:image/png;base64,")
    assert images == 3 + 3  # Dice, Bland-Altman, scatter + best/median/worst overlays
    assert "src='http" not in page and "<script" not in page and "<link" not in page
    for text in (
        "ICC(3,1)",
        "Bland-Altman",
        "case09",
        "no matching reference file",
        "reference &gt; 10 mL",
    ):
        assert text in page
    first = page.split("base64,")[1].split("'")[0]
    assert base64.b64decode(first)[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.html_path.parent.glob(".tmp-*"))  # atomic writes left no temp files


def test_html_renders_in_headless_chromium(evaluated, tmp_path):
    _, out = evaluated
    pixels = screenshot(out.html_path, tmp_path / "shot.png")
    assert pixels.shape == (2000, 1280)
    assert pixels.std() > 20  # not a blank page
    assert (pixels < 100).mean() > 0.005  # text, tables and plot marks in dark ink
    assert (pixels < 245).mean() > 0.05  # and a fair share of the page is not white
