"""``strokect train`` in process: folds, resolved config, no clobbering, resume, errors."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from strokect.cli.main import main
from strokect.data.splits import load_splits
from strokect.methods import registry
from strokect.methods.checkpoint import find_model_checkpoints, load_model
from strokect.methods.examples import ToyEndToEnd


@pytest.fixture
def toy_registered(monkeypatch):
    monkeypatch.setitem(registry.METHODS, "toy-end-to-end", "strokect.methods.examples:ToyEndToEnd")


@pytest.fixture
def manifest_root(tmp_path):
    """A CSV-manifest dataset of 6 cases from 4 patients (the toy method makes its own data)."""
    root = tmp_path / "data"
    root.mkdir()
    image = nib.Nifti1Image(np.zeros((4, 4, 2), dtype=np.float32), np.eye(4))
    rows = ["case_id,patient_id,role,path"]
    for i, patient in enumerate(["P1", "P1", "P2", "P3", "P3", "P4"]):
        nib.save(image, root / f"c{i}.nii.gz")
        rows.append(f"c{i},{patient},ncct,c{i}.nii.gz")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


def _args(root, out, *extra):
    return [
        "train",
        "--method",
        "toy-end-to-end",
        "--data",
        str(root),
        "-o",
        str(out),
        "--no-progress",
        *extra,
    ]


def test_train_folds_config_and_checkpoints(toy_registered, manifest_root, tmp_path, capsys):
    out = tmp_path / "run"
    status = main(
        _args(manifest_root, out, "--folds", "2", "--set", "max_epochs=2", "--set", "alpha=0.5")
    )
    assert status == 0, capsys.readouterr().err
    saved = json.loads((out / "config.json").read_text())
    assert saved["method"] == "toy-end-to-end" and saved["folds"] == 2
    assert saved["config"]["max_epochs"] == 2 and saved["config"]["alpha"] == 0.5
    splits = load_splits(out / "splits.json")  # written by strokect.data.splits
    assert len(splits) == 2 and all(fold["val"] for fold in splits)
    models = find_model_checkpoints(out)
    assert [p.parent.name for p in models] == ["fold_0", "fold_1"]
    method, _ = load_model(models[0], method=ToyEndToEnd)
    assert method.config.alpha == 0.5  # the resolved config travels inside the checkpoint
    assert "fold 1: 2 epochs" in capsys.readouterr().out


def test_existing_run_is_never_clobbered_and_resume_continues(
    toy_registered, manifest_root, tmp_path, capsys
):
    out = tmp_path / "run"
    assert (
        main(_args(manifest_root, out, "--folds", "2", "--fold", "0", "--set", "max_epochs=1")) == 0
    )
    before = (out / "fold_0" / "model.pt").read_bytes()
    assert main(_args(manifest_root, out, "--folds", "2")) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "fold_0" / "model.pt").read_bytes() == before
    # resume trains the missing fold with the saved config and keeps the finished one
    assert main(_args(manifest_root, out, "--folds", "2", "--resume")) == 0
    assert (out / "fold_0" / "model.pt").read_bytes() == before
    assert (out / "fold_1" / "model.pt").is_file()
    assert main(_args(manifest_root, out, "--resume", "--set", "alpha=3")) == 2
    assert "differ from the config saved" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "nonsense=1"], "unknown key 'nonsense'"),
        (["--set", "alpha=abc"], "config key 'alpha': expected float"),
        (["--set", "alpha"], "--set expects key=value"),
        (["--fold", "7"], "--fold must be in 0..4"),
    ],
)
def test_bad_options_give_one_line_errors(
    toy_registered, manifest_root, tmp_path, capsys, extra, message
):
    assert main(_args(manifest_root, tmp_path / "run", *extra)) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_unknown_method_and_config_file(manifest_root, tmp_path, capsys, toy_registered):
    assert (
        main(["train", "--method", "nope", "--data", str(manifest_root), "-o", str(tmp_path / "r")])
        == 2
    )
    assert "unknown method 'nope'" in capsys.readouterr().err
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("max_epochs: 1\nlr: 0.01\n")
    out = tmp_path / "run"
    assert main(_args(manifest_root, out, "--folds", "1", "--config", str(cfg))) == 0
    assert json.loads((out / "config.json").read_text())["config"]["lr"] == 0.01
    assert find_model_checkpoints(out) == [out / "fold_0" / "model.pt"]


def test_missing_role_is_one_line_before_any_training(tmp_path, capsys):
    """clerigues needs all five modalities by default: a dataset without MTT/Tmax (like the real
    ISLES 2018 cases in ../shared/data) is refused up front with the case, role and folder."""
    from tests.methods.test_clerigues_crossval import _write_dataset

    root = _write_dataset(tmp_path / "data", n_cases=2)
    out = tmp_path / "run"
    assert main(["train", "--method", "clerigues", "--data", str(root), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "error: 4 missing input(s), nothing trained: case case_1: no role 'mtt' (CT_MTT)" in err
    assert str(root / "TRAINING" / "case_1") in err and "present: ct, cbf, cbv, core" in err
    assert not out.exists()


@pytest.mark.realdata
def test_real_isles2018_without_mtt_tmax_is_one_line(isles2018_root, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(["train", "--method", "clerigues", "--data", str(isles2018_root), "-o", str(out)]) == 2
    )
    err = capsys.readouterr().err
    assert "no role 'mtt' (CT_MTT) (expected but missing)" in err and "Traceback" not in err
    assert not out.exists()


def test_early_stopping_watches_the_stop_cases_not_the_validation_fold(
    toy_registered, tmp_path, monkeypatch
):
    """The fold's `val` cases are kept for the calibration and the CV scores: `val_data` (what
    early stopping watches) only ever sees the fold's `stop` cases."""
    root = tmp_path / "data"
    root.mkdir()
    image = nib.Nifti1Image(np.zeros((4, 4, 2), dtype=np.float32), np.eye(4))
    rows = ["case_id,patient_id,role,path"]
    for i in range(6):
        nib.save(image, root / f"c{i}.nii.gz")
        rows.append(f"c{i},P{i},ncct,c{i}.nii.gz")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    seen: list[set[str]] = []
    original = ToyEndToEnd.val_data

    def spy(self, cases, ctx):
        seen.append({c.case_id for c in cases})
        return original(self, cases, ctx)

    monkeypatch.setattr(ToyEndToEnd, "val_data", spy)
    out = tmp_path / "run"
    assert main(_args(root, out, "--folds", "2", "--set", "max_epochs=1")) == 0
    splits = load_splits(out / "splits.json")
    assert all(len(fold["stop"]) == 1 and len(fold["train"]) == 2 for fold in splits)
    assert seen == [set(fold["stop"]) for fold in splits]


def test_too_few_patients_for_a_stop_set_train_without_watching_val(
    toy_registered, manifest_root, tmp_path, monkeypatch
):
    calls = []
    monkeypatch.setattr(ToyEndToEnd, "val_data", lambda self, cases, ctx: calls.append(cases))
    out = tmp_path / "run"  # 4 patients in 2 folds: 2 training patients, none to spare
    assert main(_args(manifest_root, out, "--folds", "2", "--set", "max_epochs=1")) == 0
    assert all(fold["stop"] == [] for fold in load_splits(out / "splits.json"))
    assert calls == []  # the validation fold is never watched


def test_init_from_starts_every_fold_from_the_source_and_inherits_its_config(
    toy_registered, manifest_root, tmp_path, monkeypatch, capsys
):
    import torch

    from strokect.engine import runner

    source = tmp_path / "source"
    args = ["--folds", "1", "--set", "max_epochs=1", "--set", "width=4", "--set", "alpha=0.5"]
    assert main(_args(manifest_root, source, *args)) == 0
    src_weights = torch.load(source / "fold_0" / "model.pt", weights_only=True)["state_dicts"]
    loaded = []
    original = runner._load_initial_weights

    def spy(nets, state_dicts, name):
        loaded.append((name, state_dicts))
        return original(nets, state_dicts, name)

    monkeypatch.setattr(runner, "_load_initial_weights", spy)
    tuned = tmp_path / "tuned"
    argv = [*_args(manifest_root, tuned, "--folds", "2", "--set", "max_epochs=1")]
    assert main([*argv, "--init-from", str(source)]) == 0, capsys.readouterr().err
    assert [name for name, _ in loaded] == [str(source / "fold_0" / "model.pt")] * 2  # both folds
    for _, state in loaded:
        for net, tensors in src_weights.items():
            assert all(torch.equal(tensors[k], state[net][k]) for k in tensors)
    saved = json.loads((tuned / "config.json").read_text())
    assert saved["init_from"] == [str(source / "fold_0" / "model.pt")]
    assert saved["config"]["width"] == 4 and saved["config"]["alpha"] == 0.5  # inherited
    assert saved["config"]["max_epochs"] == 1


def test_init_from_refuses_incompatible_or_missing_sources(
    toy_registered, manifest_root, tmp_path, capsys
):
    source = tmp_path / "source"
    assert main(_args(manifest_root, source, "--folds", "1", "--set", "max_epochs=1")) == 0
    capsys.readouterr()
    bad = tmp_path / "bad"
    # another width cannot take these weights
    argv = _args(manifest_root, bad, "--folds", "1", "--set", "width=4")
    assert main([*argv, "--init-from", str(source)]) == 2
    err = capsys.readouterr().err
    assert "another architecture" in err and len(err.strip().splitlines()) == 1
    assert (
        main([*_args(manifest_root, tmp_path / "b2"), "--init-from", str(tmp_path / "nope")]) == 2
    )
    assert "neither a checkpoint" in capsys.readouterr().err
    # a checkpoint of another method
    from strokect.methods.registry import shipped_models

    shipped = shipped_models("clerigues")["clerigues_ct-cbf-cbv"][0]
    assert main([*_args(manifest_root, tmp_path / "b3"), "--init-from", str(shipped)]) == 2
    assert "clerigues" in capsys.readouterr().err
