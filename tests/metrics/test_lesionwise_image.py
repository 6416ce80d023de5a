"""Lesion-wise detection and image similarity against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import measure
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from strokect.metrics import (
    compute_lesion_detection,
    compute_psnr,
    compute_ssim,
    lesion_region,
    ssim_map,
)
from tests.metrics.masks_for_tests import random_blobs


def test_lesion_detection_hand_made_example():
    ref = np.zeros((5, 20, 20), bool)
    pred = np.zeros_like(ref)
    ref[1:3, 2:5, 2:5] = True  # lesion A: hit by pred
    ref[1:3, 10:13, 10:13] = True  # lesion B: missed
    ref[4, 17:19, 1:3] = True  # lesion C: hit by a large pred component that also hits A? no: own
    pred[2, 3:8, 3:6] = True  # overlaps A
    pred[4, 18, 2] = True  # overlaps C
    pred[0, 15:18, 15:18] = True  # false positive
    det = compute_lesion_detection(pred, ref)
    assert (det.n_ref, det.n_pred, det.tp, det.fp, det.fn) == (3, 3, 2, 1, 1)
    assert det.f1 == pytest.approx(2 / (2 + 0.5 * 2))
    assert det.count_difference == 0


@pytest.mark.parametrize("seed", range(4))
def test_lesion_detection_matches_set_oracle(seed):
    pred, ref = random_blobs(seed, density=0.1), random_blobs(seed + 30, density=0.1)
    lp = measure.label(pred, connectivity=3)
    lr = measure.label(ref, connectivity=3)
    pred_sets = [set(map(tuple, np.argwhere(lp == i))) for i in range(1, lp.max() + 1)]
    ref_sets = [set(map(tuple, np.argwhere(lr == i))) for i in range(1, lr.max() + 1)]
    all_pred = set().union(*pred_sets) if pred_sets else set()
    all_ref = set().union(*ref_sets) if ref_sets else set()
    tp = sum(1 for s in ref_sets if s & all_pred)
    fp = sum(1 for s in pred_sets if not s & all_ref)
    det = compute_lesion_detection(pred, ref)
    assert (det.n_pred, det.n_ref, det.tp, det.fp, det.fn) == (
        len(pred_sets),
        len(ref_sets),
        tp,
        fp,
        len(ref_sets) - tp,
    )


def test_lesion_detection_empty_rules_and_connectivity():
    empty = np.zeros((3, 6, 6), bool)
    assert compute_lesion_detection(empty, empty).f1 == 1.0
    one = empty.copy()
    one[1, 2, 2] = True
    assert compute_lesion_detection(one, empty).f1 == 0.0
    assert compute_lesion_detection(empty, one).f1 == 0.0
    diag = empty.copy()
    diag[1, 1, 1] = diag[1, 2, 2] = True  # touching by an edge only
    assert compute_lesion_detection(diag, diag).n_ref == 1
    assert compute_lesion_detection(diag, diag, connectivity=1).n_ref == 2


def _images(seed=0, shape=(4, 32, 28)):
    rng = np.random.default_rng(seed)
    ref = rng.normal(100, 20, shape)
    img = ref + rng.normal(0, 8, shape)
    return img, ref


def test_ssim_matches_skimage_slicewise():
    img, ref = _images()
    dr = float(ref.max() - ref.min())
    maps, means = [], []
    for z in range(img.shape[0]):
        mean, full = structural_similarity(
            ref[z], img[z], data_range=dr, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, full=True,
        )  # fmt: skip
        maps.append(full)
        means.append(mean)
    ours = ssim_map(img, ref)
    inner = (slice(None), slice(5, -5), slice(5, -5))
    np.testing.assert_allclose(ours[inner], np.stack(maps)[inner], atol=1e-4)  # MONAI: float32
    assert np.isnan(ours[:, :5]).all() and np.isnan(ours[:, :, -5:]).all()
    assert compute_ssim(img, ref) == pytest.approx(np.mean(means), abs=1e-4)
    assert compute_ssim(ref, ref) == pytest.approx(1.0, abs=1e-6)


def test_local_ssim_and_psnr_use_the_lesion_region():
    img, ref = _images(1)
    mask = np.zeros(ref.shape, bool)
    mask[1:3, 14:17, 12:15] = True
    region = lesion_region(mask, spacing_mm=(5.0, 1.0, 2.0), margin_mm=4.0)
    # margin 4 mm -> 1 slice in z (ceil(4/5)), 4 voxels in y, 2 voxels in x
    zs, ys, xs = (np.flatnonzero(region.any(axis=a)) for a in ((1, 2), (0, 2), (0, 1)))
    assert (zs.min(), zs.max(), ys.min(), ys.max(), xs.min(), xs.max()) == (0, 3, 10, 20, 10, 16)
    full = ssim_map(img, ref)
    assert compute_ssim(img, ref, region=region) == pytest.approx(np.nanmean(full[region]))
    dr = float(ref.max() - ref.min())
    assert compute_psnr(img, ref) == pytest.approx(peak_signal_noise_ratio(ref, img, data_range=dr))
    local = peak_signal_noise_ratio(ref[region], img[region], data_range=dr)
    assert compute_psnr(img, ref, region=region) == pytest.approx(local)
    assert compute_psnr(ref, ref) == float("inf")
    assert lesion_region(np.zeros_like(mask), spacing_mm=(1, 1, 1)) is None
