"""`strokect evaluate` on digital-phantom references with simulated predictions."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from strokect.cli.main import main
from strokect.io import write_volume


def write_phantom_cohort(root: Path, seeds=range(6)) -> dict[str, Path]:
    """Follow-up NCCT + infarct mask of phantom cases; predictions = the mask perturbed per case
    (dilated, eroded, shifted, with a false-positive island or missed entirely)."""
    phantom = pytest.importorskip("strokect.phantom")
    dirs = {k: root / k for k in ("pred", "ref", "image")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        case = phantom.synth_case(seed, "tiny", kind="ischemic")
        ref_vol = case.followup["infarct"]
        ref = ref_vol.array.astype(bool)
        rng = np.random.default_rng(seed)
        action = seed % 5
        if action == 0:
            pred = ndimage.binary_dilation(ref)
        elif action == 1:
            pred = ndimage.binary_erosion(ref) | (ref & (rng.random(ref.shape) < 0.3))
        elif action == 2:
            pred = np.roll(ref, 2, axis=2)
        elif action == 3:
            pred = ref.copy()
            pred[ref.shape[0] // 2, 5:8, 5:8] = True
        else:
            pred = np.zeros_like(ref)
        cid = case.case_id
        write_volume(ref_vol, dirs["ref"] / f"{cid}_infarct.nii.gz")
        write_volume(ref_vol.with_array(pred.astype(np.uint8)), dirs["pred"] / f"{cid}_pred.nii.gz")
        write_volume(case.followup["ncct_followup"], dirs["image"] / f"{cid}_ct.nii.gz")
    return dirs


def test_evaluate_on_phantom_cases(tmp_path, capsys):
    dirs = write_phantom_cohort(tmp_path / "phantom")
    out = tmp_path / "out"
    argv = ["evaluate", "--pred", str(dirs["pred"]), "--ref", str(dirs["ref"]),
            "--image", str(dirs["image"]), "-o", str(out)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    rows = list(csv.DictReader((out / "per_case.csv").open()))
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows)
    by_id = {r["case_id"]: r for r in rows}
    assert (
        float(by_id["phantom_0002"]["dice"]) < 1 and float(by_id["phantom_0003"]["recall"]) == 1.0
    )
    assert by_id["phantom_0004"]["dice"] == "0.0" and by_id["phantom_0004"]["hd95_mm"] == "nan"
    doc = json.loads((out / "summary.json").read_text())
    assert doc["summary"]["overall"]["n_cases"] == 6
    assert (out / "report.html").read_text().count("data:image/png;base64,") == 6
