"""`strokect info` in-process: files, bad inputs, DICOM folders and dataset roots."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from strokect.cli.main import main
from strokect.io import Volume, write_volume


@pytest.fixture
def ctp_file(tmp_path):
    vol = Volume(
        np.full((5, 3, 4, 6), -1000, np.int16),
        spacing_mm=(5.0, 0.5, 0.5),
        origin=(1.0, 2.0, 3.0),
        time_s=np.array([0.0, 1.0, 2.0, 4.0, 8.0]),
    )
    vol.array[:, 1] = 40
    return write_volume(vol, tmp_path / "ctp.nii.gz")


def test_info_on_4d_file(ctp_file, capsys):
    assert main(["info", str(ctp_file)]) == 0
    out = capsys.readouterr().out
    assert "shape: 5 x 3 x 4 x 6 (t,z,y,x), dtype int16" in out
    assert "spacing: 5 x 0.5 x 0.5 mm (z, y, x)" in out
    assert "voxel volume: 0.00125 mL" in out
    assert "origin: (1, 2, 3) mm, LPS" in out
    assert "values: -1000 .. 40" in out and "looks like: HU" in out
    assert "frames: 5, time 0 .. 8 s (step 1 .. 4 s)" in out
    assert "time_s: 0, 1, 2, 4, 8" in out


def test_info_json(ctp_file, capsys):
    assert main(["info", "--json", str(ctp_file)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "image" and summary["n_frames"] == 5
    assert summary["spacing_mm"] == [5.0, 0.5, 0.5] and summary["time_s"][-1] == 8.0


def _bad_inputs(tmp_path):
    text = tmp_path / "text.nii.gz"
    text.write_text("not an image")
    good = tmp_path / "good.nii.gz"
    nib.save(nib.Nifti1Image(np.random.default_rng(0).normal(size=(32, 32, 16)), np.eye(4)), good)
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    flat = tmp_path / "flat.nii"
    nib.save(nib.Nifti1Image(np.zeros((4, 4), np.int16), np.eye(4)), flat)
    return {
        "absent.nii.gz": "input not found",
        "text.nii.gz": "not a readable NIfTI image",
        "cut.nii.gz": "truncated or corrupt",
        "flat.nii": "a 2D image",
        "notes.txt": "unsupported file type",
    }


def test_info_bad_files_one_error_line(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("x")
    for name, message in _bad_inputs(tmp_path).items():
        assert main(["info", str(tmp_path / name)]) == 2, name
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, (name, err)
        assert message in err and "Traceback" not in err, (name, err)


def test_info_nonfinite_voxels_are_reported_not_refused(tmp_path, capsys):
    data = np.zeros((4, 4, 3), np.float32)
    data[0, 0, 0] = np.nan
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "nan.nii.gz")
    assert main(["info", str(tmp_path / "nan.nii.gz")]) == 0
    assert "non-finite voxels: 1" in capsys.readouterr().out


@pytest.mark.realdata
def test_info_isles2018_dataset(isles2018_root, capsys):
    assert main(["info", str(isles2018_root)]) == 0
    out = capsys.readouterr().out
    assert "layout: isles2018" in out and "cases: 2 from 1 patient(s)" in out
    assert "- case_1: patient Train_01, slab A" in out
    assert "- case_2: patient Train_01, slab B" in out
    assert out.count("missing: mtt (CT_MTT), tmax (CT_Tmax), ctp (CT_4DPWI)") == 2
    assert out.count("images: ct (CT), cbf (CT_CBF), cbv (CT_CBV)") == 2


@pytest.mark.realdata
def test_info_isles2018_file_warns_once(isles2018_root, capsys):
    path = next((isles2018_root / "TRAINING" / "case_1").glob("*.CT.*/*.nii"))
    assert main(["info", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("warning: ") == 1 and "conflicting NIfTI header" in captured.err
    assert "spacing: 5.0003 x 0.9766 x 0.9766 mm" in captured.out


@pytest.mark.realdata
def test_info_dicom_folder_with_two_series(aisd_ct_dir, capsys):
    study = aisd_ct_dir.parent
    assert main(["info", str(study)]) == 0
    out = capsys.readouterr().out
    assert "2 series:" in out and "[0] number 2, CT" in out and "MR" in out
    assert "--series" in out


@pytest.mark.realdata
def test_info_dicom_series(aisd_ct_dir, capsys):
    assert main(["info", str(aisd_ct_dir.parent), "--series", "0"]) == 0
    out = capsys.readouterr().out
    assert "shape: 17 x 512 x 512 (z,y,x)" in out and "spacing: 8 x 0.4375 x 0.4375 mm" in out
    assert "looks like: HU" in out


def test_info_empty_folder(tmp_path, capsys):
    assert main(["info", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_info_manifest(tmp_path, capsys):
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 2), np.int16), np.eye(4)), tmp_path / "a.nii.gz")
    (tmp_path / "m.csv").write_text(
        "case_id,patient_id,role,path\nc1,P1,ncct,a.nii.gz\nc1,P1,mask,gone.nii.gz\n"
    )
    assert main(["info", str(tmp_path / "m.csv")]) == 0
    out = capsys.readouterr().out
    assert "layout: manifest" in out and "- c1: patient P1" in out and "missing: lesion" in out
    (tmp_path / "m.csv").write_text("case_id,patient_id,role,path\nc1,P1,pet,a.nii.gz\n")
    assert main(["info", str(tmp_path / "m.csv")]) == 2
    assert "m.csv:2: unknown role 'pet'" in capsys.readouterr().err


def test_info_check_reports_disagreeing_grids(tmp_path, capsys):
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 2), np.int16), np.eye(4)), tmp_path / "a.nii.gz")
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 3), np.uint8), np.eye(4)), tmp_path / "m.nii.gz")
    (tmp_path / "manifest.csv").write_text(
        "case_id,patient_id,role,path\nc1,P1,ncct,a.nii.gz\nc1,P1,mask,m.nii.gz\n"
        "c2,P2,ncct,a.nii.gz\n"
    )
    assert main(["info", str(tmp_path)]) == 0  # without --check nothing is read
    capsys.readouterr()
    assert main(["info", "--check", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "geometry: ok" in captured.out  # c2
    assert "geometry: case c1: geometry mismatch: lesion has shape (3, 4, 4)" in captured.out
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("error: 1 case(s) with disagreeing grids; case c1:")


@pytest.mark.realdata
def test_info_check_isles2018(isles2018_root, capsys):
    assert main(["info", "--check", str(isles2018_root)]) == 0
    assert capsys.readouterr().out.count("geometry: ok") == 2


def test_info_flags_unsigned_ct(tmp_path, capsys):
    raw = np.zeros((32, 32, 4), np.uint16)
    raw[4:28, 4:28] = 1060  # brain at HU + 1024, air at 0
    raw[4:28, 4] = 2200
    nib.save(nib.Nifti1Image(raw, np.eye(4)), tmp_path / "raw.nii.gz")
    assert main(["info", str(tmp_path / "raw.nii.gz")]) == 0
    assert "looks like: unsigned CT numbers (no rescale intercept)" in capsys.readouterr().out
