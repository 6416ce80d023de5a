"""Conversions between `Volume` and SimpleITK images."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from strokect.io.volume import Volume


def volume_to_sitk(volume: Volume) -> sitk.Image:
    """A SimpleITK image with the volume's geometry.

    A 4D volume becomes a 4D image whose fourth index axis is time (spacing = median frame
    interval); the exact frame times are not representable in ITK and stay in ``time_s``.
    """
    if not volume.is_4d:
        image = sitk.GetImageFromArray(volume.array)
        image.SetSpacing(tuple(float(s) for s in volume.spacing_mm[::-1]))
        image.SetOrigin(volume.origin)
        image.SetDirection(tuple(volume.direction.ravel()))
        return image
    # GetImageFromArray would read a 4D array as a 3D image of vectors: join 3D frames instead
    image = sitk.JoinSeries([sitk.GetImageFromArray(frame) for frame in volume.array])
    dt = float(np.median(np.diff(volume.time_s))) if volume.n_frames > 1 else 1.0
    image.SetSpacing((*(float(s) for s in volume.spacing_mm[::-1]), max(dt, 1e-6)))
    image.SetOrigin((*volume.origin, float(volume.time_s[0])))
    direction = np.eye(4)
    direction[:3, :3] = volume.direction
    image.SetDirection(tuple(direction.ravel()))
    return image


def sitk_to_volume(image: sitk.Image, *, time_s=None, metadata=None) -> Volume:
    """A `Volume` from a 3D or 4D SimpleITK image (the fourth axis, if any, is time)."""
    dim = image.GetDimension()
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(
            f"a multi-component ({image.GetNumberOfComponentsPerPixel()} components, vector/RGB) "
            "image; strokect needs scalar images"
        )
    array = sitk.GetArrayFromImage(image)
    if dim == 3:
        return Volume(
            array=array,
            spacing_mm=tuple(image.GetSpacing()[::-1]),
            origin=tuple(image.GetOrigin()),
            direction=np.asarray(image.GetDirection()).reshape(3, 3),
            metadata=dict(metadata or {}),
        )
    if dim == 4:
        spacing = image.GetSpacing()
        direction = np.asarray(image.GetDirection()).reshape(4, 4)[:3, :3]
        n = array.shape[0]
        if time_s is None:
            time_s = image.GetOrigin()[3] + spacing[3] * np.arange(n)
        return Volume(
            array=array,
            spacing_mm=tuple(spacing[:3][::-1]),
            origin=tuple(image.GetOrigin()[:3]),
            direction=direction,
            time_s=time_s,
            metadata=dict(metadata or {}),
        )
    raise ValueError(f"a {dim}D image where a 3D volume or a 4D series is needed")
