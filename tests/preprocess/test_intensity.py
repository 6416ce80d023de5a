"""HU windows, z-score and percentile scaling against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from strokect.preprocess.intensity import (
    FU2BL_WINDOWS_HU,
    hu_windows_to_channels,
    percentile_scale,
    window_hu,
    zscore_in_mask,
)


def test_window_hu_hand_values():
    hu = np.array([-1000.0, 0.0, 25.0, 50.0, 100.0, 400.0])
    np.testing.assert_allclose(window_hu(hu, (0, 100)), [-1, -1, -0.5, 0, 1, 1])
    np.testing.assert_allclose(window_hu(hu, (0, 100), out_range=(0, 1)), [0, 0, 0.25, 0.5, 1, 1])
    assert window_hu(hu, (0, 100)).dtype == np.float32
    with pytest.raises(ValueError, match="window_hu"):
        window_hu(hu, (100, 0))


def test_fu2bl_channels():
    hu = np.array([[[-50.0, 50.0, 100.0, 550.0, 1200.0]]])
    ch = hu_windows_to_channels(hu)
    assert FU2BL_WINDOWS_HU == ((0.0, 100.0), (100.0, 1000.0))
    assert ch.shape == (2, 1, 1, 5)
    np.testing.assert_allclose(ch[0, 0, 0], [-1, 0, 1, 1, 1])
    np.testing.assert_allclose(ch[1, 0, 0], [-1, -1, -1, 0, 1])
    original = hu.copy()
    hu_windows_to_channels(hu)
    np.testing.assert_array_equal(hu, original)  # pure


def test_zscore_in_mask():
    arr = np.array([1.0, 2.0, 3.0, 100.0])
    mask = np.array([True, True, True, False])
    out = zscore_in_mask(arr, mask)
    std = np.std([1.0, 2.0, 3.0])
    np.testing.assert_allclose(out, [-1 / std, 0, 1 / std, 0], rtol=1e-6)
    out_all = zscore_in_mask(arr, mask, outside=None)
    np.testing.assert_allclose(out_all[3], 98 / std, rtol=1e-6)
    np.testing.assert_array_equal(zscore_in_mask(np.full(4, 7.0), mask), np.zeros(4))
    multi = zscore_in_mask(np.stack([arr, 2 * arr]), mask)  # channels first, one mask
    assert multi.shape == (2, 4)
    with pytest.raises(ValueError, match="empty"):
        zscore_in_mask(arr, np.zeros(4, bool))


def test_percentile_scale():
    arr = np.arange(101, dtype=float)
    out = percentile_scale(arr, percentiles=(10, 90))
    assert out[10] == 0 and out[90] == 1 and out[50] == pytest.approx(0.5)
    assert out.min() == 0 and out.max() == 1
    unclipped = percentile_scale(arr, percentiles=(10, 90), clip=False)
    assert unclipped[100] == pytest.approx(1.125)
    masked = percentile_scale(arr, percentiles=(0, 100), mask=arr <= 50)
    assert masked[50] == 1 and masked[25] == pytest.approx(0.5)
    assert not percentile_scale(np.ones(5)).any()  # constant image -> lower end of the range
