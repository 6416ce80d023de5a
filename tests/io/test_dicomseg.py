"""Tests of the DICOM-SEG writer and reader: a synthetic series written here, plus the real scans.

Every mask written as a SEG is read back three ways (highdicom's own reader, strokect's
`read_dicom_seg`, and the same mask through NIfTI) and compared voxel by voxel, with geometry.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from strokect.errors import InputError
from strokect.io import Volume, read_volume, write_volume
from strokect.io.dicomseg import read_dicom_seg, write_dicom_seg
from tests.conftest import shared_path

# pydicom reading the AISD headers: "The value length (32) exceeds the maximum length of 16..."
pytestmark = pytest.mark.filterwarnings("ignore:The value length:UserWarning")

#: Fake identifiers of the synthetic series (the real ones are read from the files).
IDENTITY = {
    "PatientName": "Doe^Jane", "PatientID": "PID-778899", "PatientBirthDate": "19510203",
    "PatientSex": "F", "PatientAge": "071Y", "StudyDate": "20220405", "StudyTime": "101112",
    "AccessionNumber": "ACC-5566", "ReferringPhysicianName": "Who^Referrer",
    "StudyID": "STUDY-42", "InstitutionName": "Saint Nowhere Hospital",
    "StationName": "CT-ROOM-7", "DeviceSerialNumber": "SN-998877",
    "AcquisitionDateTime": "20220405101530",
}  # fmt: skip

#: Blank in an anonymized SEG (absent counts as blank for the type-3 ones).
BLANKED = (*IDENTITY, "SeriesDate", "AcquisitionDate", "StudyDescription")

#: Patient and General Study attributes a SEG copies verbatim from its source.
COPIED = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge", "StudyDate",
    "StudyTime", "AccessionNumber", "ReferringPhysicianName", "StudyID", "StudyInstanceUID",
    "StudyDescription",
)  # fmt: skip


# ----------------------------------------------------------------------------- sources
def _write_synthetic_series(folder: Path, *, n=5, rows=13, cols=15) -> None:
    """Axial CT slices 2.5 mm apart, 0.7 x 0.6 mm pixels; 13 x 15 pixels so that the bits of a
    BINARY frame do not fill whole bytes."""
    folder.mkdir(parents=True)
    series, study, frame = generate_uid(), generate_uid(), generate_uid()
    yy, xx = np.mgrid[:rows, :cols]
    for k in range(n):
        ds = pydicom.Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, ds.file_meta.MediaStorageSOPInstanceUID
        for key, value in IDENTITY.items():
            setattr(ds, key, value)
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 3, k + 1
        ds.Manufacturer = "ACME"
        ds.ImagePositionPatient = [-20.0, -12.5, 30.0 + 2.5 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [0.7, 0.6], 2.5
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelData = (1024 + 10 * k + xx + yy).astype("<i2").tobytes()
        ds.save_as(folder / f"s{k:02d}.dcm", enforce_file_format=True)


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("synthetic") / "CT"
    _write_synthetic_series(folder)
    return folder


SOURCES = [
    pytest.param("synthetic", id="synthetic"),
    pytest.param("aisd", marks=pytest.mark.realdata, id="aisd-ncct"),
    pytest.param("tilt", marks=pytest.mark.realdata, id="ge-gantry-tilt"),
]


@pytest.fixture(params=SOURCES)
def source(request, synthetic_dir) -> tuple[Path, Volume]:
    """(DICOM folder, the volume strokect reads from it)."""
    folder = {
        "synthetic": lambda: synthetic_dir,
        "aisd": lambda: shared_path("aisd", "0019983", "CT"),
        "tilt": lambda: shared_path("dicom", "ge_gantry_tilt"),
    }[request.param]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tilt/spacing correction warnings
        return folder, read_volume(folder)


@pytest.fixture
def hd():
    return pytest.importorskip("highdicom")


def _source_header(folder: Path) -> pydicom.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom: an over-long SH value in the AISD files
        return pydicom.dcmread(sorted(folder.glob("*.dcm"))[0], stop_before_pixels=True)


def _masks(volume: Volume) -> dict[str, Volume]:
    """A thresholded blob (above the mean, below the maximum) and a small sphere."""
    array = volume.array
    blob = (array > array.mean()) & (array < array.max())
    radius_mm = 3 * max(volume.spacing_mm)
    axes = np.ogrid[tuple(slice(0, n) for n in volume.spatial_shape)]
    offsets_mm = [
        (g - n // 2) * s for g, n, s in zip(axes, volume.spatial_shape, volume.spacing_mm)
    ]
    sphere = sum(o**2 for o in offsets_mm) <= radius_mm**2
    return {
        "lesion": volume.with_array(blob.astype(np.uint8)),
        "sphere": volume.with_array(sphere),
    }


# ----------------------------------------------------------------------------- readers
def _read_with_highdicom(hd, path: Path) -> dict[str, Volume]:
    """Each segment via highdicom's reader, converted to strokect's axes: highdicom's volume is
    (slice, row, column) with an affine; its slices may run against the plane normal."""
    seg = hd.seg.segread(path)
    out = {}
    for description in seg.SegmentSequence:
        number = int(description.SegmentNumber)
        volume = seg.get_volume(segment_numbers=[number], combine_segments=False)
        array = volume.array[..., 0]
        slice_v, row_v, col_v = (volume.affine[:3, j] for j in range(3))
        origin = volume.affine[:3, 3]
        if slice_v @ np.cross(col_v, row_v) < 0:  # reorder along the normal, as strokect does
            array, origin, slice_v = array[::-1], origin + (len(array) - 1) * slice_v, -slice_v
        norms = [np.linalg.norm(v) for v in (slice_v, row_v, col_v)]
        out[str(description.SegmentLabel)] = Volume(
            array=array,
            spacing_mm=tuple(norms),
            origin=tuple(origin),
            direction=np.column_stack([col_v / norms[2], row_v / norms[1], slice_v / norms[0]]),
        )
    return out


def _assert_same(got: Volume, expected: Volume, what: str) -> None:
    np.testing.assert_array_equal(got.array, expected.array, err_msg=f"{what}: voxels differ")
    np.testing.assert_allclose(got.spacing_mm, expected.spacing_mm, atol=1e-3, err_msg=what)
    np.testing.assert_allclose(got.origin, expected.origin, atol=1e-3, err_msg=what)
    np.testing.assert_allclose(got.direction, expected.direction, atol=1e-5, err_msg=what)


def _frame_positions(ds: pydicom.Dataset) -> np.ndarray:
    return np.array(
        [
            f.PlanePositionSequence[0].ImagePositionPatient
            for f in ds.PerFrameFunctionalGroupsSequence
        ],
        dtype=float,
    )


# ----------------------------------------------------------------------------- round trips
def test_masks_round_trip_through_highdicom_strokect_and_nifti(source, hd, tmp_path):
    folder, volume = source
    masks = _masks(volume)
    seg_path = write_dicom_seg(masks, folder, tmp_path / "seg.dcm")
    ours, theirs = read_dicom_seg(seg_path), _read_with_highdicom(hd, seg_path)
    assert list(ours) == list(theirs) == ["lesion", "sphere"]
    for name, mask in masks.items():
        nifti = read_volume(write_volume(mask, tmp_path / f"{name}.nii"))
        assert nifti.array.any() and nifti.same_geometry(volume)
        _assert_same(ours[name], nifti, f"read_dicom_seg {name}")
        _assert_same(theirs[name], nifti, f"highdicom {name}")
        assert ours[name].array.dtype == np.uint8 and ours[name].metadata["kind"] == "mask"

    ds, src = pydicom.dcmread(seg_path), _source_header(folder)
    assert ds.Modality == "SEG" and ds.SegmentationType == "BINARY"
    assert ds.SeriesNumber == 9901 and ds.SeriesDescription == "strokect lesion segmentation"
    referenced = ds.ReferencedSeriesSequence[0]
    assert referenced.SeriesInstanceUID == src.SeriesInstanceUID
    assert ds.StudyInstanceUID == src.StudyInstanceUID
    assert ds.FrameOfReferenceUID == src.FrameOfReferenceUID
    n_files = len(list(folder.glob("*.dcm")))
    assert len(referenced.ReferencedInstanceSequence) == n_files
    lesion, sphere = ds.SegmentSequence
    assert (lesion.SegmentLabel, sphere.SegmentLabel) == ("lesion", "sphere")
    assert lesion.SegmentAlgorithmType == "AUTOMATIC" and lesion.SegmentAlgorithmName == "strokect"
    algorithm = lesion.SegmentationAlgorithmIdentificationSequence[0]
    assert (algorithm.AlgorithmName, algorithm.AlgorithmFamilyCodeSequence[0].CodeMeaning) == (
        "strokect",
        "Artificial Intelligence",
    )
    category = lesion.SegmentedPropertyCategoryCodeSequence[0]
    assert (category.CodeValue, category.CodingSchemeDesignator) == ("49755003", "SCT")
    assert lesion.SegmentedPropertyTypeCodeSequence[0].CodeMeaning == "Infarct"
    assert sphere.SegmentedPropertyTypeCodeSequence[0].CodeMeaning == "Lesion"
    # every frame on the mask grid, each slice once per segment (empty frames kept)
    assert ds.NumberOfFrames == 2 * volume.spatial_shape[0]


@pytest.mark.realdata
def test_tilted_series_frames_follow_the_corrected_grid(hd, tmp_path):
    folder = shared_path("dicom", "ge_gantry_tilt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        volume = read_volume(folder)
    assert volume.metadata["gantry_tilt_corrected_deg"] == pytest.approx(18.5, abs=0.1)
    seg_path = write_dicom_seg(_masks(volume), folder, tmp_path / "seg.dcm")
    ds = pydicom.dcmread(seg_path)
    frames = np.unique(np.round(_frame_positions(ds), 4), axis=0)
    n = volume.spatial_shape[0]
    grid = volume.index_to_world(np.column_stack([np.arange(n), np.zeros(n), np.zeros(n)]))
    # the frames are exactly the planes of the corrected orthogonal grid (37, not the 28 files)
    assert len(frames) == len(grid) == 37
    assert np.linalg.norm(frames[:, None] - grid[None], axis=2).min(axis=1).max() < 1e-3
    shared = ds.SharedFunctionalGroupsSequence[0]
    orientation = np.array(shared.PlaneOrientationSequence[0].ImageOrientationPatient, float)
    np.testing.assert_allclose(orientation, volume.direction[:, :2].T.ravel(), atol=1e-5)
    step = shared.PixelMeasuresSequence[0].SpacingBetweenSlices
    assert step == pytest.approx(volume.spacing_mm[0], abs=1e-3)
    # ... and not the tilted source slices: their step leaves the plane normal by 18.5 degrees
    sources = [_header_position(p) for p in sorted(folder.glob("*.dcm"))]
    distances = np.linalg.norm(np.array(sources)[:, None] - frames[None], axis=2).min(axis=1)
    assert np.sum(distances < 0.01) <= 1 and distances.max() > 40  # the grid starts at one slice
    normal = volume.direction[:, 2]
    steps = np.diff(grid, axis=0)
    np.testing.assert_allclose(
        steps / np.linalg.norm(steps, axis=1)[:, None] @ normal, 1, atol=1e-6
    )


def _header_position(path: Path) -> np.ndarray:
    ds = pydicom.dcmread(path, specific_tags=["ImagePositionPatient"])
    return np.array(ds.ImagePositionPatient, dtype=float)


def test_an_empty_mask_is_written_and_read_back_empty(source, hd, tmp_path):
    folder, volume = source
    empty = volume.with_array(np.zeros(volume.spatial_shape, dtype=np.uint8))
    seg_path = write_dicom_seg({"lesion": empty}, folder, tmp_path / "seg.dcm")
    back = read_dicom_seg(seg_path)["lesion"]
    _assert_same(back, empty, "read_dicom_seg")
    _assert_same(_read_with_highdicom(hd, seg_path)["lesion"], empty, "highdicom")
    assert pydicom.dcmread(seg_path).NumberOfFrames == volume.spatial_shape[0]


# ----------------------------------------------------------------------------- identifiers
def _identifying_values(header: pydicom.Dataset) -> dict[str, str]:
    values = {k: str(header.get(k, "")).strip() for k in IDENTITY}
    return {k: v for k, v in values.items() if len(v) >= 3 and v not in ("Unknown", "None")}


def _text_without_uids(ds: pydicom.Dataset) -> str:
    """Every value in the SEG except UIDs (kept on purpose) and the pixel data."""
    return "\n".join(
        str(e.value)
        for e in ds.iterall()
        if e.VR not in ("UI", "SQ", "OB", "OW") and e.tag != 0x7FE00010
    )


@pytest.mark.parametrize("which", SOURCES[:2])
def test_anonymize_blanks_patient_and_study_and_plain_copies_them(
    which, synthetic_dir, hd, tmp_path, caplog
):
    folder = synthetic_dir if which == "synthetic" else shared_path("aisd", "0019983", "CT")
    volume = read_volume(folder)
    masks = {"lesion": volume.with_array(volume.array > np.median(volume.array))}
    src = _source_header(folder)
    with caplog.at_level(logging.DEBUG), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plain = pydicom.dcmread(write_dicom_seg(masks, folder, tmp_path / "plain.dcm"))
        anon = pydicom.dcmread(
            write_dicom_seg(masks, folder, tmp_path / "anon.dcm", anonymize=True)
        )
    # (the identifying values never reach pytest's assertion report: only booleans are asserted)
    for key in COPIED:
        if key in src:
            same = key in plain and plain[key].value == src[key].value
            assert same, f"{key} differs from the source"
    for key in BLANKED:
        blank = str(anon.get(key, "")) == ""
        assert blank, f"{key} is not blank"
    for key in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate"):
        assert key in anon, f"type-2 {key} missing"
    # the source's equipment is not the SEG's: listed as contributing equipment unless anonymized
    assert "InstitutionName" not in plain
    for seg, kept in ((plain, True), (anon, False)):
        acquisition = [
            item
            for item in seg.ContributingEquipmentSequence
            if item.PurposeOfReferenceCodeSequence[0].CodeMeaning == "Acquisition Equipment"
        ]
        assert len(acquisition) == 1 and acquisition[0].Manufacturer == src.Manufacturer
        for key in ("InstitutionName", "StationName", "DeviceSerialNumber"):
            if key in src:
                same = acquisition[0].get(key) == src[key].value
                assert same == kept, f"{key} of the acquisition equipment"
    # UIDs are kept, so the anonymized SEG still references its source
    assert anon.StudyInstanceUID == src.StudyInstanceUID
    assert anon.ReferencedSeriesSequence[0].SeriesInstanceUID == src.SeriesInstanceUID
    # no identifying value anywhere in the anonymized SEG, the log records or warnings
    values = _identifying_values(src)
    if which == "synthetic":
        assert set(values) == set(IDENTITY) - {"PatientSex"}
    text = _text_without_uids(anon)
    said = caplog.text + "\n".join(str(w.message) for w in caught)
    assert "wrote a DICOM-SEG with 1 segment(s)" in caplog.text
    for key, value in values.items():
        left, logged = value in text, value in said
        assert not left, f"{key} left in the anonymized SEG"
        assert not logged, f"{key} in a log record or warning"
    np.testing.assert_array_equal(
        read_dicom_seg(tmp_path / "anon.dcm")["lesion"].array, masks["lesion"].array
    )


# ----------------------------------------------------------------------------- errors
def test_masks_must_share_one_3d_binary_grid(synthetic_dir, tmp_path, hd):
    volume = read_volume(synthetic_dir)
    mask = volume.with_array(np.zeros(volume.spatial_shape, dtype=np.uint8))
    shifted = Volume(mask.array, spacing_mm=mask.spacing_mm, origin=(0.0, 0.0, 0.0))
    out = tmp_path / "seg.dcm"
    with pytest.raises(InputError, match=r"masks\['b'\]: on another grid .* share one grid"):
        write_dicom_seg({"a": mask, "b": shifted}, synthetic_dir, out)
    four_d = Volume(np.zeros((2, *volume.spatial_shape)), spacing_mm=(1, 1, 1), time_s=[0, 1])
    with pytest.raises(InputError, match=r"masks\['a'\]: expected a 3D .* got \(2, 5, 13, 15\)"):
        write_dicom_seg({"a": four_d}, synthetic_dir, out)
    with pytest.raises(InputError, match=r"masks\['a'\]: expected a 3D"):
        write_dicom_seg({"a": mask.array}, synthetic_dir, out)
    with pytest.raises(InputError, match="only 0 and 1"):
        write_dicom_seg({"a": mask.with_array(mask.array + 2)}, synthetic_dir, out)
    with pytest.raises(InputError, match="at least one"):
        write_dicom_seg({}, synthetic_dir, out)
    with pytest.raises(InputError, match="not a DICOM label"):
        write_dicom_seg({"a\\b": mask}, synthetic_dir, out)
    with pytest.raises(FileNotFoundError):
        write_dicom_seg({"a": mask}, tmp_path / "missing", out)
    assert not out.exists() and not list(tmp_path.glob(".tmp-*"))


def test_missing_highdicom_is_one_clear_line(synthetic_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "highdicom", None)  # `import highdicom` now fails
    volume = read_volume(synthetic_dir)
    with pytest.raises(InputError) as err:
        write_dicom_seg(
            {"lesion": volume.with_array(volume.array > 0)}, synthetic_dir, tmp_path / "s.dcm"
        )
    assert str(err.value) == (
        "DICOM-SEG output needs the dicomseg extra: pip install 'strokect[dicomseg]'"
    )


def test_read_dicom_seg_refuses_other_files(synthetic_dir, tmp_path):
    with pytest.raises(InputError, match="not a DICOM Segmentation"):
        read_dicom_seg(next(synthetic_dir.glob("*.dcm")))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="not a DICOM file"):
        read_dicom_seg(tmp_path / "notes.txt")
    with pytest.raises(FileNotFoundError):
        read_dicom_seg(tmp_path / "absent.dcm")


def test_importing_strokect_io_does_not_import_highdicom():
    code = (
        "import sys, strokect.io, strokect.io.dicomseg; "
        "assert 'highdicom' not in sys.modules, 'highdicom imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
