"""The shipped ``threecnn`` weights: small, calibrated, and run end to end (real scans: slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from strokect.methods.checkpoint import load_checkpoint
from strokect.methods.registry import WEIGHTS_DIR, shipped_models
from tests.conftest import shared_path

NAME = "threecnn_ncct_followup"


def test_missing_input_error_names_what_the_shipped_model_needs():
    """A plain CT (roles ct/ncct) for a follow-up method: the one line names the role to give."""
    from strokect.errors import InputError
    from strokect.methods.registry import default_weights

    with pytest.raises(InputError) as err:
        default_weights("threecnn", ["ct", "ncct"])
    msg = str(err.value)
    assert f"{NAME} (inputs: ncct_followup)" in msg
    assert "--input ROLE=PATH" in msg and "\n" not in msg


def test_shipped_model_is_small_calibrated_and_carries_its_domain():
    files = shipped_models("threecnn")[NAME]
    assert len(files) >= 1
    assert sum(p.stat().st_size for p in files) < 8e6  # a few MB
    for path in files:
        ckpt = load_checkpoint(path, method="threecnn")
        cal = ckpt["calibration"]["values"]
        # the single-CNN switch won on held-out phantoms for both seeds tried (model card)
        assert ckpt["config"]["variant"] == "single"
        assert ckpt["config"]["hemorrhage_detector"] == "hu"  # release --set, measured choice
        assert cal["cutoff_single"] == 0.85 and cal["cutoff_hemorrhage"] == 0.95
        assert cal["min_size_ml"] == 2.0  # calibrated on the cross-validation predictions
        assert ckpt["domain"]["slice_spacing_mm"] == [5.0, 5.0]  # the network grid
    card = json.loads((WEIGHTS_DIR / f"{NAME}.json").read_text())
    assert card["method"] == "threecnn" and "calibration" in card
    assert card["release_options"] == ["hemorrhage_detector=hu"]
    assert (WEIGHTS_DIR / f"{NAME}.md").is_file()


def test_shipped_weights_segment_a_phantom_followup(tmp_path):
    from strokect.phantom import case_seed, synth_case
    from strokect.pipelines.segment import segment

    # held-out case 6 (seed 7777) of the model card: Dice 0.91 there (110 mL found, 115 mL true)
    case = synth_case(
        case_seed(7777, 6), "realistic", lesion_class="severe", infarct_volumes="paper",
        hemorrhage_share=0.3, scanner_variation=True,
    )  # fmt: skip
    ct, ref = case.followup["ncct_followup"], case.followup["infarct"].array > 0
    res = segment({"ncct_followup": ct}, tmp_path / "out", method="threecnn", report=False)
    pred = res.outputs["infarct"].array > 0
    dice = 2 * (pred & ref).sum() / (pred.sum() + ref.sum())
    assert dice > 0.8, dice
    assert res.provenance["weights"][0]["file"].startswith(NAME)
    assert {"infarct_single", "probability_single"} <= set(res.outputs)
    assert not res.provenance["domain_check"]["out_of_domain"]


@pytest.mark.slow
def test_real_gantry_tilt_series_end_to_end(tmp_path):
    """A normal head (GE, 18.5 degree tilt, irregular spacing): runs on its own geometry; the
    spacing check uses the network grid, so 0.49 mm pixels are not out of domain."""
    from strokect.pipelines.segment import segment

    series = shared_path("dicom", "ge_gantry_tilt")
    res = segment({"ncct_followup": series}, tmp_path / "ge", method="threecnn", report=False)
    grid = res.outputs["infarct"]
    assert grid.spacing_mm[1] == pytest.approx(0.488, abs=1e-3)
    findings = {f["what"]: f for f in res.provenance["domain_check"]["findings"]}
    assert not findings["in-plane spacing"]["out_of_domain"]
    assert np.isfinite(res.volumes_ml["infarct"])
    # phantom-trained weights mark the white matter of this normal head (339 mL, model card),
    # under a third of the brain but mirror-symmetric: flagged, in volumes.csv too
    found = {f["output"]: f for f in res.provenance["output_checks"]["findings"]}
    assert found["infarct"]["flags"] == ["mirror_symmetric"]
    header, *rows = (r.split(",") for r in (tmp_path / "ge" / "volumes.csv").read_text().split())
    infarct = next(dict(zip(header, r)) for r in rows if r[2] == "infarct")
    assert infarct["implausible"] == "true" and infarct["out_of_domain"] == "false"
