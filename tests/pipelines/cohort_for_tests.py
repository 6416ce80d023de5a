"""A small phantom cohort and a toy model for the cohort tests (built once per module)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from strokect.cli.main import main
from strokect.io import read_volume
from strokect.methods.checkpoint import save_checkpoint
from strokect.methods.clerigues import CleriguesConfig, CleriguesMethod


def make_cohort(root: Path, n_cases: int = 4, seed: int = 5) -> Path:
    """``strokect synth --preset tiny`` in the ISLES 2018 layout; returns the dataset root."""
    args = ["synth", "-o", str(root), "--cases", str(n_cases), "--preset", "tiny"]
    assert main([*args, "--seed", str(seed)]) == 0
    return root


def toy_model(path: Path, modalities=("ct", "cbf", "cbv")) -> Path:
    """An untrained clerigues checkpoint (random weights, 2 filters): fast, deterministic."""
    cfg = CleriguesConfig(modalities=modalities, base_filters=2, threshold=0.5, min_size_vox=1)
    torch.manual_seed(0)
    method = CleriguesMethod(cfg)
    return save_checkpoint(path, method, method.build_networks())


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def same_case_outputs(a: Path, b: Path, names=("mask", "probability")) -> None:
    """The image outputs and volume rows of two case folders are equal."""
    for name in names:
        va, vb = read_volume(a / f"{name}.nii.gz"), read_volume(b / f"{name}.nii.gz")
        assert np.array_equal(va.array, vb.array), f"{a.name}: {name} differs"
    assert read_rows(a / "volumes.csv") == read_rows(b / "volumes.csv")
