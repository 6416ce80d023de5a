"""Phantom versions: version 1 is frozen (the shipped weights' recipe), version 2 adds the face,
orbits, paranasal sinuses and petrous bone (`strokect.phantom.skullbase`)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from scipy import ndimage as ndi

from strokect.cli.main import main
from strokect.phantom import synth_case
from strokect.phantom.anatomy import (
    AIR,
    EYE,
    FAT,
    PHANTOM_VERSION,
    build_anatomy,
    sample_subject,
)
from strokect.phantom.skullbase import MIN_WALL_MM

#: sha256 over every acute and follow-up array of ``synth_case(seed, "tiny")`` made by the phantom
#: code before version 2 existed (commit feeca1a); version 1 must keep producing exactly these
V1_TINY = {
    0: "f48c8dcd7d7f5ca940b9af3809d2623ec04d8541732f80530bb1d61ef1c77479",
    5: "1985db0064fc7326980403b21007c8b1be32520d59a8467ce934c065a89e2c46",
}


def _digest(case) -> str:
    h = hashlib.sha256()
    for part in (case.acute, case.followup):
        for key in sorted(part):
            h.update(key.encode())
            h.update(np.ascontiguousarray(part[key].array).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("seed", sorted(V1_TINY))
def test_version_1_images_are_unchanged(seed):
    case = synth_case(seed, "tiny", version=1)
    assert _digest(case) == V1_TINY[seed]
    assert case.metadata["phantom_version"] == 1


def test_version_2_is_the_default_and_differs():
    assert PHANTOM_VERSION == 2
    case = synth_case(0, "tiny")
    assert case.metadata["phantom_version"] == 2
    assert _digest(case) != V1_TINY[0]


def test_unknown_version_is_refused():
    with pytest.raises(ValueError, match="phantom version"):
        synth_case(0, "tiny", version=3)


@pytest.fixture(scope="module")
def heads():
    params = sample_subject(np.random.default_rng(11))
    return {
        v: build_anatomy(np.random.default_rng(4), params, spacing_mm=(2.0, 2.0, 2.0), version=v)
        for v in (1, 2)
    }


def _enclosed_air(tissue: np.ndarray) -> np.ndarray:
    """Air not connected to the grid border (sinuses, air cells, middle ears)."""
    labels, _ = ndi.label(tissue == AIR)
    faces = [labels[0], labels[-1], labels[:, 0], labels[:, -1], labels[:, :, 0], labels[:, :, -1]]
    border = np.unique(np.concatenate([f.ravel() for f in faces]))
    return (labels > 0) & ~np.isin(labels, border)


def test_version_2_has_face_sinuses_orbits_and_petrous_bone(heads):
    v1, v2 = heads[1], heads[2]
    ml = float(np.prod(v2.grid.spacing_mm)) / 1000.0
    air1, air2 = _enclosed_air(v1.tissue), _enclosed_air(v2.tissue)
    assert air1.sum() * ml < 0.5  # version 1: no air inside the head
    assert air2.sum() * ml > 20.0  # sinuses, ethmoid and mastoid cells
    assert (v1.tissue == EYE).sum() == 0
    _, n_eyes = ndi.label(v2.tissue == EYE)
    assert n_eyes == 2 and 8.0 < (v2.tissue == EYE).sum() * ml < 18.0  # two globes of ~6-7 mL
    assert (v2.tissue == FAT).sum() * ml > (v1.tissue == FAT).sum() * ml + 10.0  # orbital fat
    # petrous ridges: the cavity only loses voxels, a few mL low in the skull
    assert not (v2.cavity & ~v1.cavity).any()
    lost = v1.cavity & ~v2.cavity
    assert 5.0 < lost.sum() * ml < 60.0
    z = v2.grid.axes_mm()[0]
    assert z[np.flatnonzero(lost.any(axis=(1, 2)))].max() < -25.0
    # every air or orbital-fat voxel keeps a bone wall to the cavity (half a voxel of tolerance)
    outside = ndi.distance_transform_edt(~v2.cavity, sampling=v2.grid.spacing_mm)
    new_fat = (v2.tissue == FAT) & (v1.tissue != FAT)
    assert outside[air2 | new_fat].min() >= MIN_WALL_MM - 1.0


def test_synth_cli_writes_the_version(tmp_path):
    for version in ("1", "2"):
        out = tmp_path / f"v{version}"
        args = ["synth", "-o", str(out), "--cases", "1", "--preset", "tiny"]
        assert main([*args, "--phantom-version", version]) == 0
        marker = json.loads((out / "phantom_cohort.json").read_text())
        meta = json.loads(next((out / "metadata").glob("*.json")).read_text())
        assert marker["phantom_version"] == meta["phantom_version"] == int(version)
    bad = tmp_path / "bad"
    assert main(["synth", "-o", str(bad), "--preset", "tiny", "--phantom-version", "3"]) == 2
    assert not bad.exists()
