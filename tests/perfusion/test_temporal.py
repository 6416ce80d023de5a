"""Perfusion window T_s/T_e (paper 004, K=5), temporal MIP and uniform resampling."""

import numpy as np
import pytest

from strokect.errors import InputError
from strokect.perfusion.temporal import (
    accumulated_intensity,
    crop_perfusion_window,
    perfusion_window,
    resample_frames,
    temporal_mip,
)


def test_window_hand_computed_bolus():
    # flat 0..3, rises 3..9, falls 9..15, flat after. np.gradient: q'(3) = (q4 - q2)/2 > 0,
    # q'(t) > 0 for t = 3..8 (q'(9) = (q10 - q8)/2 = 0) -> T_s = 3 (first start with 5 rising).
    q = np.array([0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0], float)
    # falling q' < 0 at t = 10..15 (q'(15) = (0 - 1)/2 < 0, q'(16) = 0): latest t with
    # q'(t-4..t) < 0 is t = 15.
    assert perfusion_window(q, k=5) == (3, 15)


def test_window_exactly_k_points():
    q = np.array([0, 0, 1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 0, 0], float)
    dq = np.gradient(q)
    rising = np.flatnonzero(dq > 0)
    assert rising.tolist() == [1, 2, 3, 4, 5, 6]
    ts, te = perfusion_window(q, k=5)
    assert ts == 1  # dq[1..5] > 0
    falling = np.flatnonzero(dq < 0)
    assert te == falling[-1] and te == 12


def test_window_k1_and_noise_blip():
    q = np.array([5, 5, 6, 5, 5, 6, 8, 12, 15, 16, 14, 11, 9, 8, 7, 7], float)
    ts, te = perfusion_window(q, k=3)
    dq = np.gradient(q)
    # brute force over the paper's definition
    exp_s = min(t for t in range(0, q.size - 3) if all(dq[t + k] > 0 for k in range(3)))
    exp_e = max(t for t in range(3, q.size) if all(dq[t - k] < 0 for k in range(3)))
    assert (ts, te) == (exp_s, exp_e)


@pytest.mark.parametrize(
    "q",
    [
        np.zeros(20),  # flat
        np.arange(20.0),  # only rising
        np.arange(20.0)[::-1].copy(),  # only falling
        np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0], float),  # oscillating
    ],
)
def test_window_no_bolus_is_clear_error(q):
    with pytest.raises(InputError, match="no clear bolus"):
        perfusion_window(q, k=5)


def test_window_too_few_frames():
    with pytest.raises(InputError, match="too few"):
        perfusion_window(np.arange(4.0), k=5)


def test_mip_and_sum():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(7, 2, 3, 4))
    np.testing.assert_array_equal(temporal_mip(a), a.max(axis=0))
    np.testing.assert_allclose(accumulated_intensity(a), [a[t].sum() for t in range(7)])
    with pytest.raises(InputError):
        temporal_mip(a[0])


def test_resample_frames_uniform():
    a = np.arange(11.0)[:, None, None, None] * np.ones((1, 2, 2, 2))
    out = resample_frames(a, 6)
    np.testing.assert_allclose(out[:, 0, 0, 0], [0, 2, 4, 6, 8, 10])
    out = resample_frames(a[:4], 6)  # upsampling 4 -> 6: positions 0, 0.6, ..., 3
    np.testing.assert_allclose(out[:, 1, 1, 1], np.linspace(0, 3, 6))


def test_crop_window_on_series():
    q = np.array([0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0], float)
    series = q[:, None, None, None] * np.ones((1, 2, 3, 3))
    out, (ts, te) = crop_perfusion_window(series)
    assert (ts, te) == (3, 15)
    assert out.shape == (6, 2, 3, 3)
    np.testing.assert_allclose(out[:, 0, 0, 0], np.interp(np.linspace(3, 15, 6), np.arange(20), q))
