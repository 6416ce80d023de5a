"""A method is a plug-in of both halves: the two example methods (`strokect.methods.examples`),
registered only here, train with ``strokect train`` and segment with ``strokect segment`` through
the same CLI as ``clerigues``, with no change to any shared file. Both read one NCCT."""

from __future__ import annotations

import json

import numpy as np
import pytest

from strokect.cli.main import main
from strokect.io import read_volume
from strokect.methods import registry
from tests.methods.test_clerigues_crossval import _write_dataset


@pytest.fixture
def examples_registered(monkeypatch):
    monkeypatch.setitem(
        registry.METHODS, "toy-adversarial", "strokect.methods.examples:ToyAdversarial"
    )
    monkeypatch.setitem(registry.METHODS, "toy-end-to-end", "strokect.methods.examples:ToyEndToEnd")


@pytest.mark.parametrize(
    ("name", "outputs", "calibrated"),
    [
        ("toy-end-to-end", {"mask", "probability", "uncertainty", "synthesized"}, True),
        ("toy-adversarial", {"lesion", "difference", "baseline"}, False),
    ],
)
def test_example_trains_and_segments_through_the_cli(
    examples_registered, tmp_path, capsys, name, outputs, calibrated
):
    root = _write_dataset(tmp_path / "data", n_cases=4)
    run = tmp_path / "run"
    args = ["train", "--method", name, "--data", str(root), "-o", str(run), "--folds", "2"]
    assert main([*args, "--no-progress", "--set", "max_epochs=1"]) == 0, capsys.readouterr().err
    assert (run / "calibration.json").is_file() == calibrated
    ct = next((root / "TRAINING" / "case_1").glob("SMIR.Brain.XX.O.CT.*/*.nii"))
    out = tmp_path / "seg"
    args = ["segment", "--method", name, "--weights", str(run), "--input", f"ncct={ct}"]
    assert main([*args, "-o", str(out), "--quiet"]) == 0, capsys.readouterr().err
    prov = json.loads((out / "provenance.json").read_text())
    assert set(prov["outputs"]) == outputs and prov["method"] == name
    assert len(prov["weights"]) == 2 and set(prov["inputs"]) == {"ncct"}
    source = "checkpoint" if calibrated else "method defaults (config)"
    assert prov["calibration_source"] == source
    ref = read_volume(ct)
    for output in outputs:
        vol = read_volume(out / f"{output}.nii.gz")
        assert vol.same_geometry(ref) and np.isfinite(vol.array).all()
    csv_rows = (out / "volumes.csv").read_text().splitlines()
    masks = [o for o, d in prov["outputs"].items() if d["kind"] == "mask"]
    assert len(csv_rows) == 1 + len(masks)
    assert (out / "overlay.png").read_bytes()[:4] == b"\x89PNG"


def test_example_output_scored_by_evaluate(examples_registered, tmp_path, capsys):
    """``evaluate`` scores a plug-in's primary output against the dataset role it names."""
    root = _write_dataset(tmp_path / "data", n_cases=2)
    run = tmp_path / "run"
    args = ["train", "--method", "toy-end-to-end", "--data", str(root), "-o", str(run)]
    assert main([*args, "--folds", "1", "--no-progress", "--set", "max_epochs=1"]) == 0
    preds = tmp_path / "preds"
    for case in ("case_1", "case_2"):
        seg = ["segment", str(root / "TRAINING" / case), "--method", "toy-end-to-end"]
        assert main([*seg, "--weights", str(run), "-o", str(preds / case), "--quiet"]) == 0
    capsys.readouterr()
    assert (
        main(["evaluate", "--pred", str(preds), "--ref", str(root), "-o", str(tmp_path / "e")]) == 0
    )
    assert "2 of 2 cases evaluated" in capsys.readouterr().out
