"""NIfTI-1/2 reading and writing (``.nii``, ``.nii.gz``), 3D and 4D, geometry-exact.

Header resolution
-----------------
NIfTI stores geometry three ways (``pixdim``, the qform quaternion, the sform matrix). nibabel's
``affine`` trusts the sform whenever ``sform_code > 0``. Some public data sets (ISLES 2018) carry
``sform_code = 2`` with an identity sform while ``pixdim`` holds the real voxel size; trusting the
sform would make a 0.977 x 0.977 x 5 mm scan look 1 mm isotropic and every volume in mL wrong by a
factor of ~4.8. strokect checks the chosen affine's voxel size against ``pixdim``; when they
disagree it uses the qform (whose voxel size is ``pixdim`` by construction) if present, otherwise
the sform's axis directions scaled by ``pixdim``, and warns once per file.

Writing a volume that carries the header it was read from (``Volume.source_header``, kept by
``Volume.with_array``) reuses that header, so a mask written for an input has exactly the input's
affine, qform/sform codes and pixdim.
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np

from strokect.errors import InputError, warn
from strokect.io.atomic import atomic_output
from strokect.io.records import write_json
from strokect.io.volume import _LPS_TO_RAS, Volume

_TIME_UNIT_TO_S = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}


def _zooms(affine: np.ndarray) -> np.ndarray:
    return np.linalg.norm(affine[:3, :3], axis=0)


def resolve_affine(header, *, name: str = "image") -> np.ndarray:
    """The RAS affine that matches the header's ``pixdim`` (see module docstring)."""
    pixdim = np.asarray(header["pixdim"][1:4], dtype=float)
    pixdim = np.where(pixdim > 0, pixdim, 1.0)
    sform, scode = header.get_sform(coded=True)
    qform, qcode = header.get_qform(coded=True)
    if scode and scode > 0:
        if np.allclose(_zooms(sform), pixdim, rtol=1e-3, atol=1e-4):
            return sform
        if qcode and qcode > 0:
            chosen, how = qform, f"the qform (code {int(qcode)})"
        else:
            cols = sform[:3, :3] / np.where(_zooms(sform) > 0, _zooms(sform), 1.0)
            if abs(np.linalg.det(cols)) < 1e-3:
                cols = np.eye(3)
            chosen = np.eye(4)
            chosen[:3, :3] = cols * pixdim[None, :]
            chosen[:3, 3] = sform[:3, 3]
            how = "the sform's axis directions with pixdim's voxel size"
        sz = " x ".join(f"{v:.4g}" for v in _zooms(sform))
        pz = " x ".join(f"{v:.4g}" for v in pixdim)
        warn(
            f"{name}: resolved a conflicting NIfTI header: sform (code {int(scode)}) implies "
            f"{sz} mm voxels but pixdim says {pz} mm; using {how}"
        )
        return chosen
    if qcode and qcode > 0:
        return qform
    return np.diag([*pixdim, 1.0])


def nifti_to_volume(image, *, metadata=None, name: str = "image") -> Volume:
    """Convert a nibabel NIfTI image to a `Volume` (axes reversed to ``(z, y, x)``)."""
    header = image.header
    shape = image.shape
    if len(shape) == 5 and shape[3] == 1:  # some writers store time as the 5th axis
        shape = (*shape[:3], shape[4])
    while len(shape) > 4 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) < 3 or len(shape) > 4:
        raise InputError(
            f"{name}: a {len(shape)}D image (shape {shape}) where a 3D volume or 4D series is needed"
        )
    data = _load_data(image, name).reshape(shape)
    affine_ras = resolve_affine(header, name=name)
    affine_lps = _LPS_TO_RAS @ affine_ras
    spacing_xyz = _zooms(affine_lps)
    direction = affine_lps[:3, :3] / spacing_xyz[None, :]
    meta = {"format": "nifti"}
    meta.update(metadata or {})
    time_s = None
    if data.ndim == 4:
        data = np.transpose(data, (3, 2, 1, 0))
        time_s = _frame_times(header, data.shape[0], name)
    else:
        data = np.transpose(data, (2, 1, 0))
    return Volume(
        array=np.ascontiguousarray(data),
        spacing_mm=tuple(spacing_xyz[::-1]),
        origin=tuple(affine_lps[:3, 3]),
        direction=direction,
        time_s=time_s,
        metadata=meta,
        source_header=header.copy(),
    )


def _load_data(image, name: str) -> np.ndarray:
    try:
        dataobj = image.dataobj
        slope, inter = getattr(dataobj, "slope", 1.0), getattr(dataobj, "inter", 0.0)
        scaled = not (slope in (None, 1.0) and inter in (None, 0.0))
        if scaled or not hasattr(dataobj, "get_unscaled"):  # in-memory images hold an ndarray
            data = np.asarray(dataobj)
        else:  # keep the stored integer type (nibabel would otherwise return float64)
            data = np.asarray(dataobj.get_unscaled())
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(f"{name}: truncated or corrupt compressed file ({exc})") from None
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{name}: image data cannot be read, the file looks truncated ({exc})"
        ) from None
    if data.dtype == np.float64:
        data = data.astype(np.float32)
    return data


def _frame_times(header, n_frames: int, name: str) -> np.ndarray:
    zooms = header.get_zooms()
    dt = float(zooms[3]) if len(zooms) > 3 else 0.0
    unit = header.get_xyzt_units()[1]
    if dt > 0:
        return np.arange(n_frames) * dt * _TIME_UNIT_TO_S.get(unit, 1.0)
    warn(f"{name}: the 4D header gives no frame interval; assuming 1 s between frames")
    return np.arange(n_frames, dtype=float)


def _sidecar(path: Path) -> Path:
    stem = path.name[: -len(".nii.gz")] if path.name.endswith(".nii.gz") else path.stem
    return path.with_name(stem + ".json")


def read_nifti(path: str | Path) -> Volume:
    """Read a ``.nii`` / ``.nii.gz`` file into a `Volume`.

    Frame times of a 4D file come from a JSON sidecar (``time_s`` or BIDS ``FrameTimesStart``)
    when one exists beside the file, else from ``pixdim[4]`` and the time unit.
    """
    path = Path(path)
    try:
        image = nib.load(str(path))
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(f"{path}: truncated or corrupt compressed file ({exc})") from None
    except Exception as exc:  # nibabel raises several types for non-NIfTI content
        raise InputError(
            f"{path}: not a readable NIfTI image ({type(exc).__name__}: {exc})"
        ) from None
    volume = nifti_to_volume(image, metadata={"source": path.name}, name=str(path))
    side = _sidecar(path)
    if volume.is_4d and side.is_file():
        times = _sidecar_times(side)
        if times is not None and len(times) == volume.n_frames:
            volume.time_s = np.asarray(times, dtype=float)
        elif times is not None:
            warn(
                f"{side}: lists {len(times)} frame times for {volume.n_frames} frames; "
                "using the header's frame interval instead"
            )
    return volume


def _sidecar_times(side: Path) -> list | None:
    """Frame times from a JSON sidecar (``time_s`` or BIDS ``FrameTimesStart``), if any."""
    try:
        meta = json.loads(side.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        warn(f"{side}: JSON sidecar is not readable; ignored")
        return None
    if not isinstance(meta, dict):
        return None
    times = meta.get("time_s", meta.get("FrameTimesStart"))
    return times if isinstance(times, list) else None


def volume_to_nifti(volume: Volume):
    """A ``nibabel.Nifti1Image`` for ``volume``.

    When the volume carries a source header on the same grid, that header (codes, pixdim,
    quaternion, sform) is reused so the written file has the input's geometry exactly.
    """
    array = volume.array
    if array.dtype == bool:
        array = array.astype(np.uint8)
    data = np.transpose(array, (3, 2, 1, 0) if volume.is_4d else (2, 1, 0))
    header = _compatible_source_header(volume)
    if header is not None:
        header = header.copy()
        header.set_data_dtype(data.dtype)
        header.set_slope_inter(None, None)
        image = nib.Nifti1Image(data, None, header=header)
        image.header.set_slope_inter(None, None)
        if not volume.is_4d:
            image.header["pixdim"][4:] = 0.0 if header["dim"][0] > 3 else header["pixdim"][4:]
        return image
    affine = volume.affine_ras()
    image = nib.Nifti1Image(data, affine, dtype=data.dtype)  # explicit: int64 is allowed
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    if volume.is_4d:
        dt = float(np.median(np.diff(volume.time_s))) if volume.n_frames > 1 else 1.0
        image.header.set_zooms((*volume.spacing_mm[::-1], dt))
    image.header.set_xyzt_units("mm", "sec")
    return image


def _compatible_source_header(volume: Volume):
    header = volume.source_header
    if header is None or not isinstance(header, nib.Nifti1Header):
        return None
    if tuple(int(d) for d in header["dim"][1:4]) != volume.spatial_shape[::-1]:
        return None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        affine_lps = _LPS_TO_RAS @ resolve_affine(header)
    spacing = _zooms(affine_lps)[::-1]
    direction = affine_lps[:3, :3] / _zooms(affine_lps)[None, :]
    if not (
        np.allclose(spacing, volume.spacing_mm, atol=1e-4)
        and np.allclose(affine_lps[:3, 3], volume.origin, atol=1e-3)
        and np.allclose(direction, volume.direction, atol=1e-5)
    ):
        return None
    return header


def write_nifti(volume: Volume, path: str | Path) -> Path:
    """Write ``volume`` to ``path`` (``.nii`` or ``.nii.gz``) atomically; returns the path.

    A 4D volume whose frame times are not ``k * pixdim[4]`` (non-uniform, or not starting at 0 s)
    also gets a JSON sidecar (same name, ``.json``) with ``time_s``; `read_nifti` reads it back.
    """
    path = Path(path)
    image = volume_to_nifti(volume)
    with atomic_output(path) as tmp:
        nib.save(image, str(tmp))
    if volume.is_4d and not _times_match_header(volume.time_s, image.header):
        _write_sidecar_times(_sidecar(path), volume.time_s)
    return path


def _times_match_header(time_s: np.ndarray, header) -> bool:
    """True when ``pixdim[4]`` (and a start at 0 s) reproduces ``time_s`` to 1 ms."""
    zooms = header.get_zooms()
    dt = float(zooms[3]) if len(zooms) > 3 else 0.0
    dt *= _TIME_UNIT_TO_S.get(header.get_xyzt_units()[1], 1.0)
    return dt > 0 and np.allclose(time_s, np.arange(time_s.size) * dt, atol=1e-3)


def _write_sidecar_times(side: Path, time_s: np.ndarray) -> None:
    """Write ``time_s`` into the JSON sidecar, keeping other keys of an existing sidecar."""
    meta: dict = {}
    if side.is_file():
        try:
            loaded = json.loads(side.read_text())
            meta = loaded if isinstance(loaded, dict) else {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            meta = {}
    meta["time_s"] = [float(t) for t in time_s]
    write_json(meta, side, indent=1)
