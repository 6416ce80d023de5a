"""DICOM Segmentation (DICOM-SEG) output and input, written with highdicom.

:func:`write_dicom_seg` stores named binary masks as one DICOM-SEG object that references the DICOM
series the masks were computed from, so that a PACS or viewer shows them over that series.
:func:`read_dicom_seg` reads such an object back into one `Volume` per segment.

Rules (see ``docs/io_dicom.md``, section "DICOM-SEG output")
------------------------------------------------------------
- One BINARY segment per mask, labelled with the mask name, algorithm type AUTOMATIC with the
  algorithm identification (name, version, family "Artificial Intelligence").
- Frames lie on the masks' grid, not on the source slices: every frame carries its own plane
  position ``origin + k * spacing_z * direction[:, 2]``, the plane orientation comes from the
  Volume direction and the pixel measures from its spacing. For an ordinary series this grid is
  the source slices; for a tilted or irregularly spaced series it is the corrected orthogonal
  grid that :func:`strokect.io.dicom.read_dicom` resamples to. Empty frames are kept, so an
  empty mask is written as a segment with no voxels.
- The Patient and Study modules are copied verbatim from the source series (as the standard
  requires); ``anonymize=True`` leaves their type-2 attributes empty and omits the others. UIDs
  are kept: the SEG must reference the source study, series and images.
- No patient identifier is logged or put in an error message: highdicom builds the SEG from
  copies of the source headers without them (it would otherwise log an unusual patient name).

highdicom is imported inside the functions (the optional ``dicomseg`` extra), so importing
`strokect.io` does not need it. Reading needs pydicom only.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from strokect.errors import InputError
from strokect.io.atomic import atomic_output
from strokect.io.dicom_scan import majority_orientation, scan_folder, select_series, series_infos
from strokect.io.volume import Volume
from strokect.version import __version__

__all__ = ["read_dicom_seg", "write_dicom_seg"]

logger = logging.getLogger(__name__)

_SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
_MISSING_EXTRA = "DICOM-SEG output needs the dicomseg extra: pip install 'strokect[dicomseg]'"

#: Type-2 Patient / General Study attributes: present in every SEG, empty when anonymized.
_TYPE2_BLANKED = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
    "AccessionNumber", "ReferringPhysicianName", "StudyID",
)  # fmt: skip

#: General Study / Patient Study attributes outside the groups below (the others are in them).
_STUDY_KEYWORDS = (
    "IssuerOfAccessionNumberSequence", "ReferringPhysicianIdentificationSequence",
    "ConsultingPhysicianName", "ConsultingPhysicianIdentificationSequence", "StudyDescription",
    "PhysiciansOfRecord", "PhysiciansOfRecordIdentificationSequence",
    "NameOfPhysiciansReadingStudy", "PhysiciansReadingStudyIdentificationSequence",
    "ReferencedStudySequence", "ProcedureCodeSequence", "ReasonForPerformedProcedureCodeSequence",
    "AdmittingDiagnosesDescription", "AdmittingDiagnosesCodeSequence",
)  # fmt: skip

#: Where and when the source was acquired: highdicom lists them in the contributing equipment.
_SITE_KEYWORDS = (
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "StationName",
    "DeviceSerialNumber", "AcquisitionDateTime", "AcquisitionDate", "AcquisitionTime",
)  # fmt: skip

#: Groups of the Patient, Patient Study, Clinical Trial and study scheduling/visit attributes.
_PATIENT_GROUPS = (0x0010, 0x0012, 0x0032, 0x0038)

#: Mask names (lowercase substrings) whose segments are typed as an infarct.
_INFARCT_WORDS = ("lesion", "infarct", "core", "stroke")


def write_dicom_seg(
    masks: Mapping[str, Volume],
    source: str | Path,
    out_path: str | Path,
    *,
    series: str | int | None = None,
    anonymize: bool = False,
    algorithm_name: str = "strokect",
    algorithm_version: str = __version__,
    series_description: str = "strokect lesion segmentation",
    series_number: int = 9901,
) -> Path:
    """Write named binary masks as one DICOM-SEG object referencing a DICOM series.

    Parameters
    ----------
    masks
        Segment label -> 3D binary mask `Volume` ``(z, y, x)`` (bool or integer 0/1), all on one
        grid; segments are numbered 1, 2, ... in this order.
    source
        The DICOM folder the masks were computed from.
    out_path
        The ``.dcm`` file to write (atomically: complete or absent).
    series
        Which series of ``source``, as for :func:`strokect.io.dicom.read_dicom`.
    anonymize
        Leave the Patient and Study attributes empty instead of copying the source's (UIDs kept).
    algorithm_name, algorithm_version
        The algorithm identification of every segment.
    series_description, series_number
        Of the new SEG series.

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    InputError
        No mask, a mask that is not a 3D binary `Volume`, masks on different grids, a bad label,
        a source folder without the series, or highdicom not installed.
    """
    hd = _highdicom()
    labels, stack, grid = _check_masks(masks)
    sources = _source_headers(source, series)
    descriptions = [
        _segment_description(hd, number, label, algorithm_name, algorithm_version)
        for number, label in enumerate(labels, start=1)
    ]
    with _quiet("highdicom"):  # its info/debug records name source UIDs, which can hold dates
        seg = hd.seg.Segmentation(
            source_images=[_without_identifiers(ds, site=anonymize) for ds in sources],
            pixel_array=stack,
            segmentation_type="BINARY",
            segment_descriptions=descriptions,
            series_instance_uid=hd.UID(),
            series_number=int(series_number),
            sop_instance_uid=hd.UID(),
            instance_number=1,
            manufacturer="strokect",
            manufacturer_model_name=algorithm_name,
            software_versions=str(algorithm_version),
            device_serial_number="",
            series_description=series_description,
            omit_empty_frames=False,  # an empty mask keeps its frames (a segment with no voxels)
            **_grid_arguments(hd, grid),
        )
        # highdicom keeps the source's pixel measures when the in-plane spacing matches; the step
        # between frames is the mask grid's (a resampled tilted/irregular series has its own)
        measures = seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
        measures.SpacingBetweenSlices = float(grid.spacing_mm[0])
        if not anonymize:  # the source's Patient and Study modules, verbatim
            seg.copy_patient_and_study_information(sources[0])
    with atomic_output(out_path) as tmp:
        seg.save_as(tmp)
    logger.info("wrote a DICOM-SEG with %d segment(s) on %d slices", len(labels), len(stack))
    return Path(out_path)


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Drop the info and debug records of logger ``name`` inside the block."""
    chosen = logging.getLogger(name)
    before = chosen.level
    chosen.setLevel(max(logging.WARNING, chosen.getEffectiveLevel()))
    try:
        yield
    finally:
        chosen.setLevel(before)


def _highdicom():
    try:
        import highdicom
    except ImportError:
        raise InputError(_MISSING_EXTRA) from None
    return highdicom


def _check_masks(masks: Mapping[str, Volume]) -> tuple[list[str], np.ndarray, Volume]:
    """Labels, the stacked ``(z, y, x, segment)`` uint8 array and the shared grid."""
    if not isinstance(masks, Mapping) or not masks:
        raise InputError("masks: need a mapping of at least one segment label to a mask Volume")
    labels, arrays, first = [], [], None
    for label, mask in masks.items():
        _check_label(label)
        if not isinstance(mask, Volume) or mask.array.ndim != 3:
            shape = getattr(getattr(mask, "array", None), "shape", type(mask).__name__)
            raise InputError(f"masks[{label!r}]: expected a 3D (z, y, x) mask Volume; got {shape}")
        if first is None:
            first = mask
        if not mask.same_geometry(first):
            raise InputError(
                f"masks[{label!r}]: on another grid than masks[{labels[0]!r}] "
                f"({_difference(mask, first)}); all masks must share one grid"
            )
        values = np.unique(mask.array)
        if not np.isin(values, (0, 1)).all():
            raise InputError(f"masks[{label!r}]: a binary mask must hold only 0 and 1")
        labels.append(label)
        arrays.append(mask.array.astype(np.uint8))
    _check_direction(first.direction)
    return labels, np.stack(arrays, axis=-1), first


def _difference(a: Volume, b: Volume) -> str:
    """What differs between two grids, e.g. ``origin (0, 0, 0) vs (-20, -12.5, 30)``."""
    parts = []
    for name in ("spatial_shape", "spacing_mm", "origin", "direction"):
        x, y = np.asarray(getattr(a, name), float), np.asarray(getattr(b, name), float)
        if x.shape != y.shape or not np.allclose(x, y, atol=1e-3):
            parts.append(f"{name} {np.round(x, 4).tolist()} vs {np.round(y, 4).tolist()}")
    return "; ".join(parts)


def _check_label(label) -> None:
    if not isinstance(label, str) or not label.strip():
        raise InputError(f"masks: segment labels must be non-empty strings; got {label!r}")
    if len(label) > 64 or "\\" in label or any(ord(c) < 32 for c in label):
        raise InputError(
            f"masks: segment label {label!r} is not a DICOM label (at most 64 characters, "
            "no backslash or control characters)"
        )


def _check_direction(direction: np.ndarray) -> None:
    row, col = direction[:, 0], direction[:, 1]
    unit = np.allclose([np.linalg.norm(row), np.linalg.norm(col)], 1.0, atol=1e-4)
    if not unit or abs(float(row @ col)) > 1e-4:
        raise InputError(
            "masks: the in-plane axes of the mask grid (direction columns 0 and 1) must be "
            f"orthogonal unit vectors for DICOM; got {np.round(direction[:, :2].T, 5).tolist()}"
        )


def _grid_arguments(hd, grid: Volume) -> dict:
    """Plane positions, orientation and pixel measures of every frame, from the mask grid."""
    step = grid.spacing_mm[0] * grid.direction[:, 2]
    origin = np.asarray(grid.origin)
    positions = [
        hd.PlanePositionSequence("PATIENT", [float(v) for v in origin + k * step])
        for k in range(grid.spatial_shape[0])
    ]
    orientation = [float(v) for v in (*grid.direction[:, 0], *grid.direction[:, 1])]
    return {
        "plane_positions": positions,
        "plane_orientation": hd.PlaneOrientationSequence("PATIENT", orientation),
        "pixel_measures": hd.PixelMeasuresSequence(
            pixel_spacing=[grid.spacing_mm[1], grid.spacing_mm[2]],  # (between rows, columns)
            slice_thickness=grid.spacing_mm[0],
            spacing_between_slices=grid.spacing_mm[0],
        ),
    }


def _segment_description(hd, number: int, label: str, name: str, version: str):
    from pydicom.sr.codedict import codes

    lowered = label.lower()
    if any(word in lowered for word in _INFARCT_WORDS):
        category = codes.SCT.MorphologicallyAbnormalStructure
        kind = hd.sr.CodedConcept("55641003", "SCT", "Infarct")
    elif "brain" in lowered:
        category, kind = codes.SCT.AnatomicalStructure, codes.SCT.Brain
    else:
        category, kind = codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Lesion
    algorithm = hd.AlgorithmIdentificationSequence(
        name=name, family=codes.DCM.ArtificialIntelligence, version=str(version)
    )
    return hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=label,
        segmented_property_category=category,
        segmented_property_type=kind,
        algorithm_type="AUTOMATIC",
        algorithm_identification=algorithm,
    )


def _source_headers(source: str | Path, series: str | int | None) -> list:
    """The pydicom headers (no pixel data) of the chosen series, one per distinct image."""
    import pydicom

    folder = Path(source)
    _, headers = select_series(folder, series_infos(scan_folder(folder)), series)
    if any(h.n_frames > 1 for h in headers):
        raise InputError(f"{folder}: multi-frame (enhanced) DICOM source files are not supported")
    if any(h.position is None or h.orientation is None for h in headers):
        raise InputError(
            f"{folder}: source files lack ImagePositionPatient/ImageOrientationPatient"
        )
    unique = list({h.sop_uid or str(h.path): h for h in headers}.values())  # no duplicate files
    kept, _ = majority_orientation(unique)  # as read_dicom: without a localizer
    if len({(h.rows, h.cols) for h in kept}) > 1:
        raise InputError(f"{folder}: the source files have different matrix sizes")
    datasets = [pydicom.dcmread(h.path, stop_before_pixels=True) for h in kept]
    needed = ("StudyInstanceUID", "SOPInstanceUID", "SOPClassUID", "FrameOfReferenceUID")
    missing = sorted({k for ds in datasets for k in needed if not ds.get(k)})
    if missing:
        raise InputError(f"{folder}: source files lack {', '.join(missing)}, needed by a SEG")
    return datasets


def _without_identifiers(ds, *, site: bool):
    """A copy of a source header without Patient/Study values (type-2 ones left empty) and, with
    ``site``, without the institution, station, device serial number and acquisition date."""
    out = copy.deepcopy(ds)
    dropped = _STUDY_KEYWORDS + (_SITE_KEYWORDS if site else ())
    for element in list(out):
        if element.tag.group in _PATIENT_GROUPS or element.keyword in dropped:
            del out[element.tag]
    for keyword in _TYPE2_BLANKED:
        setattr(out, keyword, "")
    return out


def read_dicom_seg(path: str | Path) -> dict[str, Volume]:
    """Read a BINARY DICOM-SEG file into one uint8 mask `Volume` ``(z, y, x)`` per segment.

    The geometry comes from the SEG's own frames (not from its source series): the frames' plane
    orientation and pixel spacing, and their positions, which must lie on one regular grid (gaps
    from omitted empty frames are filled with zeros). Slices are ordered along the plane normal
    (row x column), as :func:`strokect.io.dicom.read_dicom` orders them.

    Parameters
    ----------
    path
        A DICOM-SEG file (e.g. written by `write_dicom_seg`).

    Returns
    -------
    dict[str, Volume]
        Segment label -> mask (values 0/1), in segment-number order; a label used twice gets its
        segment number appended (``"lesion_2"``). ``metadata`` holds ``kind="mask"`` and the
        ``segment_number``, never patient attributes.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    InputError
        Not a DICOM Segmentation, not BINARY, frames with different orientations or spacings, or
        frame positions not on one regular grid.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"DICOM-SEG file not found: {path}")
    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError:
        raise InputError(f"{path}: not a DICOM file") from None
    if ds.get("SOPClassUID") != _SEG_SOP_CLASS:
        raise InputError(f"{path}: not a DICOM Segmentation (SOPClassUID {ds.get('SOPClassUID')})")
    if ds.get("SegmentationType") != "BINARY":
        raise InputError(
            f"{path}: SegmentationType {ds.get('SegmentationType')!r} is not supported (BINARY only)"
        )
    frames = ds.pixel_array.reshape(-1, int(ds.Rows), int(ds.Columns))
    numbers, positions, grid = _frame_geometry(ds, path, len(frames))
    index, grid = _slice_grid(positions, grid, path)
    out: dict[str, Volume] = {}
    for item in ds.SegmentSequence:
        number = int(item.SegmentNumber)
        array = np.zeros((grid["n_slices"], int(ds.Rows), int(ds.Columns)), dtype=np.uint8)
        chosen = numbers == number
        array[index[chosen]] = frames[chosen] != 0
        label = str(item.get("SegmentLabel", "")) or f"segment_{number}"
        label = f"{label}_{number}" if label in out else label
        out[label] = Volume(
            array=array,
            spacing_mm=grid["spacing_mm"],
            origin=grid["origin"],
            direction=grid["direction"],
            metadata={"source": "dicom_seg", "kind": "mask", "segment_number": number},
        )
    return out


def _functional(ds, frame_item, sequence: str):
    """The item of a functional group, per-frame first, else shared (None when absent)."""
    shared = ds.get("SharedFunctionalGroupsSequence") or [None]
    for groups in (frame_item, shared[0]):
        if groups is not None and sequence in groups:
            return groups[sequence][0]
    return None


def _frame_geometry(ds, path: Path, n_frames: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Segment number and LPS position of every frame, and the in-plane grid."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or [None] * n_frames
    if len(per_frame) != n_frames:
        raise InputError(f"{path}: {len(per_frame)} per-frame items for {n_frames} frames")
    numbers, positions, planes = [], [], []
    for item in per_frame:
        ident = _functional(ds, item, "SegmentIdentificationSequence")
        position = _functional(ds, item, "PlanePositionSequence")
        orientation = _functional(ds, item, "PlaneOrientationSequence")
        measures = _functional(ds, item, "PixelMeasuresSequence")
        if None in (ident, position, orientation, measures):
            raise InputError(f"{path}: frames without segment number, position or orientation")
        numbers.append(int(ident.ReferencedSegmentNumber))
        positions.append([float(v) for v in position.ImagePositionPatient])
        planes.append([*map(float, orientation.ImageOrientationPatient), *measures.PixelSpacing])
    planes = np.asarray(planes, dtype=float)
    if np.ptp(planes, axis=0).max() > 1e-4:
        raise InputError(f"{path}: frames with different orientations or pixel spacings")
    row, col = planes[0, :3], planes[0, 3:6]
    measures = _functional(ds, None, "PixelMeasuresSequence") or {}
    step = measures.get("SpacingBetweenSlices") or measures.get("SliceThickness") or 1.0
    grid = {
        "direction": np.column_stack([row, col, np.cross(row, col)]),
        "spacing_mm": (float(step), planes[0, 6], planes[0, 7]),  # (z, between rows, columns)
    }
    return np.asarray(numbers), np.asarray(positions), grid


def _slice_grid(positions: np.ndarray, grid: dict, path: Path) -> tuple[np.ndarray, dict]:
    """Slice index of every frame, and the full grid (origin, spacing, direction, n_slices).

    Planes are ordered along the normal; the slice vector ``v`` is fitted so that every plane
    lies at ``origin + k v`` for an integer ``k`` (a sheared grid keeps its slice axis).
    """
    direction = grid["direction"].copy()
    dist = positions @ direction[:, 2]
    order = np.argsort(dist, kind="stable")
    inverse = np.empty(len(dist), dtype=int)  # plane of each frame: positions within 0.01 mm
    inverse[order] = np.concatenate([[0], np.cumsum(np.diff(dist[order]) > 0.01)])
    centres = np.array([positions[inverse == i].mean(axis=0) for i in range(inverse.max() + 1)])
    planes, first = centres @ direction[:, 2], centres[0]
    off_grid = np.abs(positions - centres[inverse]).max()  # frames of one plane must coincide
    step, k = grid["spacing_mm"][0], np.zeros(len(planes), dtype=int)
    if len(planes) > 1:
        k = np.round((planes - planes[0]) / np.diff(planes).min()).astype(int)
        vector = ((centres - first).T @ k) / float(k @ k)  # least squares: centre = first + k v
        off_grid = max(off_grid, np.abs(centres - first - np.outer(k, vector)).max())
        step = float(np.linalg.norm(vector))
        direction[:, 2] = vector / step
    if off_grid > 0.01:
        raise InputError(f"{path}: the frame positions do not lie on one regular grid")
    full = {
        "n_slices": int(k.max()) + 1,
        "spacing_mm": (step, *grid["spacing_mm"][1:]),
        "origin": tuple(first),
        "direction": direction,
    }
    return k[inverse], full
