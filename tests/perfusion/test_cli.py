"""`strokect perfusion` in-process: outputs on disk with the input's geometry; clear errors."""

import json

import numpy as np

from strokect.cli.main import main
from strokect.io import read_volume, write_volume
from strokect.perfusion.synthetic import synth_ctp


def test_cli_writes_maps_masks_json(tmp_path, capsys):
    vol, truth = synth_ctp((2, 40, 40), noise_hu=0.5, seed=0)
    src = tmp_path / "ctp.nii.gz"
    write_volume(vol, src)
    aif = tmp_path / "aif.nii.gz"
    write_volume(vol.frame(0).with_array((truth["labels"] == 6).astype(np.uint8)), aif)
    out = tmp_path / "out"
    rc = main(["perfusion", str(src), "-o", str(out), "--method", "bcsvd", "--aif-mask", str(aif)])
    assert rc == 0, capsys.readouterr().err
    for name in ("cbf", "cbv", "mtt", "tmax", "ttp", "core", "hypoperfusion", "mismatch"):
        m = read_volume(out / f"{name}.nii.gz")
        assert m.spatial_shape == vol.spatial_shape and not m.is_4d
        assert m.same_geometry(read_volume(src), atol_mm=1e-3)
    summary = json.loads((out / "perfusion.json").read_text())
    assert summary["aif"]["source"] == "mask"
    assert summary["parameters"]["method"] == "bcsvd"
    assert summary["readout"]["hypoperfusion_ml"] > 0
    assert summary["parameters"]["temporal_rank"] == "auto"
    assert 1 <= summary["analysis"]["temporal_rank"] <= vol.n_frames
    assert len(summary["aif"]["curve_hu"]) == len(summary["aif"]["time_s"])
    assert "core" in capsys.readouterr().out


def test_cli_refuses_3d(tmp_path, capsys):
    vol, _ = synth_ctp((2, 32, 32), seed=0)
    src = tmp_path / "ct.nii.gz"
    write_volume(vol.frame(0), src)
    rc = main(["perfusion", str(src), "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error:") and "4D" in err and len(err.strip().splitlines()) == 1


def test_cli_refuses_bad_temporal_rank(tmp_path, capsys):
    vol, _ = synth_ctp((2, 32, 32), seed=0)
    src = tmp_path / "ctp.nii.gz"
    write_volume(vol, src)
    out = tmp_path / "o"
    rc = main(["perfusion", str(src), "-o", str(out), "--temporal-rank", "lots"])
    err = capsys.readouterr().err
    assert rc == 2
    assert (
        err.startswith("error:") and "temporal rank" in err and len(err.strip().splitlines()) == 1
    )
    assert not out.exists()


def test_cli_tmax_estimator_option(tmp_path, capsys):
    vol, _ = synth_ctp((2, 32, 32), noise_hu=0.5, seed=0)
    src = tmp_path / "ctp.nii.gz"
    write_volume(vol, src)
    out = tmp_path / "o"
    assert main(["perfusion", str(src), "-o", str(out), "--tmax", "calibrated"]) == 0
    summary = json.loads((out / "perfusion.json").read_text())
    assert summary["parameters"]["tmax_estimator"] == "calibrated"
    rc = main(["perfusion", str(src), "-o", str(tmp_path / "p"), "--tmax", "middle"])
    assert rc == 2 and not (tmp_path / "p").exists()
    assert "Invalid value for '--tmax'" in capsys.readouterr().err  # click's usage error
