"""Overlap metrics and volumes against explicit counting and MONAI."""

from __future__ import annotations

import numpy as np
import pytest

from strokect.metrics import (
    compute_confusion,
    compute_dice,
    compute_jaccard,
    compute_precision,
    compute_recall,
    compute_volume_errors,
    compute_volume_ml,
)
from tests.metrics.masks_for_tests import ANISO_SPACING, random_blobs


@pytest.mark.parametrize("seed", range(4))
def test_overlap_matches_explicit_counts(seed):
    pred, ref = random_blobs(seed), random_blobs(seed + 50)
    p, r = pred.ravel().tolist(), ref.ravel().tolist()
    tp = sum(1 for a, b in zip(p, r) if a and b)
    fp = sum(1 for a, b in zip(p, r) if a and not b)
    fn = sum(1 for a, b in zip(p, r) if b and not a)
    assert compute_dice(pred, ref) == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert compute_jaccard(pred, ref) == pytest.approx(tp / (tp + fp + fn))
    assert compute_precision(pred, ref) == pytest.approx(tp / (tp + fp))
    assert compute_recall(pred, ref) == pytest.approx(tp / (tp + fn))
    c = compute_confusion(pred.astype(np.uint8), ref.astype(np.float32))
    assert (c.tp, c.fp, c.fn) == (tp, fp, fn)


@pytest.mark.parametrize("seed", range(2))
def test_overlap_equals_monai(seed):
    torch = pytest.importorskip("torch")
    from monai.metrics import compute_dice as monai_dice
    from monai.metrics import compute_iou

    pred, ref = random_blobs(seed), random_blobs(seed + 9)
    p, r = torch.as_tensor(pred[None, None]), torch.as_tensor(ref[None, None])
    assert compute_dice(pred, ref) == pytest.approx(
        monai_dice(p, r, include_background=True).item()
    )
    assert compute_jaccard(pred, ref) == pytest.approx(compute_iou(p, r).item())


def test_overlap_empty_rules():
    ref = random_blobs(0)
    empty = np.zeros_like(ref)
    for f in (compute_dice, compute_jaccard, compute_precision, compute_recall):
        assert f(empty, empty) == 1.0
    assert compute_dice(empty, ref) == 0.0 and compute_dice(ref, empty) == 0.0
    assert np.isnan(compute_precision(empty, ref)) and compute_recall(empty, ref) == 0.0
    assert np.isnan(compute_recall(ref, empty)) and compute_precision(ref, empty) == 0.0


def test_volume_ml_uses_real_spacing():
    mask = np.zeros((4, 10, 10), bool)
    mask[1:3, 2:7, 3:7] = True  # 2 * 5 * 4 = 40 voxels
    assert compute_volume_ml(mask, spacing_mm=(5.0, 0.5, 0.4)) == pytest.approx(40 * 1.0 / 1000)
    with pytest.raises(TypeError):
        compute_volume_ml(mask)  # type: ignore[call-arg]


def test_volume_errors_and_empty_rules():
    ref = np.zeros((4, 10, 10), bool)
    ref[1:3, 2:7, 2:7] = True  # 50 voxels
    pred = np.zeros_like(ref)
    pred[1:3, 2:7, 2:6] = True  # 40 voxels
    v = compute_volume_errors(pred, ref, spacing_mm=(2.0, 5.0, 10.0))  # 0.1 mL per voxel
    assert (v.pred_ml, v.ref_ml) == pytest.approx((4.0, 5.0))
    assert v.difference_ml == pytest.approx(-1.0) and v.abs_error_ml == pytest.approx(1.0)
    assert v.relative_error == pytest.approx(0.2)
    empty = np.zeros_like(ref)
    assert compute_volume_errors(empty, empty, spacing_mm=ANISO_SPACING).relative_error == 0.0
    assert np.isnan(compute_volume_errors(pred, empty, spacing_mm=ANISO_SPACING).relative_error)
    assert compute_volume_errors(empty, ref, spacing_mm=ANISO_SPACING).relative_error == 1.0
