import json

import nibabel as nib
import numpy as np
import pytest
import torch

from strokect.cli.main import main
from strokect.engine.checkpoint import save_checkpoint
from strokect.inference.segment import predict_probability, segment
from strokect.io import Volume, read_volume, write_volume
from strokect.methods.clerigues import CleriguesConfig, CleriguesMethod


def _write_toy_case(folder, shape=(4, 48, 48)):
    """A toy head with a low-CBF/CBV core, as <role>.nii.gz files; returns the CT Volume."""
    rng = np.random.default_rng(0)
    _, y, x = np.indices(shape)
    brain = ((y - 24) / 18) ** 2 + ((x - 25) / 15) ** 2 < 1
    core = ((y - 28) / 5) ** 2 + ((x - 32) / 4) ** 2 < 1
    direction = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, 1.0]])
    geo = {"spacing_mm": (5.0, 0.9, 0.8), "origin": (10.0, -3.0, 7.0), "direction": direction}
    arrays = {
        "ct": np.where(brain, 35.0, -1000.0) + rng.normal(0, 2, shape),
        "cbf": np.where(brain, np.where(core, 8.0, 50.0), 0.0),
        "cbv": np.where(brain, np.where(core, 0.8, 4.0), 0.0),
    }
    vols = {r: Volume(a.astype(np.float32), **geo) for r, a in arrays.items()}
    for role, vol in vols.items():
        write_volume(vol, folder / f"{role}.nii.gz")
    return vols["ct"]


@pytest.fixture
def toy_run(tmp_path):
    """An untrained 2-fold 'ensemble' (random weights): outputs are checked, not accuracy."""
    cfg = CleriguesConfig(
        modalities=("ct", "cbf", "cbv"), base_filters=2, threshold=0.5, min_size_vox=1
    )
    for fold in range(2):
        torch.manual_seed(fold)
        method = CleriguesMethod(cfg)
        save_checkpoint(
            tmp_path / "run" / f"fold_{fold}" / "model.pt", method, method.build_networks()
        )
    case = tmp_path / "case"
    case.mkdir()
    ct = _write_toy_case(case)
    return tmp_path / "run", case, ct


def test_segment_writes_outputs_with_input_geometry(toy_run, tmp_path):
    run, case, _ = toy_run
    result = segment(case, tmp_path / "out", weights=run, tile_size=32)
    ref = nib.load(case / "ct.nii.gz")
    for name in ("mask", "probability", "uncertainty"):
        img = nib.load(result.paths[name])
        assert img.shape == ref.shape
        np.testing.assert_allclose(img.affine, ref.affine)
        assert np.array_equal(img.header.get_qform(), ref.header.get_qform())
    prob = read_volume(result.paths["probability"]).array
    var = read_volume(result.paths["uncertainty"]).array
    assert 0 <= prob.min() and prob.max() <= 1 and var.min() >= 0 and var.max() > 0
    summary = json.loads(result.paths["volumes_json"].read_text())
    assert summary["n_models"] == 2 and summary["mc_passes"] == 3
    mask = read_volume(result.paths["mask"]).array
    assert summary["n_voxels"] == int(mask.sum())
    assert summary["lesion_volume_ml"] == pytest.approx(mask.sum() * 5 * 0.9 * 0.8 / 1000, abs=1e-4)
    assert result.paths["overlay"].read_bytes()[:4] == b"\x89PNG"
    csv_lines = result.paths["volumes_csv"].read_text().splitlines()
    assert csv_lines[0].startswith("lesion_volume_ml,") and len(csv_lines) == 2


@pytest.mark.slow
def test_segment_is_reproducible_and_refuses_nonempty_output(toy_run, tmp_path):
    run, case, _ = toy_run
    a = segment(case, tmp_path / "a", weights=run, tile_size=None)
    with pytest.raises(ValueError, match="not empty"):
        segment(case, tmp_path / "a", weights=run)
    b = segment(case, tmp_path / "a", weights=run, tile_size=None, overwrite=True)
    assert a.n_voxels == b.n_voxels


def test_cli_segment_explicit_files_and_errors(toy_run, tmp_path, capsys):
    run, case, _ = toy_run
    out = tmp_path / "cli"
    args = [
        "segment",
        "--ct",
        str(case / "ct.nii.gz"),
        "--cbf",
        str(case / "cbf.nii.gz"),
        "--cbv",
        str(case / "cbv.nii.gz"),
        "-o",
        str(out),
        "--weights",
        str(run),
    ]
    assert main(args) == 0
    assert "lesion volume" in capsys.readouterr().out
    assert (out / "mask.nii.gz").is_file()
    assert main(args) == 2  # existing non-empty output
    assert "not empty" in capsys.readouterr().err
    code = main(
        [
            "segment",
            "--ct",
            str(case / "ct.nii.gz"),
            "-o",
            str(tmp_path / "x"),
            "--weights",
            str(run),
        ]
    )
    assert code == 2 and "missing input(s): cbf, cbv" in capsys.readouterr().err


def test_mc_passes_give_variance_and_single_pass_none(toy_run):
    run = toy_run[0]
    from strokect.inference.segment import load_ensemble

    models = load_ensemble([run / "fold_0" / "model.pt"], method="clerigues")
    image = np.random.default_rng(0).normal(size=(6, 2, 32, 32)).astype(np.float32)
    _, var1 = predict_probability(image, models, mc_passes=1, tile_size=None)
    _, var3 = predict_probability(image, models, mc_passes=3, tile_size=None)
    assert var1.max() == 0 and var3.max() > 0


@pytest.mark.realdata
def test_segment_real_isles_case_shipped_weights(isles2018_root, tmp_path):
    from strokect.inference.segment import default_weights

    try:
        default_weights("clerigues", ["ct", "cbf", "cbv"])
    except ValueError:
        pytest.skip("no shipped clerigues CT+CBF+CBV weights")
    case = isles2018_root / "TRAINING" / "case_1"
    result = segment(case, tmp_path / "out")
    ct_file = next(case.glob("SMIR.Brain.XX.O.CT.*/*.nii"))
    ref = nib.load(ct_file)
    mask = nib.load(result.paths["mask"])
    assert mask.shape == ref.shape
    np.testing.assert_allclose(mask.affine, ref.affine)
    np.testing.assert_allclose(mask.header.get_zooms(), ref.header.get_zooms())
    assert result.summary["channels"][:3] == ["ct", "cbf", "cbv"]


def test_segment_accepts_ncct_for_the_ct_role(toy_run, tmp_path):
    """A manifest / ISLES 2024 case names the acute NCCT ``ncct``; the model's ``ct`` finds it."""
    run, case, _ = toy_run
    roles = {"ncct": case / "ct.nii.gz", "cbf": case / "cbf.nii.gz", "cbv": case / "cbv.nii.gz"}
    by_ncct = segment(roles, tmp_path / "a", weights=run, tile_size=32)
    by_ct = segment(case, tmp_path / "b", weights=run, tile_size=32)
    assert by_ncct.n_voxels == by_ct.n_voxels
    assert by_ncct.summary["inputs"]["ct"].endswith("ct.nii.gz")
