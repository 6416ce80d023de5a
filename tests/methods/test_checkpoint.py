"""Checkpoints: round trip, and refusal of anything that is not ours."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch import nn

from strokect.errors import InputError
from strokect.methods.checkpoint import (
    find_model_checkpoints,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from strokect.methods.examples import ToyAdversarial, ToyEndToEnd


@pytest.fixture
def saved(tmp_path):
    method = ToyEndToEnd()
    method.extra = {"channels": ["ct", "cbf"], "threshold": 0.4}
    nets = method.build_networks()
    path = save_checkpoint(tmp_path / "model.pt", method, nets, metrics={"val_dice": 0.5})
    return path, nets


def test_round_trip_restores_config_extra_and_weights(saved):
    path, nets = saved
    data = load_checkpoint(path, method="toy-end-to-end")
    assert data["format"] == "strokect-checkpoint" and data["format_version"] == 2
    assert data["config"]["alpha"] == 1.0 and "strokect_version" in data
    method, loaded = load_model(path, method=ToyEndToEnd)
    assert method.extra == {"channels": ["ct", "cbf"], "threshold": 0.4}
    for name, net in nets.items():
        for key, value in net.state_dict().items():
            assert torch.equal(loaded[name].state_dict()[key], value)
    assert not any(net.training for net in loaded.values())


def test_refuses_other_method(saved):
    path, _ = saved
    with pytest.raises(InputError, match="made by method 'toy-end-to-end', not 'toy-adversarial'"):
        load_model(path, method=ToyAdversarial)


def test_refuses_plain_state_dict(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save(nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(InputError, match="not a strokect checkpoint"):
        load_checkpoint(path)


def test_refuses_pickled_whole_model(tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(nn.Sequential(nn.Linear(2, 2)), path)
    with pytest.raises(InputError, match="pickled Python objects"):
        load_checkpoint(path)


def test_refuses_plain_pickle_and_non_torch_file(tmp_path):
    pickled = tmp_path / "obj.pkl"
    pickled.write_bytes(pickle.dumps({"format": "strokect-checkpoint"}))
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(InputError, match=r"not a strokect checkpoint|refusing checkpoint"):
        load_checkpoint(pickled)
    with pytest.raises(
        InputError, match=r"not a strokect checkpoint: .*notes.pt \(not a torch file\)"
    ):
        load_checkpoint(text)


def test_refuses_newer_format(tmp_path):
    path = tmp_path / "future.pt"
    torch.save({"format": "strokect-checkpoint", "format_version": 99}, path)
    with pytest.raises(InputError, match="format version 99"):
        load_checkpoint(path)


def test_missing_file_and_run_folder_lookup(tmp_path, saved):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "absent.pt")
    path, _ = saved
    for fold in (1, 0):
        (tmp_path / "run" / f"fold_{fold}").mkdir(parents=True)
        (tmp_path / "run" / f"fold_{fold}" / "model.pt").write_bytes(path.read_bytes())
    found = find_model_checkpoints(tmp_path / "run")
    assert [p.parent.name for p in found] == ["fold_0", "fold_1"]
    assert find_model_checkpoints(path) == [path]
