"""`strokect preprocess` in-process: outputs on the input grid, JSON record, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from strokect.cli.main import main
from strokect.io import read_volume, write_volume
from strokect.preprocess.pipeline import parse_steps, run_preprocess

from .conftest import make_head


@pytest.fixture(scope="module")
def ct_file(tmp_path_factory):
    ct, truth = make_head((12, 64, 64), (5.0, 3.0, 3.0), yaw_deg=4.0)
    folder = tmp_path_factory.mktemp("in")
    path = write_volume(ct.with_array(ct.array.astype(np.int16)), folder / "ct.nii.gz")
    cbf = ct.with_array(np.where(truth["brain"].array > 0, 50.0, 0.0).astype(np.float32))
    cbf_path = write_volume(cbf, folder / "cbf.nii.gz")
    return path, cbf_path


def test_cli_writes_every_step_on_the_input_grid(ct_file, tmp_path, capsys):
    path, cbf_path = ct_file
    steps = "intracranial,csf,brain,perfusion_brain,symmetric,windows,zscore,overlay"
    status = main(
        ["preprocess", str(path), "-o", str(tmp_path), "--steps", steps, "--map", f"cbf={cbf_path}"]
    )
    assert status == 0
    assert "record:" in capsys.readouterr().out
    record = json.loads((tmp_path / "preprocess.json").read_text())
    assert [s["step"] for s in record["steps"]] == steps.split(",")
    by_step = {s["step"]: s for s in record["steps"]}
    assert by_step["intracranial"]["parameters"]["parameters"]["bone_hu"] == 160.0
    assert by_step["brain"]["parameters"]["method"] == "brain-threecnn"
    assert abs(by_step["symmetric"]["parameters"]["angle_deg"] - 4.0) < 1.0
    ref = read_volume(path)
    for step in record["steps"]:
        for name in step["outputs"]:
            assert (tmp_path / name).exists()
            if name.endswith(".nii.gz"):
                vol = read_volume(tmp_path / name)
                assert vol.same_geometry(ref, atol_mm=1e-4)
                np.testing.assert_allclose(vol.affine_ras(), ref.affine_ras(), atol=1e-5)
    assert {"cbf_symmetric.nii.gz", "ct_symmetric.nii.gz"} <= set(by_step["symmetric"]["outputs"])
    window = read_volume(tmp_path / "ct_window_0_100.nii.gz").array
    assert window.min() >= -1.0 and window.max() <= 1.0


def test_cli_unknown_step_is_one_clear_error(ct_file, tmp_path, capsys):
    path, _ = ct_file
    status = main(["preprocess", str(path), "-o", str(tmp_path), "--steps", "brain,skullstrip"])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown step 'skullstrip'" in err[0]
    assert not (tmp_path / "preprocess.json").exists()


def test_perfusion_brain_needs_maps_and_bad_map_syntax(ct_file, tmp_path, capsys):
    path, _ = ct_file
    assert main(["preprocess", str(path), "-o", str(tmp_path), "--steps", "perfusion_brain"]) == 2
    assert "--map" in capsys.readouterr().err
    status = main(["preprocess", str(path), "-o", str(tmp_path), "--map", "cbf"])
    assert status == 2


def test_parse_steps():
    assert parse_steps("csf, intracranial,csf") == ["csf", "intracranial"]
    with pytest.raises(ValueError, match="no step"):
        parse_steps(" , ")


def test_run_preprocess_library_call(ct_file, tmp_path):
    path, _ = ct_file
    record = run_preprocess(path, tmp_path, steps=["csf"])
    assert record["steps"][0]["outputs"] == ["csf.nii.gz"]
    assert not (tmp_path / "intracranial.nii.gz").exists()  # computed, not written
