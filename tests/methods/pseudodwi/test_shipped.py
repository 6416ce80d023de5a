"""The shipped ``pseudodwi`` weights: small, calibrated, run end to end; refused without 4D CTP."""

from __future__ import annotations

import json

import pytest

from strokect.methods.checkpoint import load_checkpoint
from strokect.methods.pseudodwi.config import THRESHOLD_GRID
from strokect.methods.registry import WEIGHTS_DIR, shipped_models

NAME = "pseudodwi_ctp"


def test_shipped_model_is_small_calibrated_and_carries_its_domain():
    files = shipped_models("pseudodwi")[NAME]
    assert len(files) >= 2
    assert sum(p.stat().st_size for p in files) < 10e6  # a few MB
    for path in files:
        ckpt = load_checkpoint(path, method="pseudodwi")
        cal = ckpt["calibration"]["values"]
        assert cal["threshold"] in THRESHOLD_GRID
        cfg = ckpt["config"]
        assert (cfg["base_filters"], cfg["pixel_mm"], cfg["schedule"]) == (8, 2.0, "end_to_end")
        assert cfg["segment_from"] == "pseudo_dwi" and cfg["use_extractor"]
        assert set(ckpt["domain"]["roles"]) == {"ctp"}  # maps are z-scored: scale-free
    card = json.loads((WEIGHTS_DIR / f"{NAME}.json").read_text())
    assert card["method"] == "pseudodwi" and "calibration" in card
    assert (WEIGHTS_DIR / f"{NAME}.md").is_file()


def test_shipped_weights_segment_a_heldout_phantom_from_the_series_alone(tmp_path):
    from strokect.phantom import case_seed, synth_case
    from strokect.pipelines.segment import segment

    # held-out case 9 (cohort seed 7777, 37 mL) of the model card, maps computed from the series
    case = synth_case(case_seed(7777, 9), "realistic", kind="ischemic")
    ref = case.acute["core"].array > 0
    res = segment({"ctp": case.acute["ctp"]}, tmp_path / "out", method="pseudodwi")
    pred = res.outputs["mask"].array > 0
    dice = 2 * (pred & ref).sum() / (pred.sum() + ref.sum())
    assert dice > 0.7, dice  # 0.82 measured (0.81 with the vendor-like maps)
    assert res.provenance["weights"][0]["file"].startswith(NAME)
    assert res.provenance["preprocessing"][0]["computed_from"] == "ctp"
    pseudo = res.outputs["pseudo_dwi"].array
    assert pseudo[ref].mean() > pseudo[res.outputs["probability"].array < 0.01].mean()
    assert (tmp_path / "out" / "overlay.png").is_file()


@pytest.mark.realdata
def test_real_isles_case_without_the_4d_series_is_refused(isles2018_root, tmp_path, capsys):
    from strokect.cli.main import main

    case = isles2018_root / "TRAINING" / "case_1"
    out = tmp_path / "out"
    code = main(["segment", str(case), "-o", str(out), "--method", "pseudodwi"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "ctp is the raw 4D CT perfusion series" in err
    assert not out.exists() or not any(out.iterdir())
