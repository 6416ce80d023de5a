"""`strokect demo`: refuses to clobber, and (slow) runs end to end on the phantom."""

from __future__ import annotations

import json

import pytest

from strokect.cli.main import main


def test_demo_refuses_non_empty_folder(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("user data")
    assert main(["demo", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "not empty" in err
    assert (tmp_path / "keep.txt").read_text() == "user data"


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out)]) == 0
    summary = json.loads((out / "demo_summary.json").read_text())
    assert summary["methods"]["clerigues"]["vs_truth"]["dice"] > 0.5
    for name in ("mask", "probability", "uncertainty", "overlay", "provenance"):
        assert any((out / "segmentation" / "clerigues").glob(f"{name}*")), name
    assert "Dice" in capsys.readouterr().out
    assert main(["demo", "-o", str(out), "--overwrite"]) == 0  # a second run replaces the first
