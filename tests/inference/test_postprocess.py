"""Threshold + minimum component size (voxels and mL), and the generic grid search with the
paper's T / S_min grid and the Dice + HD rank-sum objective (what `clerigues` calibrates with)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from strokect.inference import Objective, grid_search, postprocess, score_masks

DICE_HD = Objective((("dice", "max"), ("hd_mm", "min")))


def grid_search_postprocess(probs, refs, *, spacing_mm, thresholds, min_sizes_voxels):
    """T / S_min search written with the generic pieces, as the calibration step does."""

    def scorer(prob, ref):
        def score(params):
            mask = postprocess(
                prob, threshold=params["threshold"], min_size_voxels=params["min_size_voxels"]
            )
            return score_masks(mask, ref, spacing_mm=spacing_mm)

        return score

    grid = {"threshold": thresholds, "min_size_voxels": min_sizes_voxels}
    return grid_search(grid, [scorer(p, r) for p, r in zip(probs, refs)], DICE_HD)


def _blobs():
    prob = np.zeros((4, 20, 20), dtype=np.float32)
    prob[0:2, 0:5, 0:5] = 0.9  # 50 voxels
    prob[2, 10:13, 10:13] = 0.6  # 9 voxels
    prob[3, 18, 18] = 0.3  # 1 voxel, below T = 0.5
    return prob


def test_threshold_only_and_tensor_input():
    prob = _blobs()
    mask = postprocess(torch.from_numpy(prob), threshold=0.5)
    assert mask.dtype == bool and mask.sum() == 59
    assert postprocess(prob, threshold=0.3).sum() == 60  # >= threshold is foreground


def test_min_size_in_voxels():
    prob = _blobs()
    assert postprocess(prob, threshold=0.5, min_size_voxels=10).sum() == 50
    assert postprocess(prob, threshold=0.5, min_size_voxels=9).sum() == 59  # kept when == S_min
    assert postprocess(prob, threshold=0.5, min_size_voxels=51).sum() == 0


def test_min_size_in_ml_with_anisotropic_spacing():
    prob = _blobs()
    spacing_mm = (5.0, 0.5, 0.4)  # 0.001 mL per voxel: 50 voxels = 0.05 mL, 9 voxels = 0.009 mL
    kept = postprocess(prob, threshold=0.5, min_size_ml=0.01, spacing_mm=spacing_mm)
    assert kept.sum() == 50
    both = postprocess(prob, threshold=0.5, min_size_ml=0.009, spacing_mm=spacing_mm)
    assert both.sum() == 59
    with pytest.raises(ValueError, match="spacing_mm"):
        postprocess(prob, threshold=0.5, min_size_ml=0.01)
    with pytest.raises(ValueError, match="not both"):
        postprocess(prob, threshold=0.5, min_size_ml=1.0, min_size_voxels=3, spacing_mm=spacing_mm)


def test_connectivity():
    prob = np.zeros((5, 5))
    prob[0, 0] = prob[1, 1] = 1.0  # diagonal neighbours
    assert postprocess(prob, threshold=0.5, min_size_voxels=2, connectivity=1).sum() == 0
    assert postprocess(prob, threshold=0.5, min_size_voxels=2, connectivity=2).sum() == 2


def _case(rng, lesion_p, n_spurious):
    """A 3D case: one 108-voxel lesion (prob lesion_p), n 12-voxel false blobs at prob 0.35 and
    one confident 4-voxel false blob at prob 0.8."""
    ref = np.zeros((6, 32, 32), dtype=bool)
    ref[1:4, 10:16, 10:16] = True
    prob = rng.uniform(0.0, 0.05, ref.shape)
    prob[ref] = lesion_p
    for k in range(n_spurious):
        prob[5, 3 * k : 3 * k + 2, 20:26] = 0.35
    prob[0, 28:30, 28:30] = 0.8
    return prob, ref


def test_grid_search_finds_the_constructed_best_setting():
    # lesions at prob 0.45..0.6 need T <= 0.4; 12-voxel false blobs at 0.35 need T > 0.3 (S_min
    # 10 does not remove them); the 4-voxel blob at 0.8 needs S_min >= 10; S_min = 200 erases
    # the 108-voxel lesions. The only perfect setting is T = 0.4, S_min = 10.
    rng = np.random.default_rng(0)
    cases = [_case(rng, p, n) for p, n in [(0.45, 3), (0.6, 5), (0.5, 2)]]
    result = grid_search_postprocess(
        [p for p, _ in cases],
        [r for _, r in cases],
        spacing_mm=(5.0, 1.0, 1.0),
        thresholds=(0.3, 0.4, 0.5, 0.7),
        min_sizes_voxels=(1, 10, 200),
    )
    assert result.best == {"threshold": 0.4, "min_size_voxels": 10}
    assert result.means["dice"] == pytest.approx(1.0) and result.means["hd_mm"] == pytest.approx(
        0.0
    )
    assert result.n_cases == 3 and result.objective == "rank sum of max dice + min hd_mm"
    rows = {(r["threshold"], r["min_size_voxels"]): r for r in result.table}
    assert rows[(0.3, 10)]["mean_dice"] < 1.0  # 12-voxel false blobs kept
    assert rows[(0.4, 1)]["mean_dice"] < 1.0  # the 4-voxel confident blob kept
    assert rows[(0.5, 10)]["mean_dice"] < 1.0  # the 0.45 lesion lost
    # S_min = 200 erases every lesion: HD undefined, substituted by the image diagonal
    assert rows[(0.4, 200)]["n_hd_substituted"] == 3
    assert rows[(0.4, 200)]["mean_hd_mm"] == pytest.approx(np.linalg.norm([30.0, 32.0, 32.0]))
    assert len(result.table) == 12


def test_grid_search_joint_rank_trades_dice_against_hd():
    # setting A: best Dice, far outlier blob (bad HD); B: slightly lower Dice, no outlier.
    ref = np.zeros((1, 40, 40), dtype=bool)
    ref[0, 5:15, 5:15] = True
    prob = np.zeros(ref.shape)
    prob[0, 5:15, 5:15] = 0.9
    prob[0, 5:15, 5] = 0.45  # one lesion column only kept at T <= 0.4 (Dice gain)
    prob[0, 38, 38] = 0.45  # ... together with a far false voxel (HD loss)
    result = grid_search_postprocess(
        [prob], [ref], spacing_mm=(1.0, 1.0, 1.0), thresholds=(0.4, 0.5), min_sizes_voxels=(1,)
    )
    rows = {r["threshold"]: r for r in result.table}
    assert rows[0.4]["mean_dice"] > rows[0.5]["mean_dice"]
    assert rows[0.4]["mean_hd_mm"] > rows[0.5]["mean_hd_mm"]
    # one rank each: the score ties, so the higher Dice wins
    assert rows[0.4]["score"] == rows[0.5]["score"] == 3.0
    assert result.best["threshold"] == 0.4


def test_grid_search_single_metric_and_errors():
    scores = [lambda p: {"dice": 1 - abs(p["t"] - 0.3)}, lambda p: {"dice": 1 - abs(p["t"] - 0.5)}]
    result = grid_search({"t": [0.1, 0.3, 0.4, 0.5]}, scores, Objective())
    assert result.best == {"t": 0.3}  # 0.3 and 0.4 tie on mean Dice: the first in grid order wins
    with pytest.raises(ValueError, match="objective metric"):
        grid_search({"t": [0.1]}, [lambda p: {"hd_mm": 1.0}], Objective())
    with pytest.raises(ValueError, match="at least one case"):
        grid_search({"t": [0.1]}, [], Objective())
    with pytest.raises(ValueError, match="mode must be max or min"):
        Objective((("dice", "up"),))
