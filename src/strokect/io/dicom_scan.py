"""Scan a folder for DICOM files and group them into series (headers only, no pixel data).

Only the header elements strokect needs are kept (geometry, rescale, timing, and a few
descriptive fields); patient-identifying elements (name, ID, birth date, age, sex, dates,
institution) are never read into these records, so they cannot leak into metadata, messages or
logs. See ``docs/io_dicom.md``.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from strokect.errors import InputError

logger = logging.getLogger(__name__)

#: Media Storage SOP Class of a DICOMDIR index file (no image inside).
_DICOMDIR_CLASS = "1.2.840.10008.1.3.10"

#: Header elements read from each file (everything else, identifiers included, is skipped).
_TAGS = [
    "SeriesInstanceUID",
    "SeriesNumber",
    "SeriesDescription",
    "Modality",
    "Manufacturer",
    "ManufacturerModelName",
    "Rows",
    "Columns",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "SliceThickness",
    "RescaleSlope",
    "RescaleIntercept",
    "AcquisitionNumber",
    "TemporalPositionIdentifier",
    "AcquisitionTime",
    "ContentTime",
    "TriggerTime",
    "InstanceNumber",
    "NumberOfFrames",
    "ConvolutionKernel",
    "SOPInstanceUID",  # an image's own UID (not a patient identifier): finds duplicate files
]


@dataclass
class SliceHeader:
    """The header fields of one DICOM image file that strokect uses (no identifiers)."""

    path: Path
    series_uid: str
    series_number: int | None
    description: str
    modality: str
    manufacturer: str
    model: str
    rows: int
    cols: int
    position: np.ndarray | None  # ImagePositionPatient, LPS mm (3,)
    orientation: np.ndarray | None  # ImageOrientationPatient (6,)
    pixel_spacing: tuple[float, float] | None  # (row spacing = y, column spacing = x) mm
    slice_thickness: float | None
    slope: float
    intercept: float
    acquisition_number: int | None
    temporal_position: int | None
    times_s: dict[str, float | None] = field(default_factory=dict)
    instance_number: int | None = None
    n_frames: int = 1
    kernel: str = ""
    sop_uid: str = ""


@dataclass
class SeriesInfo:
    """One DICOM series found in a folder, as listed by ``strokect info``.

    Attributes
    ----------
    index
        0-based position in the listing (series ordered by SeriesNumber, then UID).
    uid
        SeriesInstanceUID (not shown in ``repr``: UIDs may embed acquisition dates).
    number
        SeriesNumber, or None when absent.
    description, modality
        SeriesDescription and Modality ("" when absent).
    n_files
        Number of image files in the series.
    rows, cols
        Image matrix of the first file (rows = y, cols = x).
    n_positions
        Number of distinct slice positions (0 when the files carry no position).
    n_frames_guess
        ``n_files // n_positions`` when every position repeats equally (a 4D series has > 1).
    """

    index: int
    uid: str = field(repr=False)
    number: int | None
    description: str
    modality: str
    n_files: int
    rows: int
    cols: int
    n_positions: int
    n_frames_guess: int

    def label(self) -> str:
        """One-line human summary, e.g. ``[0] #2 'Head 8.0' CT, 17 files, 512x512``."""
        number = "?" if self.number is None else str(self.number)
        frames = f", {self.n_frames_guess} frames" if self.n_frames_guess > 1 else ""
        return (
            f"[{self.index}] #{number} '{self.description}' {self.modality or '?'}, "
            f"{self.n_files} files, {self.rows}x{self.cols}{frames}"
        )


def _float(value, default=None):
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        value = " ".join(str(v) for v in value)
    return " ".join(str(value).split())


def dicom_time_to_s(value) -> float | None:
    """Seconds since midnight from a DICOM TM value (``HHMMSS.FFFFFF``, also ``HH:MM:SS``)."""
    text = str(value).strip().replace(":", "") if value is not None else ""
    if len(text) < 2 or not text[:2].isdigit():
        return None
    try:
        hours = int(text[:2])
        minutes = int(text[2:4]) if len(text) >= 4 else 0
        seconds = float(text[4:]) if len(text) > 4 else 0.0
    except ValueError:
        return None
    return hours * 3600.0 + minutes * 60.0 + seconds


def _header(path: Path):
    """The dataset of ``path`` without pixel data, or None for non-DICOM / non-image files."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=_TAGS)
    except (InvalidDicomError, OSError, ValueError, EOFError, AttributeError, KeyError):
        return None
    meta_class = str(getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", ""))
    if meta_class == _DICOMDIR_CLASS or "Rows" not in ds or "SeriesInstanceUID" not in ds:
        return None
    return ds


def _slice_header(path: Path, ds) -> SliceHeader:
    ipp = ds.get("ImagePositionPatient")
    iop = ds.get("ImageOrientationPatient")
    ps = ds.get("PixelSpacing")
    trigger = _float(ds.get("TriggerTime"))
    return SliceHeader(
        path=path,
        series_uid=str(ds.SeriesInstanceUID),
        series_number=_int(ds.get("SeriesNumber")),
        description=_text(ds.get("SeriesDescription")),
        modality=_text(ds.get("Modality")),
        manufacturer=_text(ds.get("Manufacturer")),
        model=_text(ds.get("ManufacturerModelName")),
        rows=int(ds.Rows),
        cols=int(ds.Columns),
        position=np.array([float(v) for v in ipp]) if ipp and len(ipp) == 3 else None,
        orientation=np.array([float(v) for v in iop]) if iop and len(iop) == 6 else None,
        pixel_spacing=(float(ps[0]), float(ps[1])) if ps and len(ps) == 2 else None,
        slice_thickness=_float(ds.get("SliceThickness")),
        slope=_float(ds.get("RescaleSlope"), 1.0),
        intercept=_float(ds.get("RescaleIntercept"), 0.0),
        acquisition_number=_int(ds.get("AcquisitionNumber")),
        temporal_position=_int(ds.get("TemporalPositionIdentifier")),
        times_s={
            "AcquisitionTime": dicom_time_to_s(ds.get("AcquisitionTime")),
            "ContentTime": dicom_time_to_s(ds.get("ContentTime")),
            "TriggerTime": None if trigger is None else trigger / 1000.0,
        },
        instance_number=_int(ds.get("InstanceNumber")),
        n_frames=_int(ds.get("NumberOfFrames")) or 1,
        kernel=_text(ds.get("ConvolutionKernel")),
        sop_uid=_text(ds.get("SOPInstanceUID")),
    )


def _candidate_files(folder: Path) -> list[Path]:
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(Path(root) / n for n in sorted(names) if not n.startswith("."))
    return files


def is_dicom_file(path: str | Path) -> bool:
    """``path`` is a DICOM image file (header read only)."""
    return _header(Path(path)) is not None


def contains_dicom(folder: str | Path) -> bool:
    """``folder`` holds a DICOM image somewhere below it (stops at the first one found)."""
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if any(is_dicom_file(Path(root) / n) for n in sorted(names) if not n.startswith(".")):
            return True
    return False


def first_study_uid(folder: str | Path) -> str | None:
    """StudyInstanceUID of the first DICOM image under ``folder`` (None: no DICOM image).

    Used only to tell one study from several; never written anywhere (UIDs may embed dates).
    """
    import pydicom

    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(n for n in names if not n.startswith(".")):
            path = Path(root) / name
            if is_dicom_file(path):
                ds = pydicom.dcmread(
                    path, stop_before_pixels=True, specific_tags=["StudyInstanceUID"]
                )
                return str(ds.get("StudyInstanceUID", "")) or None
    return None


def scan_folder(folder: str | Path) -> dict[str, list[SliceHeader]]:
    """Headers of every DICOM image under ``folder`` (recursively), grouped by series UID.

    Non-DICOM files (licence texts, DICOMDIR index files, hidden files) are skipped.

    Raises
    ------
    FileNotFoundError
        When ``folder`` does not exist.
    InputError
        When ``folder`` is not a folder or holds no DICOM image.
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"DICOM folder not found: {folder}")
    if not folder.is_dir():
        raise InputError(f"{folder}: expected a folder of DICOM files")
    series: dict[str, list[SliceHeader]] = {}
    files = _candidate_files(folder)
    skipped = 0
    for path in files:
        ds = _header(path)
        if ds is None:
            skipped += 1
            continue
        try:
            header = _slice_header(path, ds)
        except (AttributeError, TypeError, ValueError, IndexError, OverflowError) as exc:
            what = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{path}: unusable DICOM header ({what})") from None
        series.setdefault(header.series_uid, []).append(header)
    if not series:
        raise InputError(
            f"{folder}: no DICOM image found ({len(files)} files looked at, none readable as DICOM)"
        )
    logger.debug("found %d DICOM series, skipped %d non-image files", len(series), skipped)
    return series


def count_positions(headers: list[SliceHeader], *, tol_mm: float = 0.02) -> Counter:
    """Number of files at each distinct slice position (clustered along the slice normal).

    Keys are cluster indices in increasing order of position along the normal; an empty counter
    when the files carry no position / orientation.
    """
    if any(h.position is None or h.orientation is None for h in headers):
        return Counter()
    normal = slice_normal(headers[0].orientation)
    dist = np.array([h.position @ normal for h in headers])
    return Counter(cluster_positions(dist, tol_mm=tol_mm).tolist())


def slice_normal(orientation: np.ndarray) -> np.ndarray:
    """Unit normal ``row x col`` of an ImageOrientationPatient (the slice axis in LPS)."""
    row, col = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    normal = np.cross(row, col)
    return normal / np.linalg.norm(normal)


def cluster_positions(dist_mm: np.ndarray, *, tol_mm: float = 0.02) -> np.ndarray:
    """Cluster label (0, 1, ... in increasing distance) of each slice's distance along the normal."""
    order = np.argsort(dist_mm, kind="stable")
    labels = np.empty(len(dist_mm), dtype=int)
    label, previous = -1, None
    for i in order:
        if previous is None or dist_mm[i] - previous > tol_mm:
            label += 1
        labels[i] = label
        previous = dist_mm[i]
    return labels


def series_infos(series: dict[str, list[SliceHeader]]) -> list[tuple[SeriesInfo, list]]:
    """`SeriesInfo` (ordered by SeriesNumber then UID) with the headers of each series."""

    def key(item):
        number = item[1][0].series_number
        return (number is None, number if number is not None else 0, item[0])

    out = []
    for index, (uid, headers) in enumerate(sorted(series.items(), key=key)):
        first = headers[0]
        counts = count_positions(headers)
        repeats = set(counts.values())
        guess = repeats.pop() if len(repeats) == 1 else 1
        info = SeriesInfo(
            index=index,
            uid=uid,
            number=first.series_number,
            description=first.description,
            modality=first.modality,
            n_files=len(headers),
            rows=first.rows,
            cols=first.cols,
            n_positions=len(counts),
            n_frames_guess=guess,
        )
        out.append((info, headers))
    return out


def select_series(
    folder: Path, listed: list[tuple[SeriesInfo, list]], series: str | int | None
) -> tuple[SeriesInfo, list]:
    """Pick one series: None (only one present), an int index, a UID, ``'#k'`` or a SeriesNumber."""
    listing = "; ".join(info.label() for info, _ in listed)
    if series is None:
        if len(listed) == 1:
            return listed[0]
        raise InputError(
            f"{folder}: holds {len(listed)} DICOM series; pick one (segment: --input "
            f"ROLE=PATH::SERIES, info: --series, Python: series=) by index '#0', SeriesNumber "
            f"or SeriesInstanceUID: {listing}"
        )
    if isinstance(series, int) and not isinstance(series, bool):
        return _by_index(folder, listed, series, listing)
    text = str(series).strip()
    for item in listed:
        if item[0].uid == text:
            return item
    if text.startswith("#") and text[1:].isdigit():
        return _by_index(folder, listed, int(text[1:]), listing)
    if text.lstrip("-").isdigit():
        matches = [item for item in listed if item[0].number == int(text)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InputError(
                f"{folder}: several series have SeriesNumber {text}; pick by index "
                f"('#k') or UID: {listing}"
            )
        return _by_index(folder, listed, int(text), listing)
    raise InputError(f"{folder}: no DICOM series matches series={text!r}; found: {listing}")


def _by_index(folder: Path, listed, index: int, listing: str):
    if not 0 <= index < len(listed):
        raise InputError(
            f"{folder}: series index {index} out of range (0..{len(listed) - 1}): {listing}"
        )
    return listed[index]


def majority_orientation(headers: list[SliceHeader]) -> tuple[list[SliceHeader], int]:
    """Headers sharing the most common orientation, and how many others were dropped."""
    keys = [tuple(np.round(h.orientation, 4)) for h in headers]
    best, _ = Counter(keys).most_common(1)[0]
    kept = [h for h, k in zip(headers, keys) if k == best]
    return kept, len(headers) - len(kept)
