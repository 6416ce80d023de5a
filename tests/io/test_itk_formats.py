"""NRRD / MetaImage round trips through SimpleITK, and cross-format geometry agreement."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from strokect.errors import InputError
from strokect.io import Volume, read_volume, write_volume


def _volume(four_d: bool = False) -> Volume:
    rng = np.random.default_rng(2)
    c, s = np.cos(0.2), np.sin(0.2)
    shape = (3, 5, 4)
    return Volume(
        array=rng.normal(size=((4, *shape) if four_d else shape)).astype(np.float32),
        spacing_mm=(4.0, 0.45, 0.45),
        origin=(-100.0, 50.0, 7.5),
        direction=np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
        time_s=np.arange(4) * 2.0 if four_d else None,
    )


@pytest.mark.parametrize("suffix", [".nrrd", ".mha"])
def test_3d_round_trip(tmp_path, suffix):
    vol = _volume()
    back = read_volume(write_volume(vol, tmp_path / f"v{suffix}"))
    assert back.same_geometry(vol, atol_mm=1e-6)
    assert np.array_equal(back.array, vol.array)
    assert back.metadata["format"] == suffix.lstrip(".")


@pytest.mark.parametrize("suffix", [".nrrd", ".mha"])
def test_4d_round_trip_uniform_times(tmp_path, suffix):
    vol = _volume(four_d=True)
    back = read_volume(write_volume(vol, tmp_path / f"v{suffix}"))
    assert back.is_4d and back.same_geometry(vol, atol_mm=1e-6)
    assert np.allclose(back.time_s, vol.time_s)
    assert np.array_equal(back.array, vol.array)


def test_bool_mask_written_as_uint8(tmp_path):
    vol = _volume()
    back = read_volume(write_volume(vol.with_array(vol.array > 0), tmp_path / "m.mha"))
    assert back.array.dtype == np.uint8 and back.same_geometry(vol)


def test_nifti_and_mha_agree_on_world_coordinates(tmp_path):
    vol = _volume()
    a = read_volume(write_volume(vol, tmp_path / "v.nii.gz"))
    b = read_volume(write_volume(vol, tmp_path / "v.mha"))
    corners = np.array([[0, 0, 0], [2, 4, 3], [2, 0, 3]])
    assert np.allclose(a.index_to_world(corners), b.index_to_world(corners), atol=1e-4)


def test_vector_image_refused(tmp_path):
    image = sitk.Image([4, 4, 3], sitk.sitkVectorFloat32, 3)
    sitk.WriteImage(image, str(tmp_path / "rgb.mha"))
    with pytest.raises(InputError, match="multi-component"):
        read_volume(tmp_path / "rgb.mha")


def test_not_an_image_refused(tmp_path):
    (tmp_path / "x.nrrd").write_text("not an image\n")
    with pytest.raises(InputError, match="not a readable image"):
        read_volume(tmp_path / "x.nrrd")


def test_unsupported_suffix(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG")
    with pytest.raises(InputError, match="unsupported file type"):
        read_volume(tmp_path / "x.png")
    with pytest.raises(InputError, match="cannot write"):
        write_volume(_volume(), tmp_path / "x.png")
