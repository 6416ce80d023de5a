"""``strokect segment`` / `strokect.pipelines.segment.segment` with the clerigues plug-in: outputs,
geometry, inputs of every kind, options and one-line errors."""

import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import torch

from strokect.cli.main import main
from strokect.io import Volume, read_volume, write_volume
from strokect.methods.checkpoint import save_checkpoint
from strokect.methods.clerigues import CleriguesConfig, CleriguesMethod
from strokect.pipelines.segment import segment


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
    result = segment(case, tmp_path / "out", weights=run, options=["tile_size=32"])
    ref = nib.load(case / "ct.nii.gz")
    for name in ("mask", "probability", "uncertainty"):
        img = nib.load(result.paths[name])
        assert img.shape == ref.shape
        np.testing.assert_allclose(img.affine, ref.affine)
        assert np.array_equal(img.header.get_qform(), ref.header.get_qform())
    prob = read_volume(result.paths["probability"]).array
    var = read_volume(result.paths["uncertainty"]).array
    assert 0 <= prob.min() and prob.max() <= 1 and var.min() >= 0 and var.max() > 0
    mask = read_volume(result.paths["mask"]).array
    assert result.n_voxels == {"mask": int(mask.sum())}
    assert result.volume_ml == pytest.approx(mask.sum() * 5 * 0.9 * 0.8 / 1000, abs=1e-4)
    assert result.paths["overlay"].read_bytes()[:4] == b"\x89PNG"
    rows = result.paths["volumes_csv"].read_text().splitlines()
    assert rows[0] == (
        "case_id,method,output,volume_ml,n_voxels,voxel_volume_ml,out_of_domain,implausible"
    )
    assert rows[1].startswith("case,clerigues,mask,") and len(rows) == 2
    prov = json.loads(result.paths["provenance"].read_text())
    assert prov["method"] == "clerigues" and prov["case_id"] == "case"
    # the output checks ran on this case's CT (mid-sagittal plane found) and fill the column
    checks = prov["output_checks"]
    assert checks["checked"] and checks["symmetry"]["checked"]
    assert rows[1].rsplit(",", 1)[1] == str("mask" in checks["implausible"]).lower()
    assert [w["file"] for w in prov["weights"]] == ["model.pt", "model.pt"]
    assert all(len(w["sha256"]) == 64 for w in prov["weights"])
    assert prov["config"]["tile_size"] == 32 and prov["inference_plan"]["mc_passes"] == 3
    assert prov["inputs"]["ct"]["shape"] == [4, 48, 48] and prov["threads"] == 1
    stages = {"load_weights_s", "read_s", "prepare_s", "predict_s", "finalize_s", "total_s"}
    assert set(prov["timings_s"]) == stages
    assert prov["preprocessing"][0]["step"] == "perfusion_skull_strip"
    assert prov["outputs"]["mask"] == {
        "kind": "mask",
        "file": "mask.nii.gz",
        "reference_role": "core",
    }
    text = json.dumps(prov)
    assert "Doe" not in text and "PatientName" not in text


def test_test_time_mirror_is_a_segment_option_of_every_method(toy_run, tmp_path):
    from strokect.methods.registry import available_methods, get_method_class
    from strokect.pipelines.segment import split_options

    run, case, _ = toy_run
    plain = segment(case, tmp_path / "plain", weights=run)
    mirrored = segment(case, tmp_path / "mirror", weights=run, options=["test_time_mirror=true"])
    prov = json.loads(mirrored.paths["provenance"].read_text())
    assert prov["config"]["test_time_mirror"] is True and prov["inference_plan"]["mirror"] is True
    assert json.loads(plain.paths["provenance"].read_text())["inference_plan"]["mirror"] is False
    p0 = read_volume(plain.paths["probability"]).array
    p1 = read_volume(mirrored.paths["probability"]).array
    assert p0.shape == p1.shape and not np.allclose(p0, p1)  # random weights: not symmetric
    for name in available_methods():
        assert split_options(get_method_class(name), ["test_time_mirror=true"]) == (
            ["test_time_mirror=true"],
            [],
        )


def test_python_api_returns_volumes_without_writing(toy_run, tmp_path):
    import strokect

    run, case, ct = toy_run
    vols = {r: read_volume(case / f"{r}.nii.gz") for r in ("ct", "cbf", "cbv")}
    result = strokect.segment(vols, weights=run)
    assert result.paths == {} and result.out_dir is None
    assert set(result.outputs) == {"mask", "probability", "uncertainty"}
    assert result.outputs["mask"].same_geometry(ct)
    by_files = strokect.segment(case, weights=run)
    assert np.array_equal(
        by_files.outputs["probability"].array, result.outputs["probability"].array
    )


@pytest.mark.slow
def test_segment_is_reproducible_and_refuses_nonempty_output(toy_run, tmp_path):
    run, case, _ = toy_run
    a = segment(case, tmp_path / "a", weights=run)
    with pytest.raises(FileExistsError, match="not empty"):
        segment(case, tmp_path / "a", weights=run)
    b = segment(case, tmp_path / "a", weights=run, overwrite=True)
    assert np.array_equal(a.outputs["probability"].array, b.outputs["probability"].array)


def _inputs(case):
    return [f"--input={r}={case / (r + '.nii.gz')}" for r in ("ct", "cbf", "cbv")]


def test_cli_segment_explicit_files_and_errors(toy_run, tmp_path, capsys):
    run, case, _ = toy_run
    out = tmp_path / "cli"
    args = ["segment", *_inputs(case), "-o", str(out), "--weights", str(run), "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert printed.count(" mL") == 1 and printed.startswith("mask: ")  # the volume, once
    assert (out / "mask.nii.gz").is_file()
    assert main(args) == 2  # existing non-empty output
    assert "not empty" in capsys.readouterr().err
    code = main(["segment", _inputs(case)[0], "-o", str(tmp_path / "x"), "--weights", str(run)])
    assert code == 2 and "missing input(s): cbf, cbv" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "base_filters=8"], "'base_filters' is a training setting fixed by the weights"),
        (["--set", "nope=1"], "'nope' is unknown for method 'clerigues'"),
        (["--set", "mc_passes=-1"], "mc_passes = -1 is out of range: must be 0 <= mc_passes"),
        (["--set", "threshold=1.5"], "threshold = 1.5 is out of range: must be 0.0 <= threshold"),
        (["--set", "min_size_vox=-3"], "min_size_vox = -3 is out of range"),
        (["--set", "overlap=1"], "overlap = 1.0 is out of range: must be 0.0 <= overlap < 1.0"),
        (["--set", "tile_size=24"], "tile_size 24 must be divisible by 2**(n_levels-1)"),
        (["--method", "pseudodwi"], "was made by method 'clerigues', not 'pseudodwi'"),
        (["--weights", "RANDOM"], "not a strokect checkpoint"),
        (["--set", "threshold=abc"], "config key 'threshold': expected float"),
        (["--device", "tpu"], "--device must be auto, cpu or cuda"),
        (["--threads", "0"], "--threads must be >= 1"),
        (["--method", "nope"], "unknown method 'nope'"),
        (["--input", "ct"], "--input expects ROLE=PATH"),
        (["--input", "ct=/does/not/exist.nii.gz"], "--input ct: not found"),
        (["--case", "c9"], "is not a dataset"),
    ],
)
def test_cli_segment_bad_options_one_line_errors(toy_run, tmp_path, capsys, extra, message):
    run, case, _ = toy_run
    out = tmp_path / "o"
    (tmp_path / "random.pt").write_bytes(np.random.default_rng(0).bytes(2000))
    extra = [str(tmp_path / "random.pt") if e == "RANDOM" else e for e in extra]
    weights = [] if "--weights" in extra else ["--weights", str(run)]
    code = main(["segment", str(case), "-o", str(out), *weights, *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists() or not any(out.iterdir())


def test_mc_passes_zero_turns_dropout_off(toy_run):
    run, case, _ = toy_run
    one_model = run / "fold_0" / "model.pt"
    off = segment(case, weights=one_model, options=["mc_passes=0"])
    on = segment(case, weights=one_model, options=["mc_passes=3"])
    assert off.outputs["uncertainty"].array.max() == 0
    assert on.outputs["uncertainty"].array.max() > 0


@pytest.mark.realdata
def test_segment_real_isles_case_shipped_weights(isles2018_root, tmp_path):
    case = isles2018_root / "TRAINING" / "case_1"
    result = segment(case, tmp_path / "out")
    ct_file = next(case.glob("SMIR.Brain.XX.O.CT.*/*.nii"))
    ref = nib.load(ct_file)
    mask = nib.load(result.paths["mask"])
    assert mask.shape == ref.shape
    np.testing.assert_allclose(mask.affine, ref.affine)
    np.testing.assert_allclose(mask.header.get_zooms(), ref.header.get_zooms())
    prov = json.loads(result.paths["provenance"].read_text())
    assert prov["case_id"] == "case_1" and set(prov["inputs"]) == {"ct", "cbf", "cbv"}


def test_segment_accepts_ncct_for_the_ct_role(toy_run, tmp_path):
    """A manifest / ISLES 2024 case names the acute NCCT ``ncct``; the model's ``ct`` finds it."""
    run, case, _ = toy_run
    roles = {"ncct": case / "ct.nii.gz", "cbf": case / "cbf.nii.gz", "cbv": case / "cbv.nii.gz"}
    by_ncct = segment(roles, tmp_path / "a", weights=run)
    by_ct = segment(case, tmp_path / "b", weights=run)
    assert by_ncct.n_voxels == by_ct.n_voxels
    assert by_ncct.provenance["inputs"]["ct"]["file"] == "ct.nii.gz"


def test_case_folder_with_nrrd_mhd_and_nhdr_files(toy_run, tmp_path):
    """Every suffix read_volume reads is a role file (the .mhd/.nhdr data files are not roles)."""
    import SimpleITK as sitk

    from strokect.io.convert import volume_to_sitk

    run, case, _ = toy_run
    folder = tmp_path / "itk"
    folder.mkdir()
    for role, suffix in (("ct", ".mhd"), ("cbf", ".nhdr"), ("cbv", ".nrrd")):
        image = volume_to_sitk(read_volume(case / f"{role}.nii.gz"))
        sitk.WriteImage(image, str(folder / f"{role}{suffix}"))
    assert {p.suffix for p in folder.iterdir()} >= {".raw", ".mhd", ".nhdr"}  # data files too
    result = segment(folder, weights=run)
    assert set(result.provenance["inputs"]) == {"ct", "cbf", "cbv"}
    ref = segment(case, weights=run)
    np.testing.assert_allclose(
        result.outputs["probability"].array, ref.outputs["probability"].array, atol=1e-6
    )


def test_dicom_folder_with_several_series_picked_per_input(toy_run, tmp_path, capsys):
    from tests.io.test_dicom import write_3d_series

    run, case, _ = toy_run
    folder = tmp_path / "dicom"
    uids = {}
    for number, role in enumerate(("ct", "cbf", "cbv"), 1):
        arr = read_volume(case / f"{role}.nii.gz").array
        uids[role] = write_3d_series(
            folder / role,
            [5.0 * k for k in range(arr.shape[0])],
            lambda k, p, a=arr: np.round(a[k] + 1024).astype(np.int16),
            spacing=(0.9, 0.8),
            series_number=number,
        )
    out = tmp_path / "o"
    base = ["segment", "-o", str(out), "--weights", str(run), "--quiet"]
    picked = [f"--input={r}={folder}::{uids[r]}" for r in ("cbf", "cbv")]
    code = main([*base, f"--input=ct={folder}", *picked])
    err = capsys.readouterr().err
    assert code == 2 and "input ct: " in err and "holds 3 DICOM series" in err
    assert "--input ROLE=PATH::SERIES" in err
    args = [f"--input={r}={folder}::{uid}" for r, uid in uids.items()]
    assert main([*base, *args]) == 0, capsys.readouterr().err
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["inputs"]["cbf"]["series"] == uids["cbf"]
    assert prov["inputs"]["ct"]["shape"] == [4, 48, 48]
    written = "".join(p.read_text() for p in out.glob("*.json")) + (out / "volumes.csv").read_text()
    assert "Doe" not in written and "PID-778899" not in written  # the DICOM patient tags


def test_dataset_root_is_a_cohort_and_isles2024_subject_folder(toy_run, tmp_path, capsys):
    """A dataset root of several cases is a cohort (one folder per case), --case picks one; an
    ISLES 2024 rawdata/sub-* folder is one case, its perfusion maps taken from the space-ncct
    derivatives (the NCCT grid)."""
    run, case, _ = toy_run
    root = tmp_path / "isles24"
    for sub in ("sub-a", "sub-b"):
        vols = {r: read_volume(case / f"{r}.nii.gz") for r in ("ct", "cbf", "cbv")}
        raw = root / "rawdata" / sub / "ses-01"
        write_volume(vols["ct"], raw / f"{sub}_ses-01_ncct.nii.gz")
        for r in ("cbf", "cbv"):  # raw maps on another (CTP) grid
            coarse = Volume(vols[r].array[:, ::2, ::2], (5.0, 1.8, 1.6))
            write_volume(coarse, raw / "perfusion-maps" / f"{sub}_ses-01_{r}.nii.gz")
            der = root / "derivatives" / sub / "ses-01" / "perfusion-maps"
            write_volume(vols[r], der / f"{sub}_ses-01_space-ncct_{r}.nii.gz")
    cohort = tmp_path / "cohort"
    code = main(["segment", str(root), "-o", str(cohort), "--weights", str(run), "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert (cohort / "sub-a" / "provenance.json").is_file() and (cohort / "sub-b").is_dir()
    out = tmp_path / "o"
    code = main(["segment", str(root), "--case", "sub-b", "-o", str(out), "--weights", str(run)])
    assert code == 0, capsys.readouterr().err
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["case_id"] == "sub-b" and "space-ncct_cbf" in prov["inputs"]["cbf"]["file"]
    result = segment(root / "rawdata" / "sub-a", weights=run)
    assert result.provenance["case_id"] == "sub-a"


def test_python_dash_m_strokect(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "strokect", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.startswith("strokect, version")


def test_isles2024_subject_folder_written_by_synth(tmp_path, capsys):
    """The subject folder of a `strokect synth --layout isles2024` cohort is one segment input."""
    root = tmp_path / "cohort"
    args = ["synth", "-o", str(root), "--cases", "1", "--preset", "tiny", "--layout", "isles2024"]
    assert main([*args, "--seed", "3"]) == 0
    method = CleriguesMethod(CleriguesConfig(modalities=("ct", "cbf", "cbv"), base_filters=2))
    weights = save_checkpoint(tmp_path / "model.pt", method, method.build_networks())
    subject = next((root / "rawdata").glob("sub-*"))
    out = tmp_path / "o"
    code = main(["segment", str(subject), "-o", str(out), "--weights", str(weights), "--quiet"])
    assert code == 0, capsys.readouterr().err
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["case_id"] == subject.name
    assert prov["inputs"]["ct"]["file"].endswith("_ncct.nii.gz")
    assert "space-ncct_cbv" in prov["inputs"]["cbv"]["file"]


def test_dicom_slice_gap_refused_unless_allowed_and_recorded(toy_run, tmp_path, capsys):
    """A series with its third slice missing is refused (no invented slice); with
    --allow-slice-gaps the interpolated plane is recorded in the provenance."""
    from tests.io.test_dicom import write_3d_series

    run, case, _ = toy_run
    args = []
    kept = [0, 1, 3]  # slice 2 (z = 10 mm) is missing
    for number, role in enumerate(("ct", "cbf", "cbv"), 1):
        arr = read_volume(case / f"{role}.nii.gz").array[kept]
        write_3d_series(
            tmp_path / role,
            [5.0 * k for k in kept],
            lambda k, p, a=arr: np.round(a[k] + 1024).astype(np.int16),
            spacing=(0.9, 0.8),
            series_number=number,
        )
        args.append(f"--input={role}={tmp_path / role}")
    out = tmp_path / "o"
    base = ["segment", *args, "-o", str(out), "--weights", str(run), "--quiet"]
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "input ct: " in err and "missing between 5.00 and 15.00 mm" in err
    assert not out.exists()
    assert main([*base, "--allow-slice-gaps"]) == 0, capsys.readouterr().err
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["inputs"]["ct"]["interpolated_slices_mm"] == [10.0]
    assert prov["inputs"]["ct"]["shape"] == [4, 48, 48]
