"""Both reports as a person sees them: headless Chromium renders the per-case segment report and
the evaluate cohort report of digital-phantom cases; images must load from ``data:`` URIs, nothing
may be fetched, the console must stay silent and the key numbers must be on the page.

``STROKECT_UPDATE_DOCS_IMG=1`` also copies the screenshots to ``docs/img/segment_report.png`` and
``docs/img/evaluate_report.png`` (the images of docs/evaluation.md).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from strokect.report.segment_report import write_segment_report
from strokect.version import __version__
from tests.browser import image_ink, render, screenshot
from tests.report.segment_case_for_tests import PATIENT_FOLDER, SHA, provenance
from tests.report.test_phantom_report import write_phantom_cohort

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
WINDOW = (1280, 1600)
MAX_SHOT_BYTES = 600_000
METHOD = "phantom-demo"  # simulated predictions: the phantom's infarct, perturbed; no network


def _segment_report(root: Path) -> dict:
    """The report of phantom case 0 with its infarct as the lesion, as `segment` would call it."""
    from strokect.phantom import synth_case

    case = synth_case(0, "tiny", kind="ischemic")
    ct, infarct = case.followup["ncct_followup"], case.followup["infarct"]
    prob = np.clip(ndimage.gaussian_filter(infarct.array.astype(float), 0.8) * 1.4, 0, 1)
    outputs = {
        "lesion": infarct.with_array((prob >= 0.5).astype(np.uint8), kind="mask"),
        "probability": infarct.with_array(prob.astype(np.float32), kind="probability"),
        "uncertainty": infarct.with_array((4 * prob * (1 - prob)).astype(np.float32),
                                          kind="uncertainty"),
    }  # fmt: skip
    volumes = {"lesion": float((prob >= 0.5).sum()) * ct.voxel_volume_ml}
    card = root / f"{METHOD}.md"
    card.write_text(f"# {METHOD}\nSimulated predictions for the report screenshots; no network.\n")
    prov = {
        **provenance(),
        "method": METHOD,
        "case_id": case.case_id,
        "strokect_version": __version__,
    }
    paths = write_segment_report(
        root / "segment", outputs=outputs, primary="lesion", background=ct,
        window=(0.0, 80.0), volumes_ml=volumes, provenance=prov, model_cards=[card],
    )  # fmt: skip
    return {"page": paths["report_html"], "volume_ml": volumes["lesion"]}


def _evaluate_report(root: Path) -> dict:
    """`evaluate` of five phantom cases given as `segment` output folders (provenance.json)."""
    from strokect.pipelines.evaluate import evaluate

    dirs = write_phantom_cohort(root / "cohort", seeds=range(5))
    segment_out = root / "segment_out"
    for file in sorted(dirs["pred"].glob("*_pred.nii.gz")):
        cid = file.name.removesuffix("_pred.nii.gz")
        (segment_out / cid).mkdir(parents=True)
        shutil.copy(file, segment_out / cid / "lesion.nii.gz")
        prov = {"case_id": cid, "method": METHOD, "primary_output": "lesion",
                "weights": [{"file": f"{METHOD}.pt", "path": f"/x/{PATIENT_FOLDER}", "sha256": SHA}],
                "outputs": {"lesion": {"file": "lesion.nii.gz", "kind": "mask"}}}  # fmt: skip
        (segment_out / cid / "provenance.json").write_text(json.dumps(prov))
    out = evaluate(segment_out, dirs["ref"], out_dir=root / "eval", image_dir=dirs["image"])
    summary = json.loads(out.json_path.read_text())
    return {"page": out.html_path, "summary": summary}


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("screens")
    return {"segment": _segment_report(root), "evaluate": _evaluate_report(root)}


def _look(page: Path, shot: Path, workdir: Path) -> tuple:
    """Render ``page``: what the browser made of it, and its screenshot's grey levels."""
    seen = render(page, workdir, width=WINDOW[0], height=WINDOW[1])
    pixels = screenshot(page, shot, width=WINDOW[0], height=WINDOW[1])
    assert pixels.shape == (WINDOW[1], WINDOW[0])
    assert seen.console == [], seen.console  # no error, no message at all
    assert seen.resources == []  # nothing fetched
    assert seen.images and all(i["src"].startswith("data:image/png;base64,") for i in seen.images)
    assert all(i["ok"] and i["width"] > 100 for i in seen.images)  # every image decoded
    assert pixels.std() > 20 and (pixels < 100).mean() > 0.01  # not blank: text and images
    visible = [i for i in seen.images if i["rect"][1] + i["rect"][3] <= WINDOW[1]]
    assert visible  # at least one image on the first screen, drawn at its size (not an icon)
    assert all(i["rect"][2] > 100 and i["rect"][3] > 100 for i in visible)
    assert all(image_ink(pixels, i["rect"]) > 0.03 for i in visible)
    assert shot.stat().st_size < MAX_SHOT_BYTES
    return seen, pixels, visible


def _update_docs(shot: Path, name: str) -> None:
    if os.environ.get("STROKECT_UPDATE_DOCS_IMG") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_IMG / name)


def test_segment_report_as_seen_in_chromium(reports, tmp_path):
    report = reports["segment"]
    shot = tmp_path / "segment_report.png"
    seen, pixels, visible = _look(report["page"], shot, tmp_path)
    slices = [i for i in visible if i["alt"].startswith("slice ")]
    assert slices and all(image_ink(pixels, i["rect"]) > 0.3 for i in slices)  # dark CT panels
    for text in (f"{report['volume_ml']:.2f} mL", METHOD, SHA[:12], "Research software, not for "
                 "clinical use", "probability", "uncertainty"):  # fmt: skip
        assert text in seen.text
    assert PATIENT_FOLDER not in seen.text
    _update_docs(shot, "segment_report.png")


def test_evaluate_report_as_seen_in_chromium(reports, tmp_path):
    report = reports["evaluate"]
    shot = tmp_path / "evaluate_report.png"
    seen, _, _ = _look(report["page"], shot, tmp_path)
    mean = report["summary"]["mean_dice_nonempty_reference"]
    assert mean["n_cases"] == 5 and mean["n_both_empty_excluded"] == 0
    for text in (f"Mean Dice {mean['mean']:.3f}", f"strokect {__version__}", METHOD,
                 f"{METHOD}.pt", SHA[:12], "best Dice", "worst Dice"):  # fmt: skip
        assert text in seen.text
    overlays = [i for i in seen.images if i["alt"].startswith("phantom_")]
    assert len(overlays) == 3  # best, median and worst mosaics
    assert PATIENT_FOLDER not in seen.text
    _update_docs(shot, "evaluate_report.png")
