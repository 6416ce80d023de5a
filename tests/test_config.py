"""Config dataclasses: paper defaults, file and --set overrides, strict type checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import pytest

from strokect.config import config_from_dict, config_to_dict, resolve_config
from strokect.errors import InputError
from strokect.methods import available_methods, get_method_class
from strokect.methods.base import MethodConfig


@dataclass
class PaperConfig(MethodConfig):
    max_epochs: int = 100
    patience: int | None = 10
    lr: float = 1.0
    patch_px: tuple[int, int] = (64, 64)
    channels: tuple[str, ...] = ("ct", "cbf", "cbv")
    optimizer: Literal["adadelta", "adam"] = "adadelta"
    note: str | None = None


def test_defaults_and_overrides():
    assert resolve_config(PaperConfig) == PaperConfig()
    cfg = resolve_config(
        PaperConfig,
        overrides=[
            "lr=1e-3",
            "patch_px=32,32",
            "channels=ct",
            "optimizer=adam",
            "patience=none",
            "note=x=1",
        ],
    )
    assert cfg.lr == 0.001 and cfg.patch_px == (32, 32) and cfg.channels == ("ct",)
    assert cfg.optimizer == "adam" and cfg.patience is None and cfg.note == "x=1"
    assert resolve_config(PaperConfig, overrides=["lr=2"]).lr == 2.0  # int accepted for float


def test_file_then_overrides(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"lr": 0.5, "max_epochs": 3}))
    cfg = resolve_config(PaperConfig, path, ["max_epochs=4"])
    assert (cfg.lr, cfg.max_epochs) == (0.5, 4)
    yaml_path = tmp_path / "c.yml"
    yaml_path.write_text("channels: [ct, tmax]\n")
    assert resolve_config(PaperConfig, yaml_path).channels == ("ct", "tmax")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["foo=1"], "unknown key 'foo'"),
        (["max_epochs=1.5"], "config key 'max_epochs': expected int"),
        (["patch_px=1,2,3"], "config key 'patch_px'"),
        (["optimizer=sgd"], "expected one of 'adadelta', 'adam'"),
        (["lr"], "--set expects key=value"),
        (["lr=true"], "config key 'lr': expected float"),
    ],
)
def test_bad_overrides(overrides, message):
    with pytest.raises(InputError, match=message):
        resolve_config(PaperConfig, overrides=overrides)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        resolve_config(PaperConfig, tmp_path / "absent.json")
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"lr": 1, "typo": 2}))
    with pytest.raises(InputError, match=r"c\.json: unknown key\(s\) typo"):
        resolve_config(PaperConfig, bad)
    other = tmp_path / "c.toml"
    other.write_text("")
    with pytest.raises(InputError, match="must end in"):
        resolve_config(PaperConfig, other)


def test_dict_round_trip():
    cfg = resolve_config(PaperConfig, overrides=["channels=ct,cbf"])
    assert config_from_dict(PaperConfig, config_to_dict(cfg)) == cfg


def test_registry_is_explicit():
    assert "clerigues" in available_methods()
    with pytest.raises(InputError, match="unknown method 'x'; known methods: "):
        get_method_class("x")
