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


def test_staged_output_dir_is_complete_or_absent(tmp_path):
    from strokect.io.atomic import staged_output_dir

    out = tmp_path / "out"
    with staged_output_dir(out) as tmp:
        (tmp / "a.txt").write_text("a")
        assert not out.exists()  # a run killed now leaves no folder that looks complete
    assert (out / "a.txt").read_text() == "a" and not list(tmp_path.glob(".tmp-*"))
    with pytest.raises(RuntimeError), staged_output_dir(tmp_path / "failed") as tmp:
        (tmp / "half.txt").write_text("x")
        raise RuntimeError("crash")
    assert not (tmp_path / "failed").exists() and not list(tmp_path.glob(".tmp-*"))
    with pytest.raises(FileExistsError, match="not empty"), staged_output_dir(out):
        pass
    (out / "keep.txt").write_text("user")
    with staged_output_dir(out, overwrite=True) as tmp:
        (tmp / "a.txt").write_text("new")
        (tmp / "sub").mkdir()
    assert (out / "a.txt").read_text() == "new" and (out / "keep.txt").read_text() == "user"
    assert (out / "sub").is_dir()


def test_read_only_destination_fails_before_any_work(tmp_path, monkeypatch):
    """The staging folder is created before the work: an unwritable destination fails first
    (simulated: the tests run as root, who can write anywhere)."""
    from pathlib import Path

    from strokect.io.atomic import staged_output_dir

    real_mkdir = Path.mkdir

    def denied(self, *args, **kwargs):
        if self.name.startswith(".tmp-"):
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", denied)
    with pytest.raises(PermissionError, match="cannot write into"):
        with staged_output_dir(tmp_path / "out"):
            raise AssertionError("work started")
    existing = tmp_path / "existing"
    real_mkdir(existing)
    (existing / "old.txt").write_text("x")
    monkeypatch.setattr("os.access", lambda *a, **k: False)
    with pytest.raises(PermissionError, match="not writable"):
        with staged_output_dir(existing, overwrite=True):
            raise AssertionError("work started")


def test_failed_segment_leaves_no_output_folder(tmp_path, capsys):
    out = tmp_path / "out"
    bad = tmp_path / "case"
    bad.mkdir()
    (bad / "ct.nii.gz").write_bytes(b"not a nifti")
    assert main(["segment", str(bad), "-o", str(out), "--quiet"]) == 2
    assert not out.exists() and not list(tmp_path.glob(".tmp-*"))
    capsys.readouterr()
