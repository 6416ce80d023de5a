"""Tissue mask, normalized convolution and the CBV noise model (strokect.perfusion.denoise)."""

import numpy as np
import pytest

from strokect.perfusion.denoise import (
    cbv_noise_sd,
    smooth_temporal,
    smoothed_tissue_curves,
    tissue_mask,
)

SPACING = (5.0, 1.0, 1.0)


def test_normalized_convolution_does_not_leak_or_darken():
    series = np.full((3, 2, 20, 20), 10.0, np.float32)
    series[:, :, :, 12:] = 500.0  # "vessel" outside the weight
    weight = np.zeros((2, 20, 20), bool)
    weight[:, 2:18, 2:12] = True
    base = np.full((2, 20, 20), 4.0, np.float32)
    out = smoothed_tissue_curves(series, base, weight, 3.0, SPACING)
    assert out.shape == (3, weight.sum())
    np.testing.assert_allclose(out, 6.0, rtol=1e-5)  # no leak, no border darkening


def test_normalized_convolution_reduces_noise_like_a_gaussian():
    rng = np.random.default_rng(0)
    series = rng.normal(0, 1, (2, 1, 80, 80)).astype(np.float32)
    weight = np.ones((1, 80, 80), bool)
    out = smoothed_tissue_curves(series, np.zeros((1, 80, 80), np.float32), weight, 2.0, SPACING)
    out = out.reshape(2, 80, 80)
    np.testing.assert_allclose(
        smoothed_tissue_curves(series, series[0] * 0, weight, 0.0, SPACING), series.reshape(2, -1)
    )
    # white noise after a 2D Gaussian of sigma s pixels: SD 1 / (2 sqrt(pi) s)
    assert out[:, 20:60, 20:60].std() == pytest.approx(1 / (2 * np.sqrt(np.pi) * 2.0), rel=0.15)


def test_tissue_mask_excludes_vessels_and_csf_only():
    brain = np.ones((1, 10, 10), bool)
    base = np.full((1, 10, 10), 30.0)
    base[0, :, :3] = 5.0  # CSF strip
    cbv = np.full((1, 10, 10), 4.0)
    cbv[0, 5, 5] = 60.0  # vessel
    cbv[0, 2, 8] = 11.0  # noisy parenchyma, within 8 + 3 SD
    tissue, vessel = tissue_mask(
        brain, base, cbv, SPACING, csf_max_hu=15.0, vessel_cbv_max=8.0, cbv_noise_sd=1.5
    )
    assert vessel.sum() == 1 and vessel[0, 5, 5]
    assert not tissue[0, :, :2].any() and tissue[0, 2, 8] and tissue[0, 8, 8]


def test_cbv_noise_sd_matches_monte_carlo():
    rng = np.random.default_rng(1)
    n, nb, sd, aif_sum, factor = 30, 5, 8.0, 2000.0, 0.7
    x = rng.normal(0, sd, (20000, n))
    cbv = factor * 100 * (x - x[:, :nb].mean(axis=1, keepdims=True)).sum(axis=1) / aif_sum
    assert cbv_noise_sd(sd, n, nb, aif_sum, factor) == pytest.approx(cbv.std(), rel=0.03)


def test_smooth_temporal_keeps_area():
    rng = np.random.default_rng(2)
    curves = np.zeros((40, 5))
    curves[10:20] = rng.uniform(1, 2, (10, 5))
    out = smooth_temporal(curves, 2.0, 1.0)
    np.testing.assert_allclose(out.sum(axis=0), curves.sum(axis=0), rtol=1e-6)
    assert smooth_temporal(curves, 0.0, 1.0) is curves


def _low_rank_curves(rank=3, t=40, m=6000, seed=0):
    rng = np.random.default_rng(seed)
    time = np.arange(t, dtype=float)
    basis = np.stack([np.exp(-(((time - c) / w) ** 2)) for c, w in zip((8, 14, 22), (3, 6, 9))])
    coef = rng.uniform(0.5, 3.0, size=(m, 3))
    signal = (coef[:, :rank] @ basis[:rank]).T.astype(np.float32)  # (T, M)
    return signal, rng


def test_gavish_donoho_omega_matches_paper():
    from strokect.perfusion.denoise import gavish_donoho_omega

    assert gavish_donoho_omega(1.0) == pytest.approx(2.858, abs=0.01)  # Gavish & Donoho 2014
    assert gavish_donoho_omega(1e-4) == pytest.approx(1.43, abs=0.01)
    with pytest.raises(ValueError):
        gavish_donoho_omega(2.0)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_temporal_subspace_finds_rank_and_removes_noise(rank):
    from strokect.perfusion.denoise import temporal_subspace_denoise

    signal, rng = _low_rank_curves(rank)
    noisy = signal + rng.normal(0.0, 1.0, signal.shape).astype(np.float32)
    out, info = temporal_subspace_denoise(noisy, "auto", chunk=1000)
    assert info.rank == rank
    err_in = np.sqrt(np.mean((noisy - signal) ** 2))
    err_out = np.sqrt(np.mean((out - signal) ** 2))
    # what is left is the noise inside the kept subspace: about sqrt(rank / T) of it
    assert err_out < 1.5 * np.sqrt(rank / signal.shape[0]) * err_in
    assert err_out < 0.5 * err_in
    # singular values are reported relative to the median (the noise floor)
    assert info.singular_values_rel[rank - 1] > info.threshold_rel
    assert info.singular_values_rel[rank] < info.threshold_rel


def test_temporal_subspace_explicit_rank_off_and_errors():
    from strokect.errors import InputError
    from strokect.perfusion.denoise import temporal_subspace_denoise

    signal, _ = _low_rank_curves(3, m=500)
    same, info = temporal_subspace_denoise(signal, 0)
    assert same is signal and info.rank == signal.shape[0]
    exact, info = temporal_subspace_denoise(signal, 3)
    assert info.rank == 3
    np.testing.assert_allclose(exact, signal, atol=1e-3 * float(np.abs(signal).max()))
    with pytest.raises(InputError, match="temporal rank"):
        temporal_subspace_denoise(signal, 99)


def test_voxel_threshold_keeps_a_small_group_s_own_shape():
    """Components below the global threshold are kept per voxel where they stand out of its noise."""
    from strokect.perfusion.denoise import temporal_subspace_denoise

    signal, rng = _low_rank_curves(2, m=6000)
    time = np.arange(signal.shape[0], dtype=float)
    late = (2.0 * np.exp(-(((time - 30) / 4) ** 2))).astype(np.float32)
    signal[:, :5] += late[:, None]  # 5 of 6000 voxels: too little energy for the global rank
    noisy = signal + rng.normal(0.0, 0.3, signal.shape).astype(np.float32)
    plain, info = temporal_subspace_denoise(noisy, "auto")
    per_voxel, info_v = temporal_subspace_denoise(noisy, "auto", voxel_threshold=4.0)
    assert info.rank == info_v.rank == 2

    def rms(a, cols):
        return float(np.sqrt(np.mean((a[:, cols] - signal[:, cols]) ** 2)))

    group, rest = slice(0, 5), slice(5, None)
    assert rms(per_voxel, group) < 0.6 * rms(plain, group)  # the late bump is kept
    assert rms(per_voxel, rest) < 1.2 * rms(plain, rest)  # almost no noise let back elsewhere
    with pytest.raises(ValueError, match="voxel_threshold"):
        temporal_subspace_denoise(noisy, "auto", voxel_threshold=-1.0)
    from strokect.errors import InputError
    from strokect.perfusion import PerfusionConfig

    with pytest.raises(InputError, match="temporal voxel threshold"):
        PerfusionConfig(temporal_voxel_threshold=-1.0)
