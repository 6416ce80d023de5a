"""Read DICOM folders (3D series and 4D CT perfusion series) into `Volume` objects.

Reader choice (measured, see ``docs/io_dicom.md`` and ``benchmarks/bench_dicom.py``): strokect
reads DICOM with **pydicom** and does the geometry itself. SimpleITK's series reader is about
twice as fast (0.11 s vs 0.22 s for the 17-slice AISD NCCT, under load) but stacks repeated
positions of a perfusion series into one 3D volume and misplaces the tilted GE series (48.8 mm
at its top slice); dcm2niix corrects tilt and variable spacing (it is our test reference) but is
an external binary that writes files and picks its own grid. pydicom gives control over
sorting, 4D grouping, rescaling and which header fields are read (no patient identifiers).
Pixel data pydicom cannot decode (a compressed transfer syntax without its plug-in) is decoded by
SimpleITK/GDCM for that file.

What :func:`read_dicom` does
----------------------------
- finds the DICOM images under the folder (recursively; other files are skipped) and groups them
  by SeriesInstanceUID; several series -> `InputError` listing them (use ``series=``);
- sorts slices by position along the slice normal (ImagePositionPatient . (row x col));
- applies RescaleSlope/Intercept per file (Hounsfield units for CT): ``int16`` when the result is
  integral and fits, ``float32`` otherwise;
- resamples irregular slice spacing (to the median step) and gantry tilt (to an orthogonal grid
  whose z axis is the image-plane normal) with a warning, see :mod:`strokect.io.dicom_geometry`;
- groups repeated positions into frames ``(t, z, y, x)`` with ``time_s``, see
  :mod:`strokect.io.dicom_frames`;
- fills ``metadata`` with non-identifying fields only (never patient name, ID, birth date, age,
  sex, dates, institution or UIDs).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from strokect.errors import InputError, warn
from strokect.io.dicom_frames import group_frames
from strokect.io.dicom_geometry import plan_grid, resample_stack
from strokect.io.dicom_scan import (
    SeriesInfo,
    SliceHeader,
    cluster_positions,
    majority_orientation,
    scan_folder,
    select_series,
    series_infos,
    slice_normal,
)
from strokect.io.volume import Volume

__all__ = ["SeriesInfo", "list_dicom_series", "read_dicom"]

logger = logging.getLogger(__name__)

_INT16 = np.iinfo(np.int16)


def list_dicom_series(folder: str | Path) -> list[SeriesInfo]:
    """The DICOM series under ``folder`` (recursively), ordered by SeriesNumber then UID.

    Raises
    ------
    FileNotFoundError
        When ``folder`` does not exist.
    InputError
        When it is not a folder or holds no DICOM image.
    """
    return [info for info, _ in series_infos(scan_folder(folder))]


def read_dicom(
    folder: str | Path, *, series: str | int | None = None, allow_gaps: bool = False
) -> Volume:
    """Read one DICOM series of ``folder`` into a 3D ``(z, y, x)`` or 4D ``(t, z, y, x)`` `Volume`.

    Parameters
    ----------
    folder
        Folder holding the DICOM files (searched recursively; non-DICOM files are ignored).
    series
        Needed when the folder holds several series: the index shown by `list_dicom_series` /
        ``strokect info`` (an ``int`` or ``'#k'``), a SeriesNumber (``'2'``; a number that no
        series has is taken as an index), or the SeriesInstanceUID.
    allow_gaps
        Interpolate across gaps in the slice positions (a missing slice) instead of refusing the
        series; the interpolated planes are listed in ``metadata["interpolated_slices_mm"]``.

    Returns
    -------
    Volume
        Values with RescaleSlope/Intercept applied (HU for CT); geometry in LPS (origin) and ITK
        direction; ``time_s`` (s, relative to the first frame) for a 4D series.

    Raises
    ------
    InputError
        No DICOM image, several series and no ``series=``, an unknown ``series=``, missing
        geometry, mixed matrix sizes, frames with different position sets, multi-frame files,
        a gap in the slice positions (unless ``allow_gaps``).
    """
    folder = Path(folder)
    info, headers = select_series(folder, series_infos(scan_folder(folder)), series)
    label = f"DICOM series #{info.number if info.number is not None else '?'}"
    name = f"{folder}: {label}"  # errors echo the folder the user gave; warnings and logs do not
    logger.info("reading %s (%s, %d files)", label, info.modality or "?", len(headers))
    headers = _usable_headers(headers, name=name, label=label)
    normal = slice_normal(headers[0].orientation)
    dist = np.array([h.position @ normal for h in headers])
    labels = cluster_positions(dist)
    if labels.max() + 1 == len(headers):
        order = np.argsort(dist, kind="stable")
        sorted_headers = [headers[i] for i in order]
        return _read_3d(sorted_headers, info=info, label=label, name=name, allow_gaps=allow_gaps)
    frames, time_s, frame_info = group_frames(headers, labels, name=name, label=label)
    return _read_4d(
        headers, frames, time_s, frame_info, info=info, name=name, label=label,
        allow_gaps=allow_gaps,
    )  # fmt: skip


def _usable_headers(headers: list[SliceHeader], *, name: str, label: str) -> list[SliceHeader]:
    if any(h.n_frames > 1 for h in headers):
        raise InputError(
            f"{name}: multi-frame (enhanced) DICOM files are not supported; convert the "
            "series with dcm2niix and read the NIfTI"
        )
    if any(h.position is None or h.orientation is None or h.pixel_spacing is None for h in headers):
        raise InputError(
            f"{name}: files lack ImagePositionPatient / ImageOrientationPatient / PixelSpacing; "
            "not a series strokect can place in space"
        )
    headers = _without_duplicates(headers, label=label)
    kept, dropped = majority_orientation(headers)
    if dropped:
        warn(f"{label}: skipped {dropped} files with another slice orientation (e.g. a localizer)")
    if len({(h.rows, h.cols) for h in kept}) > 1:
        sizes = sorted({f"{h.rows}x{h.cols}" for h in kept})
        raise InputError(f"{name}: files have different matrix sizes ({', '.join(sizes)})")
    return kept


def _without_duplicates(headers: list[SliceHeader], *, label: str) -> list[SliceHeader]:
    """Drop files that repeat another file's SOPInstanceUID (the same image twice), with a warning
    naming them, so a copied file is reported as a duplicate and not taken for a time frame."""
    seen: dict[str, Path] = {}
    kept, copies = [], []
    for h in headers:
        if h.sop_uid and h.sop_uid in seen:
            copies.append(f"{h.path.name} (= {seen[h.sop_uid].name})")
            continue
        if h.sop_uid:
            seen[h.sop_uid] = h.path
        kept.append(h)
    if copies:
        warn(f"{label}: {len(copies)} duplicate file(s) ignored: {', '.join(copies[:5])}")
    return kept


def _read_pixels(header: SliceHeader) -> np.ndarray:
    """One slice, rescaled (slope/intercept), as float32 ``(rows, cols)``."""
    import pydicom

    try:
        raw = pydicom.dcmread(header.path).pixel_array
    except Exception as exc:  # a transfer syntax pydicom cannot decode here
        logger.debug("pydicom cannot decode a slice (%s); using SimpleITK", type(exc).__name__)
        return _read_pixels_sitk(header)
    if raw.shape != (header.rows, header.cols):
        raise InputError(f"{header.path}: pixel data of shape {raw.shape} is not one 2D slice")
    return raw.astype(np.float32) * np.float32(header.slope) + np.float32(header.intercept)


def _read_pixels_sitk(header: SliceHeader) -> np.ndarray:
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(header.path))  # GDCM applies slope/intercept itself
    except RuntimeError:
        raise InputError(f"{header.path}: DICOM pixel data cannot be decoded") from None
    return sitk.GetArrayFromImage(image).reshape(header.rows, header.cols).astype(np.float32)


def _stack(headers: list[SliceHeader]) -> np.ndarray:
    out = np.empty((len(headers), headers[0].rows, headers[0].cols), dtype=np.float32)
    for k, header in enumerate(headers):
        out[k] = _read_pixels(header)
    return out


def _compact(array: np.ndarray) -> np.ndarray:
    """int16 when every value is an integer within int16 range, else float32."""
    if array.size and array.min() >= _INT16.min and array.max() <= _INT16.max:
        if np.array_equal(array, np.round(array)):
            return array.astype(np.int16)
    return array


def _metadata(info: SeriesInfo, first: SliceHeader, **extra) -> dict:
    meta = {
        "source": "dicom",
        "format": "dicom",
        "modality": info.modality,
        "series_description": info.description,
        "series_number": info.number,
        "manufacturer": first.manufacturer,
        "manufacturer_model": first.model,
        "n_files": info.n_files,
    }
    if first.slice_thickness is not None:
        meta["slice_thickness_mm"] = first.slice_thickness
    if first.kernel:
        meta["convolution_kernel"] = first.kernel
    meta.update(extra)
    return {k: v for k, v in meta.items() if v not in ("", None)}


def _grid_for(headers: list[SliceHeader], *, label: str, name: str, allow_gaps: bool = False):
    first = headers[0]
    grid = plan_grid(
        np.stack([h.position for h in headers]),
        first.orientation,
        first.pixel_spacing,
        first.rows,
        first.cols,
        default_step_mm=first.slice_thickness or 1.0,
    )
    notes = {}
    if grid.gaps and not allow_gaps:
        lo, hi, usual = grid.gaps[0]
        more = f" (and {len(grid.gaps) - 1} more gap(s))" if len(grid.gaps) > 1 else ""
        raise InputError(
            f"{name}: slice(s) missing between {lo:.2f} and {hi:.2f} mm along the slice normal "
            f"(a step of {hi - lo:.2f} mm where the neighbouring steps are {usual:.2f} mm){more}; "
            "allow interpolating across gaps explicitly (allow_slice_gaps / --allow-slice-gaps)"
        )
    if grid.gaps:
        interpolated = grid.planes_in_gaps()
        warn(
            f"{label}: {len(grid.gaps)} gap(s) in the slice positions interpolated as asked: "
            f"planes at {', '.join(f'{p:g}' for p in interpolated)} mm are interpolated"
        )
        notes["interpolated_slices_mm"] = interpolated
    if grid.tilted:
        warn(
            f"{label}: gantry tilt of {grid.tilt_deg:.1f} degrees; resampled to an orthogonal "
            f"grid ({grid.shape[0]} slices of {grid.spacing_mm[0]:.3f} mm along the image normal)"
        )
        notes["gantry_tilt_corrected_deg"] = round(grid.tilt_deg, 2)
    if grid.irregular:
        lo, hi = grid.step_range_mm
        warn(
            f"{label}: irregular slice spacing ({lo:.3f} to {hi:.3f} mm); the {len(headers)} "
            f"acquired slices resampled linearly to {grid.shape[0]} slices of "
            f"{grid.spacing_mm[0]:.3f} mm from the first to the last (none dropped)"
        )
        notes["irregular_spacing_resampled_mm"] = [round(lo, 3), round(hi, 3)]
    return grid, notes


def _to_grid(stack: np.ndarray, grid, *, modality: str) -> np.ndarray:
    """The stack on ``grid``; voxels outside every input slice get air (CT: at most -1024 HU)."""
    if not grid.needs_resampling:
        return _compact(stack)
    fill = float(stack.min())
    if modality == "CT":
        fill = min(fill, -1024.0)
    return resample_stack(stack, grid, fill_value=fill)


def _read_3d(
    headers: list[SliceHeader], *, info: SeriesInfo, label: str, name: str, allow_gaps: bool
) -> Volume:
    grid, notes = _grid_for(headers, label=label, name=name, allow_gaps=allow_gaps)
    array = _to_grid(_stack(headers), grid, modality=info.modality)
    return Volume(
        array=array,
        spacing_mm=grid.spacing_mm,
        origin=tuple(grid.origin),
        direction=grid.direction,
        metadata=_metadata(info, headers[0], **notes),
    )


def _read_4d(
    headers, frames, time_s, frame_info, *, info: SeriesInfo, name: str, label: str, allow_gaps
) -> Volume:
    first_frame = [headers[i] for i in frames[0]]
    for k, frame in enumerate(frames[1:], start=1):
        for a, b in zip(first_frame, (headers[i] for i in frame)):
            if np.linalg.norm(a.position - b.position) > 0.05:
                raise InputError(
                    f"{name}: frame {k} has slice positions that differ from frame 0 "
                    "(frames with different position sets)"
                )
    grid, notes = _grid_for(first_frame, label=label, name=name, allow_gaps=allow_gaps)
    logger.info("%s: %d frames x %d slices", label, len(frames), len(first_frame))
    arrays = [
        _to_grid(_stack([headers[i] for i in frame]), grid, modality=info.modality)
        for frame in frames
    ]
    array = np.stack(arrays)
    if array.dtype != np.int16:
        array = array.astype(np.float32)
    return Volume(
        array=array,
        spacing_mm=grid.spacing_mm,
        origin=tuple(grid.origin),
        direction=grid.direction,
        time_s=time_s,
        metadata=_metadata(info, headers[0], n_frames=len(frames), **frame_info, **notes),
    )
