"""Surface distances against a brute-force oracle (cdist on surface points) and against MONAI."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from strokect.metrics import (
    compute_assd,
    compute_hausdorff,
    compute_hd95,
    compute_surface_distances,
)
from tests.metrics.masks_for_tests import ANISO_SPACING, random_blobs


def oracle_surface(mask: np.ndarray) -> np.ndarray:
    """Voxels of ``mask`` with at least one face neighbour outside it (outside the array = 0)."""
    padded = np.pad(mask, 1)
    inner = np.ones_like(mask)
    for axis in range(mask.ndim):
        for step in (-1, 1):
            shifted = np.roll(padded, step, axis=axis)[tuple(slice(1, -1) for _ in mask.shape)]
            inner &= shifted
    return mask & ~inner


def oracle_distances(pred, ref, spacing):
    sp = np.argwhere(oracle_surface(pred)) * np.asarray(spacing)
    sr = np.argwhere(oracle_surface(ref)) * np.asarray(spacing)
    d = cdist(sp, sr)
    return d.min(axis=1), d.min(axis=0)


@pytest.mark.parametrize("seed", range(6))
def test_surface_metrics_match_bruteforce_oracle(seed):
    pred, ref = random_blobs(seed), random_blobs(seed + 100, density=0.25)
    d_pr, d_rp = oracle_distances(pred, ref, ANISO_SPACING)
    sd = compute_surface_distances(pred, ref, spacing_mm=ANISO_SPACING)
    np.testing.assert_allclose(np.sort(sd.pred_to_ref), np.sort(d_pr), rtol=1e-12)
    np.testing.assert_allclose(np.sort(sd.ref_to_pred), np.sort(d_rp), rtol=1e-12)
    hd = max(d_pr.max(), d_rp.max())
    hd95 = max(np.percentile(d_pr, 95), np.percentile(d_rp, 95))
    assd = np.concatenate([d_pr, d_rp]).mean()
    assert compute_hausdorff(pred, ref, spacing_mm=ANISO_SPACING) == pytest.approx(hd, rel=1e-12)
    assert compute_hd95(pred, ref, spacing_mm=ANISO_SPACING) == pytest.approx(hd95, rel=1e-12)
    assert compute_assd(pred, ref, spacing_mm=ANISO_SPACING) == pytest.approx(assd, rel=1e-12)


def test_surface_metrics_are_symmetric_and_zero_for_identical_masks():
    pred, ref = random_blobs(1), random_blobs(2)
    a = compute_surface_distances(pred, ref, spacing_mm=ANISO_SPACING)
    b = compute_surface_distances(ref, pred, spacing_mm=ANISO_SPACING)
    assert (a.hausdorff_mm, a.hd95_mm, a.assd_mm) == pytest.approx(
        (b.hausdorff_mm, b.hd95_mm, b.assd_mm)
    )
    same = compute_surface_distances(ref, ref, spacing_mm=ANISO_SPACING)
    assert (same.hausdorff_mm, same.hd95_mm, same.assd_mm) == (0.0, 0.0, 0.0)


def test_spacing_is_applied_per_axis():
    # two single voxels 2 slices apart in z: distance = 2 * spacing_z
    pred = np.zeros((6, 5, 5), bool)
    ref = np.zeros((6, 5, 5), bool)
    pred[1, 2, 2] = True
    ref[3, 2, 2] = True
    assert compute_hausdorff(pred, ref, spacing_mm=(5.0, 0.5, 0.5)) == pytest.approx(10.0)
    ref2 = np.zeros_like(ref)
    ref2[1, 2, 4] = True
    assert compute_hausdorff(pred, ref2, spacing_mm=(5.0, 0.5, 0.7)) == pytest.approx(1.4)


@pytest.mark.parametrize("seed", range(3))
def test_surface_metrics_equal_monai(seed):
    torch = pytest.importorskip("torch")
    monai_metrics = pytest.importorskip("monai.metrics")
    pred, ref = random_blobs(seed + 7), random_blobs(seed + 70, density=0.2)
    sd = compute_surface_distances(pred, ref, spacing_mm=ANISO_SPACING)
    p, r = torch.as_tensor(pred[None, None]), torch.as_tensor(ref[None, None])
    kw = {"include_background": True, "spacing": ANISO_SPACING}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hd = monai_metrics.compute_hausdorff_distance(p, r, **kw).item()
        hd95 = monai_metrics.compute_hausdorff_distance(p, r, percentile=95, **kw).item()
        assd = monai_metrics.compute_average_surface_distance(p, r, symmetric=True, **kw).item()
    # MONAI computes in float32: equal to float32 precision
    assert sd.hausdorff_mm == pytest.approx(hd, rel=1e-5)
    assert sd.hd95_mm == pytest.approx(hd95, rel=1e-5)
    assert sd.assd_mm == pytest.approx(assd, rel=1e-5)


def test_empty_mask_rules():
    ref = random_blobs(3)
    empty = np.zeros_like(ref)
    both = compute_surface_distances(empty, empty, spacing_mm=ANISO_SPACING)
    assert both.both_empty and not both.one_empty
    assert (both.hausdorff_mm, both.hd95_mm, both.assd_mm) == (0.0, 0.0, 0.0)
    for pred, r in ((empty, ref), (ref, empty)):
        one = compute_surface_distances(pred, r, spacing_mm=ANISO_SPACING)
        assert one.one_empty and not one.both_empty
        assert np.isnan([one.hausdorff_mm, one.hd95_mm, one.assd_mm]).all()


def test_spacing_is_required_and_checked():
    m = random_blobs(0)
    with pytest.raises(TypeError):
        compute_hd95(m, m)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="spacing_mm"):
        compute_hd95(m, m, spacing_mm=(1.0, 1.0))
    with pytest.raises(ValueError, match="spacing_mm"):
        compute_hd95(m, m, spacing_mm=(1.0, 0.0, 1.0))


def test_non_binary_and_mismatched_masks_are_refused():
    m = random_blobs(0)
    with pytest.raises(ValueError, match="binary"):
        compute_hd95(m * 2, m, spacing_mm=ANISO_SPACING)
    with pytest.raises(ValueError, match="shapes differ"):
        compute_hd95(m, m[:-1], spacing_mm=ANISO_SPACING)


def test_documented_empty_mask_differences_from_monai():
    # strokect: both empty -> 0 mm, one empty -> NaN; MONAI 1.x: both empty -> NaN, one empty -> inf
    torch = pytest.importorskip("torch")
    monai_metrics = pytest.importorskip("monai.metrics")
    ref = random_blobs(4)
    empty = np.zeros_like(ref)
    t = lambda m: torch.as_tensor(m[None, None])  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        both = monai_metrics.compute_hausdorff_distance(t(empty), t(empty), include_background=True)
        one = monai_metrics.compute_hausdorff_distance(t(empty), t(ref), include_background=True)
    assert np.isnan(both.item()) and np.isinf(one.item())
    assert compute_hausdorff(empty, empty, spacing_mm=ANISO_SPACING) == 0.0
    assert np.isnan(compute_hausdorff(empty, ref, spacing_mm=ANISO_SPACING))
