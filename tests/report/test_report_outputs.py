"""evaluate_folders on a synthetic cohort: CSV, JSON and HTML; broken cases reported per case."""

from __future__ import annotations

import base64
import csv
import json
import math
import re
from datetime import datetime

import pytest

from strokect.io import read_volume
from strokect.metrics import evaluate_masks
from strokect.report import evaluate_folders
from strokect.report.pipeline import (
    HTML_CASE_COLUMNS,
    mean_dice_nonempty_reference,
    pick_best_median_worst,
    ranked_cases,
)
from strokect.version import __version__
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


# ------------------------------------------------------------------ report items of the cohort
def _case_table(page: str) -> dict[str, dict[str, str]]:
    """The HTML per-case table as {case_id: {column: cell text}}."""
    table = page.split("<table class='cases'>", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    head = [h.replace("<wbr>", "") for h in re.findall(r"<th>(.*?)</th>", rows[0])]
    out = {}
    for row in rows[1:]:
        cells = dict(zip(head, re.findall(r"<td[^>]*>(.*?)</td>", row, re.S), strict=True))
        out[cells["case_id"]] = cells
    return out


def test_version_date_and_models_not_recorded(evaluated):
    _, out = evaluated
    doc = json.loads(out.json_path.read_text())
    page = out.html_path.read_text()
    assert doc["strokect_version"] == __version__
    made = datetime.fromisoformat(doc["created"])
    assert made.tzinfo is not None and abs((datetime.now(made.tzinfo) - made).days) < 1
    assert f"strokect {__version__} · report made {doc['created']}" in page
    assert doc["models"] == "not recorded"  # plain mask folders carry no provenance
    assert "Methods and weights: <b>not recorded</b>" in page


def test_case_table_has_the_csv_columns_with_the_csv_values(evaluated):
    _, out = evaluated
    table = _case_table(out.html_path.read_text())
    rows = {r["case_id"]: r for r in csv.DictReader(out.csv_path.open())}
    assert list(next(iter(table.values())))[2:-2] == list(HTML_CASE_COLUMNS)
    assert {"hausdorff_mm", "precision", "recall"} <= set(HTML_CASE_COLUMNS)
    for cid in ("case03", "case06"):
        for col in ("hausdorff_mm", "precision", "recall", "dice"):
            assert table[cid][col] == f"{float(rows[cid][col]):.3f}"
    assert table["case08"]["hausdorff_mm"] == "–"  # one empty mask: undefined, as nan in the CSV


def test_mean_dice_over_cases_with_a_reference_lesion(evaluated):
    _, out = evaluated
    rows = [r for r in csv.DictReader(out.csv_path.open()) if r["status"] == "ok"]
    used = [float(r["dice"]) for r in rows if float(r["ref_volume_ml"]) > 0]
    doc = json.loads(out.json_path.read_text())["mean_dice_nonempty_reference"]
    assert doc["mean"] == pytest.approx(sum(used) / len(used)) and doc["n_cases"] == len(used) == 7
    assert doc["n_both_empty_excluded"] == 1 and doc["n_empty_reference_excluded"] == 0
    page = out.html_path.read_text()
    assert (
        f"<b>Mean Dice {doc['mean']:.3f}</b> over the 7 cases with a non-empty reference "
        "(1 with both masks empty excluded)" in page
    )


def test_best_and_worst_overlays_match_the_table(evaluated):
    _, out = evaluated
    page = out.html_path.read_text()
    table = _case_table(page)
    ranked = {c: float(r["dice"]) for c, r in table.items()
              if r["status"] == "ok" and not r["dice"].endswith("*")}  # fmt: skip
    assert table["case07"]["dice"] == "1.000*"  # both empty: shown, marked, not ranked
    titles = dict(re.findall(r"<h3>(\w+) Dice \([\d.]+\): (\w+)</h3>", page))
    assert titles["best"] == max(ranked, key=ranked.get)
    assert titles["worst"] == min(ranked, key=ranked.get)
    for label, cid in titles.items():
        assert table[cid]["overlay"] == label
        assert f"<h3>{label} Dice ({table[cid]['dice']}): {cid}</h3>" in page
    assert json.loads(out.json_path.read_text())["overlays"] == titles


def test_pick_best_median_worst_ranks_what_the_table_ranks():
    def rec(cid, dice, ref_ml, both=False):
        return {"case_id": cid, "status": "ok", "dice": dice, "ref_volume_ml": ref_ml,
                "both_empty": both}  # fmt: skip

    records = [rec("a", 1.0, 0.0, both=True), rec("b", 0.0, 0.0), rec("c", 0.5, 2.0),
               rec("d", 0.9, 1.0), rec("e", 0.9, 3.0), rec("f", 0.2, 5.0),
               {"case_id": "g", "status": "error", "dice": float("nan")}]  # fmt: skip
    assert [r["case_id"] for r in ranked_cases(records)] == ["d", "e", "c", "f"]
    picks = {label: r["case_id"] for label, r in pick_best_median_worst(records)}
    assert picks == {"best": "d", "median": "e", "worst": "f"}  # ties: lower id is "best"
    mean = mean_dice_nonempty_reference(records)
    assert mean == {"mean": pytest.approx(0.625), "n_cases": 4, "n_both_empty_excluded": 1,
                    "n_empty_reference_excluded": 1}  # fmt: skip
    # nothing with a reference lesion: the others are ranked, both-empty only as a last resort
    only_empty = [rec("a", 1.0, 0.0, both=True), rec("b", 0.0, 0.0)]
    assert [r["case_id"] for r in ranked_cases(only_empty)] == ["b"]
    assert mean_dice_nonempty_reference(only_empty)["mean"] is None
