"""Every command that writes a folder refuses a non-empty one unless --overwrite (nothing lost)."""

from __future__ import annotations

import pytest

from strokect.cli.main import main
from strokect.io import write_volume
from strokect.io.atomic import prepare_output_dir
from strokect.phantom import synth_case


def test_prepare_output_dir_rules(tmp_path):
    new = tmp_path / "new" / "deeper"
    assert prepare_output_dir(new) == new and new.is_dir()
    assert prepare_output_dir(new) == new  # empty folder: fine
    (new / "old.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        prepare_output_dir(new)
    assert prepare_output_dir(new, overwrite=True) == new
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(FileExistsError, match="is a file"):
        prepare_output_dir(afile, overwrite=True)


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    case = synth_case(0, "tiny")
    paths = {
        "ct": write_volume(case.acute["ct"], root / "ct.nii.gz"),
        "ctp": write_volume(case.acute["ctp"], root / "ctp.nii.gz"),
    }
    for name in ("pred", "ref"):
        (root / name).mkdir()
        write_volume(case.acute["core"], root / name / "case1.nii.gz")
    paths["pred"], paths["ref"] = root / "pred", root / "ref"
    return paths


@pytest.mark.parametrize("command", ["perfusion", "preprocess", "evaluate"])
def test_commands_refuse_non_empty_output(command, tiny_files, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier_result.txt").write_text("keep me")
    args = {
        "perfusion": ["perfusion", str(tiny_files["ctp"]), "-o", str(out)],
        "preprocess": ["preprocess", str(tiny_files["ct"]), "-o", str(out), "--steps", "brain"],
        "evaluate": [
            "evaluate",
            "--pred",
            str(tiny_files["pred"]),
            "--ref",
            str(tiny_files["ref"]),
            "-o",
            str(out),
        ],
    }[command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "--overwrite" in err
    assert sorted(p.name for p in out.iterdir()) == ["earlier_result.txt"]
    assert main([*args, "--overwrite"]) == 0
    assert (out / "earlier_result.txt").read_text() == "keep me"
    assert len(list(out.iterdir())) > 1
