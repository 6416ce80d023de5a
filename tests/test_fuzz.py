"""Fuzzing with a fixed seed: 200 corrupted inputs (random NIfTI header bytes, truncated files,
shuffled or broken DICOM tags) given to ``strokect info`` and ``strokect segment``.

Each run must end with status 0 or 2 (a one-line error), never a traceback, and a failed
``segment`` must leave no output folder behind.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from strokect.cli.main import main
from strokect.io import write_volume
from strokect.methods.checkpoint import save_checkpoint
from strokect.methods.clerigues import CleriguesConfig, CleriguesMethod
from strokect.phantom import synth_case
from tests.io.test_dicom import write_3d_series

N_CASES = 200
_DICOM_TAGS = (
    "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows", "Columns",
    "RescaleSlope", "RescaleIntercept", "SeriesInstanceUID", "SliceThickness", "BitsAllocated",
    "PixelRepresentation", "SOPInstanceUID", "NumberOfFrames", "AcquisitionNumber",
)  # fmt: skip


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    case = synth_case(2, preset="tiny")
    paths = {r: write_volume(case.acute[r], root / f"{r}.nii.gz") for r in ("cbf", "cbv")}
    paths["ct_nii"] = write_volume(case.acute["ct"], root / "ct.nii")
    ct = case.acute["ct"].array
    write_3d_series(
        root / "dicom",
        [3.9 * k for k in range(ct.shape[0])],
        lambda k, p: np.round(ct[k] + 1024).astype(np.int16),
        spacing=(3.9, 3.9),
    )
    paths["dicom"] = root / "dicom"
    cfg = CleriguesConfig(modalities=("ct", "cbf", "cbv"), base_filters=2)
    method = CleriguesMethod(cfg)
    paths["w"] = save_checkpoint(root / "model.pt", method, method.build_networks())
    return paths


def _corrupt_header(src: Path, dest: Path, rng) -> Path:
    data = bytearray(src.read_bytes())
    for _ in range(int(rng.integers(1, 9))):
        data[int(rng.integers(0, 348))] = int(rng.integers(0, 256))
    dest.write_bytes(bytes(data))
    return dest


def _truncate(src: Path, dest: Path, rng, *, gz: bool) -> Path:
    data = src.read_bytes()
    if gz:
        data = gzip.compress(data)
    dest.write_bytes(data[: int(rng.integers(0, len(data)))])
    return dest


def _break_dicom(src: Path, dest: Path, rng) -> Path:
    shutil.copytree(src, dest)
    files = sorted(dest.glob("*.dcm"))
    for path in rng.choice(files, size=int(rng.integers(1, len(files) + 1)), replace=False):
        ds = pydicom.dcmread(path)
        for tag in rng.choice(_DICOM_TAGS, size=int(rng.integers(1, 4)), replace=False):
            action = int(rng.integers(0, 4))
            other = str(rng.choice(_DICOM_TAGS))
            text = str(rng.choice(["0", "-1", "1e9", "nan", "abc", ""]))
            triple = [float(v) for v in rng.normal(0, 100, 3)]
            try:  # pydicom refuses some values for some tags: that mutation is skipped
                if action == 0 and tag in ds:
                    delattr(ds, tag)
                elif action == 1 and other in ds:  # another element's value (shuffled tags)
                    setattr(ds, tag, ds.data_element(other).value)
                elif action == 2:
                    setattr(ds, tag, text)
                elif action == 3:
                    setattr(ds, tag, triple)
            except (TypeError, ValueError, OverflowError):
                pass
        try:
            ds.save_as(path)
        except Exception:  # pydicom refuses to write some values: write raw garbage instead
            path.write_bytes(rng.bytes(200))
    return dest


def _inputs(base: dict, tmp: Path, k: int, rng) -> Path:
    kind = k % 4
    if kind == 0:
        return _corrupt_header(base["ct_nii"], tmp / f"c{k}.nii", rng)
    if kind == 1:
        return _truncate(base["ct_nii"], tmp / f"t{k}.nii", rng, gz=False)
    if kind == 2:
        return _truncate(base["ct_nii"], tmp / f"t{k}.nii.gz", rng, gz=True)
    return _break_dicom(base["dicom"], tmp / f"d{k}", rng)


@pytest.mark.filterwarnings("ignore")
def test_fuzz_info_and_segment(base, tmp_path, capsys):
    rng = np.random.default_rng(2026)
    statuses = {0: 0, 2: 0}
    for k in range(N_CASES):
        path = _inputs(base, tmp_path, k, rng)
        for argv in (
            ["info", str(path)],
            ["segment", "--input", f"ct={path}", "--input", f"cbf={base['cbf']}",
             "--input", f"cbv={base['cbv']}", "-o", str(tmp_path / f"out{k}"),
             "--weights", str(base["w"]), "--quiet", "--no-report"],
        ):  # fmt: skip
            code = main(argv)
            printed = capsys.readouterr()
            assert code in (0, 2), (k, argv[0], printed.err)
            assert "Traceback" not in printed.err
            statuses[code] += 1
            if argv[0] == "segment" and code == 2:
                assert not (tmp_path / f"out{k}").exists(), (k, printed.err)
    print("fuzz exit statuses:", statuses)
    assert statuses[2] > 0 and statuses[0] > 0  # the corruption both breaks and spares inputs
