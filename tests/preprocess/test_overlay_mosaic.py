"""The preprocess overlay: every slice, readable panels, radiological view for every storage order."""

from __future__ import annotations

import numpy as np

from strokect.io import Volume
from strokect.preprocess.overlay import radiological_view, save_mask_overlay, screen_view
from strokect.preprocess.symmetry import MidsagittalPlane


def _marked(direction):
    """A volume whose voxel nearest the patient's left-anterior corner holds 1."""
    vol = Volume(np.zeros((2, 6, 8)), (5.0, 1.0, 1.0), direction=np.asarray(direction, float))
    idx = np.indices(vol.spatial_shape).reshape(3, -1).T
    world = vol.index_to_world(idx)
    score = world[:, 0] - world[:, 1]  # LPS: +x left, -y anterior
    target = idx[np.argmax(score)]
    vol.array[tuple(target)] = 1.0
    return vol


def test_radiological_view_puts_patient_left_on_screen_right_for_every_storage_order():
    orders = {
        "dicom (LPS)": np.eye(3),
        "nifti (RAS-stored)": np.diag([-1.0, -1.0, 1.0]),
        "rotated 90 degrees": np.array([[0.0, 1, 0], [1, 0, 0], [0, 0, -1]]),
    }
    for name, direction in orders.items():
        vol = _marked(direction)
        order, flips = radiological_view(vol)
        k = int(np.argwhere(vol.array)[0][0])
        shown = screen_view(vol.array[k], order, flips)
        row, col = np.argwhere(shown)[0]
        assert row == 0 and col == shown.shape[1] - 1, name  # anterior top, patient left right


def test_mosaic_shows_every_slice_and_mask(tmp_path):
    rng = np.random.default_rng(0)
    ct = Volume(rng.normal(30, 5, (9, 40, 40)), (5.0, 1.0, 1.0))
    masks = {name: ct.with_array((rng.random(ct.spatial_shape) > 0.7).astype(np.uint8))
             for name in ("intracranial", "brain", "csf")}  # fmt: skip
    plane = MidsagittalPlane(0.0, 0.0, (1.0, 0.0, 0.0), (20.0, 20.0, 0.0))
    path = save_mask_overlay(ct, masks, tmp_path / "o.png", plane=plane, title="test")
    from matplotlib.image import imread

    height, width = imread(path).shape[:2]
    assert width == 6 * 240 and height >= 2 * 240  # 9 slices: 2 rows of 6 panels of 240 px
