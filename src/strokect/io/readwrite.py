"""`read_volume` / `write_volume`: one entry point for every supported format.

Formats: NIfTI (``.nii``, ``.nii.gz``), DICOM folders (3D series and 4D perfusion series, see
:mod:`strokect.io.dicom`), NRRD (``.nrrd``, ``.nhdr``) and MetaImage (``.mha``, ``.mhd``) through
SimpleITK.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from strokect.errors import InputError
from strokect.io.volume import Volume

NIFTI_SUFFIXES = (".nii", ".nii.gz")
ITK_SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd")
#: Every image file name ending `read_volume` reads (``.nii.gz`` before ``.nii``).
IMAGE_SUFFIXES = (".nii.gz", ".nii", *ITK_SUFFIXES)


def image_suffix(path: str | Path) -> str | None:
    """The image suffix of ``path`` (one of `IMAGE_SUFFIXES`, lower case), or None."""
    name = Path(path).name.lower()
    return next((s for s in IMAGE_SUFFIXES if name.endswith(s)), None)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def read_volume(
    path: str | Path,
    *,
    series: str | None = None,
    allow_nonfinite: bool = False,
    allow_slice_gaps: bool = False,
) -> Volume:
    """Read an image file or a DICOM folder into a `Volume`.

    Parameters
    ----------
    path
        A NIfTI / NRRD / MetaImage file, or a folder of DICOM files.
    series
        For a DICOM folder holding several series: the SeriesInstanceUID, its number
        (``SeriesNumber``) or the index shown by ``strokect info``.
    allow_nonfinite
        Accept NaN / inf voxels (they are refused by default, with their count).
    allow_slice_gaps
        DICOM: interpolate across a missing slice instead of refusing the series (see
        `strokect.io.dicom.read_dicom`).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    InputError
        For unreadable, truncated or non-image content and NaN/inf voxels.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input not found: {path}")
    if path.is_dir():
        from strokect.io.dicom import read_dicom

        volume = read_dicom(path, series=series, allow_gaps=allow_slice_gaps)
    else:
        suffix = _suffix(path)
        if suffix in NIFTI_SUFFIXES:
            from strokect.io.nifti import read_nifti

            volume = read_nifti(path)
        elif suffix in ITK_SUFFIXES:
            volume = _read_itk(path)
        elif suffix == ".dcm":
            raise InputError(f"{path}: give the folder holding the DICOM series, not one file")
        else:
            raise InputError(
                f"{path}: unsupported file type '{suffix or path.name}' "
                "(expected .nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd or a DICOM folder)"
            )
    if not allow_nonfinite:
        check_finite(volume, name=str(path))
    return volume


def _read_itk(path: Path) -> Volume:
    import SimpleITK as sitk

    from strokect.io.convert import sitk_to_volume

    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unknown error"
        raise InputError(f"{path}: not a readable image ({first[:200]})") from None
    try:
        return sitk_to_volume(
            image, metadata={"format": _suffix(path).lstrip("."), "source": path.name}
        )
    except ValueError as exc:  # a 2D or a vector/RGB image
        raise InputError(f"{path}: {exc}") from None


def check_finite(volume: Volume, *, name: str = "image") -> None:
    """Raise `InputError` when the volume holds NaN or infinite voxels."""
    if np.issubdtype(volume.array.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(volume.array)))
        if bad:
            raise InputError(
                f"{name}: {bad} voxels are NaN or infinite; fix or mask them before use"
            )


def write_volume(volume: Volume, path: str | Path) -> Path:
    """Write ``volume`` atomically; the format follows the file name (NIfTI, NRRD, MHA/MHD).

    A volume derived from a NIfTI input with `Volume.with_array` is written with the input's exact
    header geometry (affine, qform/sform codes, pixdim).
    """
    path = Path(path)
    suffix = _suffix(path)
    if suffix in NIFTI_SUFFIXES:
        from strokect.io.nifti import write_nifti

        return write_nifti(volume, path)
    if suffix in (".nrrd", ".mha"):
        import SimpleITK as sitk

        from strokect.io.atomic import atomic_output
        from strokect.io.convert import volume_to_sitk

        if volume.array.dtype == bool:
            volume = volume.with_array(volume.array.astype(np.uint8))
        image = volume_to_sitk(volume)
        with atomic_output(path) as tmp:
            sitk.WriteImage(image, str(tmp), useCompression=True)
        return path
    raise InputError(f"{path}: cannot write '{suffix}' files (use .nii.gz, .nii, .nrrd or .mha)")
