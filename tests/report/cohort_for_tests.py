"""A small synthetic cohort on disk: CT with noise, lesion spheres, and deliberately broken cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from strokect.io import Volume, write_volume

SHAPE = (16, 64, 64)
SPACING_MM = (5.0, 0.9, 0.9)
#: case id -> reference lesion radius in mm (0 = no lesion); volumes span < 10, 10-50, > 50 mL
RADII_MM = {
    "case01": 6.0,
    "case02": 11.0,
    "case03": 15.0,
    "case04": 19.0,
    "case05": 25.0,
    "case06": 9.0,
}


def ellipsoid(center_mm, radius_mm) -> np.ndarray:
    grids = np.meshgrid(*(np.arange(n) * s for n, s in zip(SHAPE, SPACING_MM)), indexing="ij")
    return sum(((g - c) / radius_mm) ** 2 for g, c in zip(grids, center_mm)) <= 1


def synthetic_ct(ref: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ct = np.full(SHAPE, 35.0) + rng.normal(0, 4, SHAPE)
    ct[:, :, :3] = ct[:, :, -3:] = 800.0  # "bone" on two sides
    ct[ref] -= 12.0  # hypodense lesion
    return ct.astype(np.float32)


def write_cohort(root: Path, *, broken: bool = True) -> dict[str, Path]:
    """Write pred/, ref/ and image/ folders under ``root``; returns the three folder paths."""
    dirs = {name: root / name for name in ("pred", "ref", "image")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    centre = np.array([40.0, 29.0, 29.0])
    for i, (cid, radius) in enumerate(RADII_MM.items()):
        ref = ellipsoid(centre, radius)
        shift = np.array([0.0, 1.5 * (i % 3), -1.0 * (i % 2)])
        pred = ellipsoid(centre + shift, radius * (0.85 + 0.05 * i))
        if cid == "case06":
            pred[2, 5:8, 50:54] = True  # a false-positive island
        grid = Volume(np.zeros(SHAPE, np.uint8), spacing_mm=SPACING_MM, origin=(10.0, -5.0, 2.0))
        write_volume(
            grid.with_array(ref.astype(np.uint8)), dirs["ref"] / f"{cid.upper()}_seg.nii.gz"
        )
        write_volume(grid.with_array(pred.astype(np.uint8)), dirs["pred"] / f"{cid}_pred.nii.gz")
        write_volume(grid.with_array(synthetic_ct(ref, i)), dirs["image"] / f"{cid}_0000.nii.gz")
    empty = Volume(np.zeros(SHAPE, np.uint8), spacing_mm=SPACING_MM, origin=(10.0, -5.0, 2.0))
    write_volume(empty, dirs["ref"] / "case07_seg.nii.gz")  # both empty
    write_volume(empty, dirs["pred"] / "case07_pred.nii.gz")
    write_volume(
        empty.with_array(ellipsoid(centre, 8.0).astype(np.uint8)), dirs["ref"] / "case08_seg.nii.gz"
    )
    write_volume(empty, dirs["pred"] / "case08_pred.nii.gz")  # missed lesion: one empty
    for cid in ("case07", "case08"):
        write_volume(
            empty.with_array(synthetic_ct(np.zeros(SHAPE, bool), 7)),
            dirs["image"] / f"{cid}.nii.gz",
        )
    if broken:
        other = Volume(np.zeros((16, 60, 64), np.uint8), spacing_mm=SPACING_MM)
        write_volume(other, dirs["pred"] / "case09_pred.nii.gz")  # geometry mismatch
        write_volume(empty, dirs["ref"] / "case09_seg.nii.gz")
        write_volume(
            empty.with_array(np.full(SHAPE, 2, np.uint8)), dirs["pred"] / "case10_pred.nii.gz"
        )
        write_volume(empty, dirs["ref"] / "case10_seg.nii.gz")  # non-binary prediction
        write_volume(empty, dirs["pred"] / "case11_pred.nii.gz")  # no reference
        write_volume(empty, dirs["ref"] / "case12_label.nii.gz")  # no prediction
    return dirs
