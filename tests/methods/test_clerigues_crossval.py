"""``strokect train --method clerigues`` end to end on a tiny toy dataset: the calibration (T/S_min)
chosen on the cross-validation predictions, stored in the run and its checkpoints, used by
``segment --weights RUN``; held-out test and weight release."""

from __future__ import annotations

import json

import pytest
import torch

from strokect.cli.main import main
from strokect.io import write_volume
from strokect.methods.checkpoint import find_model_checkpoints, load_checkpoint
from strokect.methods.clerigues import PAPER_MIN_SIZES_VOXELS, PAPER_THRESHOLDS
from strokect.pipelines.release import evaluate_heldout, export_weights

from .test_clerigues_method import toy_volumes

CASE_IDS = ["case_1", "case_2", "case_3", "case_4"]
SETTINGS = [
    "modalities=ct,cbf,cbv",
    "patches_per_case=16",
    "batch_size=8",
    "patch_size=32",
    "base_filters=4",
    "max_epochs=1",
    "mc_passes=2",
]


ISLES_NAMES = {"ct": "CT", "cbf": "CT_CBF", "cbv": "CT_CBV", "core": "OT"}


def _write_dataset(root, n_cases=4):
    """An ISLES 2018-layout dataset of ``n_cases`` toy cases (one patient each) with core masks."""
    for i in range(n_cases):
        vols, core = toy_volumes(seed=i, shape=(2, 48, 48), shift_x=i - 2)
        for role, vol in {**vols, "core": vols["ct"].with_array(core)}.items():
            name = f"SMIR.Brain.XX.O.{ISLES_NAMES[role]}.{9000 + 10 * i + len(role)}"
            write_volume(vol, root / "TRAINING" / f"case_{i + 1}" / name / f"{name}.nii")
    return root


@pytest.fixture
def trained_run(tmp_path, capsys):
    root = _write_dataset(tmp_path / "data")
    run = tmp_path / "run"
    args = ["train", "--method", "clerigues", "--data", str(root), "-o", str(run)]
    args += ["--folds", "2", "--no-progress"]
    for setting in SETTINGS:
        args += ["--set", setting]
    assert main(args) == 0
    assert "calibration (grid search on 4 cross-validation" in capsys.readouterr().out
    return root, run


def test_train_stores_cross_validated_calibration(trained_run, tmp_path, capsys):
    root, run = trained_run
    doc = json.loads((run / "calibration.json").read_text())
    cal = doc["calibration"]
    assert cal["threshold"] in PAPER_THRESHOLDS
    assert cal["min_size_vox"] in PAPER_MIN_SIZES_VOXELS
    assert sorted(doc["cv_cases"]) == CASE_IDS  # every case validated once
    assert len(doc["grid"]) == len(PAPER_THRESHOLDS) * len(PAPER_MIN_SIZES_VOXELS)
    assert "rank sum of max dice + min hd_mm" in doc["chosen_by"]
    for path in find_model_checkpoints(run):
        stored = torch.load(path, weights_only=True)["calibration"]
        assert stored["values"] == cal and stored["info"]["chosen_by"] == doc["chosen_by"]
    # segment --weights RUN uses the stored T/S_min (not the config's 0.2 / 200)
    out = tmp_path / "seg"
    args = ["segment", str(root / "TRAINING" / "case_1"), "-o", str(out), "--weights", str(run)]
    status = main([*args, "--quiet"])
    assert status == 0, capsys.readouterr().err
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["calibration"] == cal and prov["calibration_source"] == "checkpoint"
    # --set overrides the calibration and says so
    status = main([*args, "--quiet", "--overwrite", "--set", "threshold=0.95"])
    assert status == 0, capsys.readouterr().err
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["calibration"]["threshold"] == 0.95
    assert prov["calibration_source"] == "checkpoint + --set"


def test_heldout_and_export(trained_run, tmp_path):
    root, run = trained_run
    result = evaluate_heldout(run, root)
    assert set(result["test_cases"]) == set(CASE_IDS)
    assert 0 <= result["test_mean_dice"] <= 1 and result["n_models"] == 2
    assert (run / "heldout.json").is_file()
    paths = export_weights(run, tmp_path / "weights", "toy")
    assert [p.name for p in paths] == ["toy_fold0.pt", "toy_fold1.pt", "toy.json"]
    data = torch.load(paths[0], weights_only=True)
    floats = [v for v in data["state_dicts"]["net"].values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    card = json.loads(paths[-1].read_text())
    assert card["heldout"]["test_mean_dice"] == pytest.approx(result["test_mean_dice"])
    assert card["calibration"]["calibration"] == result["calibration"]
    assert card["training"]["folds"][0]["seconds"] > 0


def test_heldout_and_release_cli(trained_run, tmp_path, capsys):
    root, run = trained_run
    assert main(["heldout", str(run), "--data", str(root)]) == 0, capsys.readouterr().err
    assert "4 held-out cases: mean Dice" in capsys.readouterr().out
    dest = tmp_path / "w"
    assert main(["release", str(run), "-o", str(dest), "--name", "toy_ct-cbf-cbv"]) == 0
    assert sorted(p.name for p in dest.iterdir()) == [
        "toy_ct-cbf-cbv.json",
        "toy_ct-cbf-cbv_fold0.pt",
        "toy_ct-cbf-cbv_fold1.pt",
    ]


def test_export_refuses_run_without_calibration(trained_run, tmp_path):
    _root, run = trained_run
    path = run / "fold_0" / "model.pt"
    data = load_checkpoint(path)
    data["calibration"] = None
    torch.save(data, path)
    with pytest.raises(ValueError, match="holds no calibration"):
        export_weights(run, tmp_path / "weights", "toy")


def test_resume_of_finished_run_redoes_the_calibration(trained_run, capsys):
    root, run = trained_run
    (run / "calibration.json").unlink()
    args = ["train", "--method", "clerigues", "--data", str(root), "-o", str(run)]
    args += ["--folds", "2", "--no-progress", "--resume"]
    assert main(args) == 0, capsys.readouterr().err
    assert "calibration (grid search" in capsys.readouterr().out
    assert (run / "calibration.json").is_file()
