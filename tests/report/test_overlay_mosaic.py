"""The best/median/worst overlay mosaic: radiological view, left/right marker and scale bar."""

from __future__ import annotations

import numpy as np
import pytest

from strokect.io.overlay import scale_bar_mm
from strokect.report.figures import overlay_mosaic
from tests.report.segment_case_for_tests import FLIP_X


def _left_lesion(direction: np.ndarray) -> np.ndarray:
    """A (6, 40, 40) mask with a blob on the patient's left (LPS +x) for ``direction``."""
    mask = np.zeros((6, 40, 40), bool)
    x = slice(28, 34) if direction[0, 0] > 0 else slice(6, 12)
    mask[2:4, 18:24, x] = True
    return mask


@pytest.mark.parametrize("direction", [np.eye(3), FLIP_X], ids=["identity", "flipped_x"])
def test_mosaic_marks_the_left_on_the_side_of_the_left_lesion(direction):
    mask = _left_lesion(direction)
    fig = overlay_mosaic(mask, mask, spacing_mm=(5.0, 0.5, 0.5), direction=direction,
                         margin_mm=20.0, title="t")  # fmt: skip
    for ax in fig.axes:
        texts = {t.get_text(): t.get_position()[0] for t in ax.texts}
        assert texts["L"] > 0.5 > texts["R"]  # axes fraction: L on the right
        drawn = np.asarray(ax.images[0].get_array())  # the black background of the outlines
        assert f"{scale_bar_mm(drawn.shape[1] * 0.5):g} mm" in texts  # scale bar, 1/5 of width
        ref = ax.collections[0]  # the reference contour: where the lesion is drawn
        xs = np.concatenate([p.vertices[:, 0] for p in ref.get_paths()])
        assert xs.mean() > drawn.shape[1] / 2  # the lesion is drawn on the right, with "L"
    assert "radiological view" in fig.texts[0].get_text()


def test_mosaic_without_direction_has_a_scale_bar_but_no_side():
    mask = _left_lesion(np.eye(3))
    fig = overlay_mosaic(mask, mask, spacing_mm=(5.0, 0.5, 0.5), margin_mm=20.0)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "L" not in texts and "R" not in texts
    assert any(t.endswith(" mm") for t in texts)


def test_scale_bar_length_is_in_mm():
    from strokect.io.overlay import draw_scale_bar, new_figure

    ax = new_figure(3, 3).add_subplot()
    ax.imshow(np.zeros((100, 120)), aspect=2.0)  # pixel height / width: 0.8 / 0.4 mm
    assert draw_scale_bar(ax, mm_per_pixel=0.4) == 5.0  # 48 mm wide: a bar <= 9.6 mm
    (x0, x1), (y0, y1) = ax.lines[-1].get_data()
    assert (x1 - x0) * 0.4 == pytest.approx(5.0) and y0 == y1 > 50  # in the bottom half
    assert ax.get_xlim() == (-0.5, 119.5)  # the view is not changed
