"""`clerigues` through the generic segment pipeline against outputs of the pre-pipeline code.

``data/clerigues_reference.npz`` was made by ``make_clerigues_reference.py`` at commit
71a117eda742ad0602142c14dad9b364764b5674 (the last commit before the generic pipeline) with the
shipped CT+CBF+CBV ensemble, on phantom ``--seed 11 --kind ischemic`` case_1 (4 x 256 x 256,
1173-voxel core), torch's default 2 threads on the 2-core machine.

* Dropout off, 64 slices per call (the old batching): probabilities identical (max |diff| = 0).
  Same thread count needed: the reduction order of the convolutions depends on it (1 thread
  gives max |diff| 1.2e-7).
* Defaults (3 MC passes per model, one slice per call): the dropout draws differ from the old
  order (a (64, C, H, W) draw per layer for all slices at once, now one slice at a time), so
  probabilities differ (measured max |diff| 0.105) while the mask agrees (Dice 0.996).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from strokect.io import Volume
from strokect.pipelines.segment import segment

REFERENCE = Path(__file__).parent / "data" / "clerigues_reference.npz"
PRE_PIPELINE_COMMIT = "71a117eda742ad0602142c14dad9b364764b5674"


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE) as data:
        ref = {k: data[k] for k in data.files}
    geo = {
        "spacing_mm": tuple(ref["spacing_mm"]),
        "origin": tuple(ref["origin"]),
        "direction": ref["direction"],
    }
    volumes = {
        role: Volume(ref[f"input_{role}"].astype(np.float32), **geo)
        for role in ("ct", "cbf", "cbv")
    }
    return ref, volumes


def _dice(a, b):
    a, b = a > 0, b > 0
    return 2 * (a & b).sum() / (a.sum() + b.sum())


def test_dropout_off_old_batching_is_bit_identical(reference):
    ref, volumes = reference
    result = segment(volumes, options=["mc_passes=0", "predict_batch_size=64"], threads=2)
    prob = result.outputs["probability"].array
    assert np.abs(prob - ref["off_probability"]).max() == 0
    assert np.array_equal(result.outputs["mask"].array, ref["off_mask"])


def test_default_mc_passes_and_one_slice_per_call_agree_in_the_mask(reference):
    ref, volumes = reference
    result = segment(volumes, threads=2)
    prob = result.outputs["probability"].array
    max_diff = float(np.abs(prob - ref["mc_probability"]).max())
    dice = _dice(result.outputs["mask"].array, ref["mc_mask"])
    print(f"vs {PRE_PIPELINE_COMMIT[:7]}: max |diff| {max_diff:.4f}, mask Dice {dice:.4f}")
    assert 0 < max_diff < 0.2  # different dropout draws, same model
    assert dice >= 0.99
