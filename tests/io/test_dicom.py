"""Tests of the DICOM reader: synthetic series written here with pydicom, plus the real scans."""

from __future__ import annotations

import logging
import random
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from scipy import ndimage

from strokect.errors import InputError, StrokectWarning
from strokect.io import read_volume
from strokect.io.dicom import list_dicom_series, read_dicom
from strokect.io.dicom_frames import unwrap_midnight

# ----------------------------------------------------------------------------- synthetic writer
ROW = np.array([1.0, 0.0, 0.0])
COL = np.array([0.0, 1.0, 0.0])


def _tm(seconds: float) -> str:
    seconds = seconds % 86400.0
    h, rem = divmod(seconds, 3600.0)
    m, s = divmod(rem, 60.0)
    return f"{int(h):02d}{int(m):02d}{s:09.6f}"


def write_slice(
    path: Path,
    raw: np.ndarray,
    *,
    position,
    series_uid: str,
    row=ROW,
    col=COL,
    spacing=(0.5, 0.5),
    slope=1.0,
    intercept=-1024.0,
    series_number=3,
    acquisition_number=None,
    time_s=None,
    instance=1,
    description="synthetic",
) -> None:
    """One CT slice (explicit VR little endian, signed 16 bit) with the given geometry."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "PID-778899"
    ds.Modality = "CT"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = description
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*row, *col)]
    ds.PixelSpacing = [str(spacing[0]), str(spacing[1])]
    ds.SliceThickness = "1"
    ds.RescaleSlope = repr(float(slope))
    ds.RescaleIntercept = repr(float(intercept))
    if acquisition_number is not None:
        ds.AcquisitionNumber = acquisition_number
    if time_s is not None:
        ds.AcquisitionTime = _tm(time_s)
    ds.Rows, ds.Columns = raw.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.PixelData = raw.astype("<i2").tobytes()
    ds.save_as(path, enforce_file_format=True)


def write_4d_series(folder: Path, *, n_pos=6, n_t=5, size=16, t0_s=43200.0, dt_s=2.0, seed=0):
    """``n_pos`` positions x ``n_t`` time points, files in shuffled order; HU = 10 t + pos + j."""
    folder.mkdir(parents=True, exist_ok=True)
    uid = generate_uid()
    jj = np.broadcast_to(np.arange(size), (size, size))
    jobs = [(t, k) for t in range(n_t) for k in range(n_pos)]
    random.Random(seed).shuffle(jobs)
    for n, (t, k) in enumerate(jobs):
        hu = 10 * t + k + jj
        write_slice(
            folder / f"img{n:03d}.dcm",
            (hu + 1024).astype(np.int16),
            position=(-4.0, -4.0, 10.0 + 5.0 * k),
            series_uid=uid,
            acquisition_number=t + 1,
            time_s=t0_s + dt_s * t,
            instance=n + 1,
        )
    return uid


def write_3d_series(folder: Path, z_mm, values, *, row=ROW, col=COL, step_col_mm=0.0, **kw):
    """Axial slices at ``z_mm`` (world z), each filled from ``values(k, position)``."""
    folder.mkdir(parents=True, exist_ok=True)
    uid = kw.pop("series_uid", generate_uid())
    for k, z in enumerate(z_mm):
        position = np.array([-8.0, -8.0, z]) + step_col_mm * k * np.asarray(col)
        write_slice(
            folder / f"s{k:03d}.dcm",
            values(k, position),
            position=position,
            series_uid=uid,
            row=row,
            col=col,
            instance=k + 1,
            **kw,
        )
    return uid


# ----------------------------------------------------------------------------- 4D
def test_4d_series_grouped_into_frames_not_stacked(tmp_path):
    write_4d_series(tmp_path / "ctp")
    with warnings.catch_warnings():
        warnings.simplefilter("error", StrokectWarning)
        vol = read_volume(tmp_path / "ctp")
    assert vol.array.shape == (5, 6, 16, 16)
    np.testing.assert_allclose(vol.time_s, [0.0, 2.0, 4.0, 6.0, 8.0])
    t, k, j = np.meshgrid(np.arange(5), np.arange(6), np.arange(16), indexing="ij")
    expected = 10 * t + k + j
    np.testing.assert_array_equal(vol.array[:, :, 7, :], expected)
    assert vol.spacing_mm == (5.0, 0.5, 0.5)
    np.testing.assert_allclose(vol.origin, (-4.0, -4.0, 10.0))
    np.testing.assert_allclose(vol.direction, np.eye(3))
    np.testing.assert_allclose(vol.index_to_world([5, 2, 3]), (-2.5, -3.0, 35.0))
    assert vol.metadata["n_frames"] == 5
    # SimpleITK's series reader stacks the 30 files into one 3D volume: the bug we avoid.
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path / "ctp")))
    stacked = reader.Execute()
    assert stacked.GetDimension() == 3 and stacked.GetSize()[2] == 30


def test_4d_times_only_and_midnight_crossing(tmp_path):
    folder = tmp_path / "ctp"
    write_4d_series(folder, n_pos=3, n_t=4, size=8, t0_s=86400.0 - 3.0, dt_s=2.0)
    for f in folder.iterdir():  # group by time alone
        ds = pydicom.dcmread(f)
        del ds.AcquisitionNumber
        ds.save_as(f)
    vol = read_dicom(folder)
    assert vol.array.shape == (4, 3, 8, 8)
    np.testing.assert_allclose(vol.time_s, [0.0, 2.0, 4.0, 6.0], atol=1e-4)
    assert vol.array[3, 2, 0, 0] == 32
    assert vol.metadata["time_source"] == "AcquisitionTime"


def test_4d_per_slice_times_grouped_by_rank(tmp_path):
    """Sequential scanning: every file has its own time and no acquisition number."""
    folder = tmp_path / "ctp"
    write_4d_series(folder, n_pos=3, n_t=4, size=8, t0_s=1000.0, dt_s=3.0)
    for f in folder.iterdir():
        ds = pydicom.dcmread(f)
        k = round((float(ds.ImagePositionPatient[2]) - 10.0) / 5.0)
        t = ds.AcquisitionNumber - 1
        del ds.AcquisitionNumber, ds.AcquisitionTime
        ds.TriggerTime = str(3000.0 * t + 100.0 * k)  # ms; slices 0.1 s apart within a frame
        ds.save_as(f)
    vol = read_dicom(folder)
    assert vol.array.shape == (4, 3, 8, 8)
    np.testing.assert_allclose(vol.time_s, [0.0, 3.0, 6.0, 9.0], atol=1e-6)
    np.testing.assert_array_equal(vol.array[:, :, 0, 0], 10 * np.arange(4)[:, None] + np.arange(3))
    assert vol.metadata["frame_grouping"] == "rank by TriggerTime"
    assert vol.metadata["time_source"] == "TriggerTime"


def test_localizer_in_series_dropped_with_warning(tmp_path):
    uid = write_3d_series(tmp_path, [0.0, 2.0, 4.0], lambda k, p: np.zeros((4, 4)) + 1024)
    write_slice(
        tmp_path / "scout.dcm",
        np.zeros((4, 4), np.int16),
        position=(0.0, 0.0, 0.0),
        series_uid=uid,
        row=np.array([1.0, 0.0, 0.0]),
        col=np.array([0.0, 0.0, -1.0]),
    )
    with pytest.warns(StrokectWarning, match="skipped 1 files with another slice orientation"):
        vol = read_dicom(tmp_path)
    assert vol.array.shape == (3, 4, 4)


def test_duplicate_series_numbers_need_index(tmp_path):
    write_3d_series(tmp_path / "a", [0.0, 1.0], lambda k, p: np.zeros((4, 4)) + 1024)
    write_3d_series(tmp_path / "b", [0.0, 1.0], lambda k, p: np.zeros((4, 4)) + 1024)
    with pytest.raises(InputError, match="several series have SeriesNumber 3"):
        read_dicom(tmp_path, series="3")
    assert read_dicom(tmp_path, series="#1").array.shape == (2, 4, 4)


def test_unwrap_midnight():
    np.testing.assert_allclose(unwrap_midnight([86398.0, 86399.5, 1.0]), [86398, 86399.5, 86401])
    np.testing.assert_allclose(unwrap_midnight([100.0, 50.0]), [100.0, 50.0])


def test_4d_frames_with_different_positions_refused(tmp_path):
    folder = tmp_path / "ctp"
    write_4d_series(folder, n_pos=4, n_t=3, size=8)
    victim = next(f for f in sorted(folder.iterdir()) if pydicom.dcmread(f).AcquisitionNumber == 2)
    victim.unlink()
    with pytest.raises(InputError, match="different position sets"):
        read_dicom(folder)


def test_list_series_guesses_frames(tmp_path):
    write_4d_series(tmp_path / "ctp", n_pos=6, n_t=5, size=8)
    (tmp_path / "ctp" / "LICENSE.txt").write_text("not dicom")
    (info,) = list_dicom_series(tmp_path)
    assert (info.n_files, info.n_positions, info.n_frames_guess) == (30, 6, 5)
    assert (info.rows, info.cols, info.number, info.modality) == (8, 8, 3, "CT")
    assert info.uid not in repr(info)


# ----------------------------------------------------------------------------- 3D synthetic
@pytest.mark.parametrize(
    ("slope", "intercept", "dtype"),
    [(1.0, -1024.0, np.int16), (2.0, -1000.0, np.int16), (0.5, -1024.0, np.float32)],
)
def test_rescale_applied(tmp_path, slope, intercept, dtype):
    raw = np.arange(64, dtype=np.int16).reshape(8, 8) + 1000
    # slices written in reverse z order on purpose: the reader must sort by position
    write_3d_series(
        tmp_path, [6.0, 3.0, 0.0], lambda k, p: raw + k, slope=slope, intercept=intercept
    )
    vol = read_dicom(tmp_path)
    assert vol.array.dtype == dtype
    assert vol.spacing_mm == (3.0, 0.5, 0.5)
    np.testing.assert_allclose(vol.origin, (-8.0, -8.0, 0.0))
    for z_index, k in enumerate([2, 1, 0]):
        np.testing.assert_allclose(vol.array[z_index], (raw + k) * slope + intercept)


def _world_linear(position, row, col, shape=(40, 10), spacing=(0.5, 0.5)):
    """HU a linear function of world position, 2 x + 3 y + 5 z, rounded to 1/4 HU."""
    ii, jj = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    world = position + jj[..., None] * spacing[1] * row + ii[..., None] * spacing[0] * col
    hu = world @ np.array([2.0, 3.0, 5.0])
    return np.round(hu * 4) / 4


def test_irregular_spacing_keeps_every_slice(tmp_path):
    """14 slices with steps alternating 9.0 / 8.865 mm (a real series): 14 planes from the first
    to the last slice, the top slice kept (it was lost when the grid used the median step)."""
    steps = [9.0 if k % 2 == 0 else 8.865 for k in range(13)]
    z_mm = np.concatenate([[0.0], np.cumsum(steps)])
    write_3d_series(tmp_path, z_mm, lambda k, p: np.full((4, 4), 1024 + 10 * k))
    with pytest.warns(StrokectWarning, match=r"14 acquired slices resampled .* \(none dropped\)"):
        vol = read_dicom(tmp_path)
    assert vol.array.shape == (14, 4, 4)
    assert vol.spacing_mm[0] == pytest.approx(z_mm[-1] / 13)
    assert vol.array[0, 0, 0] == pytest.approx(0) and vol.array[-1, 0, 0] == pytest.approx(130)
    world_z = vol.index_to_world(np.array([[13, 0, 0]]))[0, 2]
    assert world_z == pytest.approx(z_mm[-1])  # the last plane is the last acquired slice


def test_missing_slice_is_an_error_unless_interpolation_is_asked(tmp_path):
    z_mm = [0.0, 2.0, 4.0, 8.0, 10.0, 12.0]  # steps 2, 2, 4, 2, 2: the slice at 6 mm is missing
    write_3d_series(tmp_path, z_mm, lambda k, p: np.full((4, 4), 1024 + 10 * z_mm[k]))
    with pytest.raises(InputError, match=r"missing between 4\.00 and 8\.00 mm along the slice"):
        read_dicom(tmp_path)
    with pytest.warns(StrokectWarning, match="planes at 6 mm are interpolated"):
        vol = read_volume(tmp_path, allow_slice_gaps=True)
    assert vol.array.shape == (7, 4, 4)
    assert vol.spacing_mm[0] == pytest.approx(2.0)
    np.testing.assert_allclose(vol.array[:, 0, 0], [0, 20, 40, 60, 80, 100, 120], atol=1e-4)
    assert vol.metadata["interpolated_slices_mm"] == [6.0]


def test_two_blocks_of_different_steps_are_not_gaps():
    from strokect.io.dicom_geometry import find_gaps

    two_blocks = np.concatenate([np.arange(14) * 4.0, 52.0 + 1.08 + np.arange(14) * 7.0])
    assert find_gaps(two_blocks) == []
    assert find_gaps(np.array([0.0, 5, 10, 20, 25, 30])) == [(10.0, 20.0, 5.0)]
    assert find_gaps(np.array([0.0, 5, 10, 15, 30])) == [(15.0, 30.0, 5.0)]  # at the end too


def test_gantry_tilt_corrected_to_true_world_positions(tmp_path):
    tilt = np.radians(20.0)
    col = np.array([0.0, np.cos(tilt), -np.sin(tilt)])
    normal = np.cross(ROW, col)
    z_mm = [0.0, 3.0, 6.0, 10.0, 13.0]  # table positions (world z), irregular too

    positions = []

    def values(k, position):
        positions.append(position)
        return np.round(_world_linear(position, ROW, col) + 1024).astype(np.int16)

    write_3d_series(tmp_path, z_mm, values, col=col, intercept=-1024.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vol = read_dicom(tmp_path)
    messages = " ".join(str(w.message) for w in caught)
    assert "gantry tilt of 20.0 degrees" in messages and "irregular" in messages
    np.testing.assert_allclose(vol.direction[:, 2], normal, atol=1e-6)
    np.testing.assert_allclose(vol.direction[:, 1], col, atol=1e-6)
    # oracle: voxels whose world position projects inside every input slice (and between the
    # first and last slice planes) must hold the linear function of that world position
    zyx = np.argwhere(np.ones(vol.spatial_shape, bool))
    world = vol.index_to_world(zyx)
    inside = np.ones(len(zyx), bool)
    for p in positions:
        i = (world - p) @ col / 0.5
        j = (world - p) @ ROW / 0.5
        inside &= (i >= 0) & (i <= 39) & (j >= 0) & (j <= 9)
    dist = world @ normal
    inside &= (dist >= positions[0] @ normal - 1e-6) & (dist <= positions[-1] @ normal + 1e-6)
    assert inside.sum() > 200
    expected = world[inside] @ np.array([2.0, 3.0, 5.0])
    got = vol.array[tuple(zyx[inside].T)]
    np.testing.assert_allclose(got, expected, atol=0.75)  # written values rounded to 1 HU
    assert vol.array.min() == pytest.approx(-1024.0)  # outside the slices: air


# ----------------------------------------------------------------------------- series selection
def test_several_series_listed_and_selectable(tmp_path):
    uid_a = write_3d_series(tmp_path / "a", [0.0, 1.0], lambda k, p: np.zeros((4, 4)) + 1024)
    uid_b = write_3d_series(
        tmp_path / "b", [0.0, 1.0, 2.0], lambda k, p: np.zeros((6, 6)) + 1100, series_number=7
    )
    with pytest.raises(InputError) as err:
        read_dicom(tmp_path)
    message = str(err.value)
    assert "2 DICOM series" in message and "series=" in message
    assert "[0] #3 'synthetic' CT, 2 files, 4x4" in message
    assert "[1] #7 'synthetic' CT, 3 files, 6x6" in message
    assert read_dicom(tmp_path, series="7").array.shape == (3, 6, 6)
    assert read_dicom(tmp_path, series="#0").array.shape == (2, 4, 4)
    assert read_dicom(tmp_path, series=1).array[0, 0, 0] == 76
    assert read_dicom(tmp_path, series=uid_a).array.shape == (2, 4, 4)
    assert read_volume(tmp_path, series=uid_b).array.shape == (3, 6, 6)
    with pytest.raises(InputError, match="no DICOM series matches"):
        read_dicom(tmp_path, series="nope")
    with pytest.raises(InputError, match="out of range"):
        read_dicom(tmp_path, series="#5")


def test_not_dicom_and_empty_folders(tmp_path):
    with pytest.raises(InputError, match="no DICOM image"):
        read_dicom(tmp_path)
    (tmp_path / "LICENSE.txt").write_text("Open Database License")
    (tmp_path / "DICOMDIR").write_bytes(b"\0" * 200)
    with pytest.raises(InputError, match="no DICOM image"):
        read_volume(tmp_path)
    with pytest.raises(FileNotFoundError):
        read_dicom(tmp_path / "missing")
    with pytest.raises(InputError, match="expected a folder"):
        read_dicom(tmp_path / "LICENSE.txt")
    write_3d_series(tmp_path / "s", [0.0, 2.0], lambda k, p: np.zeros((4, 4)) + 1024)
    assert read_dicom(tmp_path).array.shape == (2, 4, 4)  # the txt and DICOMDIR are ignored


# ----------------------------------------------------------------------------- real scans
def _head_landmarks(vol):
    """Centroid, min and max corner (LPS world mm) of the largest region above -300 HU (the head)."""
    labels, _ = ndimage.label(np.asarray(vol.array) > -300)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    mask = labels == sizes.argmax()
    centroid = vol.index_to_world(np.array(ndimage.center_of_mass(mask)))
    edge = vol.index_to_world(np.argwhere(mask & ~ndimage.binary_erosion(mask)))
    return centroid, edge.min(0), edge.max(0)


def _dcm2niix(folder: Path, out: Path) -> list[Path]:
    exe = shutil.which("dcm2niix") or str(Path(sys.executable).with_name("dcm2niix"))
    if not Path(exe).exists():
        pytest.skip("dcm2niix binary not installed")
    out.mkdir()
    cmd = [exe, "-z", "n", "-b", "n", "-f", "out", "-o", str(out), str(folder)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return sorted(out.glob("*.nii"))


@pytest.mark.realdata
def test_gantry_tilt_series_matches_dcm2niix(gantry_tilt_dir, tmp_path):
    with pytest.warns(StrokectWarning) as caught:
        ours = read_volume(gantry_tilt_dir)
    messages = " ".join(str(w.message) for w in caught)
    assert "gantry tilt of 18.5 degrees" in messages and "irregular slice spacing" in messages
    # orthogonal grid whose slice axis is the image-plane normal, uniform median step
    np.testing.assert_allclose(ours.direction.T @ ours.direction, np.eye(3), atol=1e-6)
    tilt = np.radians(18.5)
    np.testing.assert_allclose(ours.direction[:, 2], [0, np.sin(tilt), np.cos(tilt)], atol=2e-3)
    # 14 slices 4.0 mm apart then 14 slices 7.0 mm apart (two blocks, no gap): 37 planes from
    # the first to the last slice, none dropped
    assert ours.array.shape[0] == 37
    assert ours.spacing_mm == pytest.approx((4.0028, 0.48828, 0.48828), abs=1e-3)
    assert ours.metadata["gantry_tilt_corrected_deg"] == pytest.approx(18.5, abs=0.1)

    niftis = _dcm2niix(gantry_tilt_dir, tmp_path / "d2n")
    tilt_corrected = read_volume(next(p for p in niftis if "Tilt" in p.name))
    uncorrected = read_volume(
        next(p for p in niftis if "Tilt" not in p.name and "Eq" not in p.name)
    )
    voxel_mm = max(ours.spacing_mm)  # 1 voxel: the coarsest axis (4 mm)
    head = _head_landmarks(ours)
    reference = _head_landmarks(tilt_corrected)
    for ours_mm, reference_mm in zip(head, reference):  # centroid, min corner, max corner
        np.testing.assert_allclose(ours_mm, reference_mm, atol=voxel_mm)
    # the check is sensitive: the stack without tilt/spacing correction is far off in z
    assert abs(_head_landmarks(uncorrected)[0][2] - head[0][2]) > 3 * voxel_mm


@pytest.mark.realdata
def test_aisd_ncct_hounsfield_and_spacing(aisd_ct_dir):
    vol = read_volume(aisd_ct_dir)
    assert vol.array.shape == (17, 512, 512) and vol.array.dtype == np.int16
    assert vol.spacing_mm == pytest.approx((8.0, 0.4375, 0.4375))
    np.testing.assert_allclose(vol.direction, np.eye(3))
    np.testing.assert_allclose(vol.origin, (-111.78125, -309.78125, 6.16))
    assert -1024 <= np.median(vol.array[:, :20, :20]) <= -950  # air
    for k in range(8, 13):  # central brain, mid-cranium slices
        assert 20 <= np.median(vol.array[k, 216:296, 216:296]) <= 50
    assert vol.metadata["modality"] == "CT" and vol.metadata["source"] == "dicom"


@pytest.mark.realdata
def test_aisd_two_series_in_one_folder(aisd_ct_dir, tmp_path):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for path in [*aisd_ct_dir.glob("*.dcm"), *aisd_ct_dir.parent.joinpath("DWI").glob("*.dcm")]:
        shutil.copy(path, mixed / path.name)
    infos = list_dicom_series(mixed)
    assert [(i.number, i.modality, i.n_files, i.rows) for i in infos] == [
        (2, "CT", 17, 512),
        (9, "MR", 18, 160),
    ]
    with pytest.raises(InputError, match="holds 2 DICOM series") as err:
        read_volume(mixed)
    assert "#2 'Head 8.0 J30s 3' CT, 17 files, 512x512" in str(err.value)
    assert "#9 'ep2d_diff_3scan_trace_p2_TRACEW' MR, 18 files, 160x160" in str(err.value)
    assert read_volume(mixed, series="9").array.shape == (18, 160, 160)
    assert read_volume(mixed, series="#0").array.shape == (17, 512, 512)


_IDENTIFYING = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientAge", "PatientSex",
    "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "StudyTime", "SeriesTime",
    "AcquisitionTime", "ContentTime", "AccessionNumber", "InstitutionName", "StudyID",
    "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID",
    "DeviceSerialNumber",
)  # fmt: skip


@pytest.mark.realdata
def test_no_patient_identifiers_leak(aisd_ct_dir, tmp_path, caplog):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom: an over-long SH value in this file
        header = pydicom.dcmread(next(aisd_ct_dir.glob("*.dcm")), stop_before_pixels=True)
        values = {k: str(header.get(k, "")).strip() for k in _IDENTIFYING}
    values = {k: v for k, v in values.items() if v not in ("", "None", "Unknown")}
    assert {"PatientAge", "PatientSex", "StudyDate", "PatientID"} <= set(values)  # kept by AISD
    neutral = tmp_path / "case"  # a folder name free of identifiers, since errors echo the path
    shutil.copytree(aisd_ct_dir, neutral / "CT")
    shutil.copytree(aisd_ct_dir.parent / "DWI", neutral / "DWI")
    with caplog.at_level(logging.DEBUG), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vol = read_volume(neutral / "CT")
        listing = list_dicom_series(neutral)
        with pytest.raises(InputError) as err:
            read_volume(neutral)
    blob = "\n".join(
        [repr(vol), repr(vol.metadata), repr(listing), str(err.value), caplog.text]
        + [str(w.message) for w in caught]
    )
    assert "reading DICOM series #2" in caplog.text  # the log was captured
    for key, value in values.items():
        if len(value) >= 3:
            assert value not in blob, key
        else:  # short codes such as sex 'F': as a separate token
            assert not re.search(rf"(?<![\w.]){re.escape(value)}(?![\w.])", blob), key
    assert not any("patient" in str(k).lower() or "date" in str(k).lower() for k in vol.metadata)


def test_shift_axis_matches_scipy():
    from strokect.io.dicom_geometry import shift_axis

    image = np.random.default_rng(0).normal(size=(20, 15)).astype(np.float32)
    for axis, shift, n_out in [(0, 3.3, 26), (1, -2.75, 15), (0, 0.0, 22)]:
        ours = shift_axis(image, shift, n_out, axis, -5.0)
        offset = [0.0, 0.0]
        offset[axis] = -shift
        out_shape = list(image.shape)
        out_shape[axis] = n_out
        reference = ndimage.affine_transform(
            image, np.ones(2), offset=offset, output_shape=out_shape, order=1, cval=-5.0
        )
        np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_duplicate_file_is_reported_as_a_duplicate(tmp_path):
    write_3d_series(tmp_path, [0.0, 5.0, 10.0], lambda k, p: np.full((4, 4), 1024 + k))
    shutil.copy(tmp_path / "s001.dcm", tmp_path / "copy_of_s001.dcm")
    with pytest.warns(
        StrokectWarning, match=r"1 duplicate file\(s\) ignored: s001.dcm \(= copy_of"
    ):
        vol = read_dicom(tmp_path)
    assert vol.array.shape == (3, 4, 4) and not vol.metadata.get("n_frames")
