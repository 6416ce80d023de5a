"""Cohorts of DICOM studies: the series-to-role rule, pseudonymous case ids, DICOM-SEG outputs
equal to the NIfTI masks (AISD NCCT, GE gantry-tilt series), and no patient identifier in any
HTML, PNG, CSV, JSON or NIfTI output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
import torch

from strokect.cli.main import main
from strokect.io import read_volume
from strokect.methods import registry
from strokect.methods.checkpoint import save_checkpoint
from strokect.methods.examples import ToyEndToEnd, ToyEndToEndConfig
from strokect.pipelines.cohort_cases import find_cohort, is_cohort_root
from strokect.pipelines.inputs import is_study_folder
from tests.conftest import shared_path
from tests.io.test_dicom import write_3d_series, write_4d_series
from tests.pipelines.cohort_for_tests import read_rows

#: DICOM attributes that identify the patient or date the study; none may reach an output
IDENTIFYING = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientAge", "StudyDate", "SeriesDate",
    "AcquisitionDate", "ContentDate", "AccessionNumber", "InstitutionName", "StudyID",
)  # fmt: skip


def _fill(k, position):
    return np.full((16, 16), 10 * k, dtype=np.int16)


def test_dicom_study_rule_and_pseudonymous_ids(tmp_path):
    root = tmp_path / "studies"
    write_3d_series(root / "DOE^JOHN_1957" / "ct", [0.0, 5.0, 10.0], _fill)
    write_4d_series(root / "DOE^JOHN_1957" / "perf")
    write_3d_series(root / "ROE^JANE_1960" / "a", [0.0, 5.0], _fill, series_uid="1.2.3.1")
    write_3d_series(root / "ROE^JANE_1960" / "b", [0.0, 5.0], _fill, series_uid="1.2.3.2")
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("not a study")
    assert is_cohort_root(root)
    cases, problems = find_cohort(root)
    assert [c.case_id for c in cases] == ["study-001"]
    assert set(cases[0].inputs.case.images) == {"ct", "ctp"}
    assert all(s.startswith("#") for s in cases[0].inputs.series.values())  # never a UID
    assert [p["case_id"] for p in problems] == ["study-002"]
    assert "ambiguous study: 2 series could be 'ct'" in problems[0]["message"]
    assert "ROE" not in problems[0]["message"]  # the folder name is scrubbed
    cases, _ = find_cohort(root, ct_role="ncct_followup")
    assert set(cases[0].inputs.case.images) == {"ncct_followup", "ctp"}
    # an output folder inside the root (DICOM-SEG files in it) is not a study
    write_3d_series(root / "out" / "study-001", [0.0, 5.0], _fill)
    assert len(find_cohort(root)[0]) == 2
    assert [c.case_id for c in find_cohort(root, exclude=root / "out")[0]] == ["study-001"]


@pytest.fixture
def toy_ncct_model(monkeypatch, tmp_path):
    monkeypatch.setitem(registry.METHODS, "toy-end-to-end", "strokect.methods.examples:ToyEndToEnd")
    torch.manual_seed(1)
    method = ToyEndToEnd(ToyEndToEndConfig(threshold=0.45))
    return save_checkpoint(tmp_path / "model.pt", method, method.build_networks())


def _identifiers(folder: Path) -> dict[str, str]:
    """Identifying attribute -> value (8+ characters, or the age) of a DICOM study folder."""
    ds = pydicom.dcmread(next(p for p in sorted(folder.rglob("*.dcm"))), stop_before_pixels=True)
    found = {}
    for key in IDENTIFYING:
        value = str(ds.get(key, "") or "").strip()
        if len(value) >= 4:
            found[key] = value
    return found


def _text_of(path: Path) -> bytes:
    """What a file says besides pixel values: the text of CSV/JSON/HTML (embedded images
    removed: base64 may spell anything), a PNG's metadata chunks, a NIfTI header and extensions
    (voxel bytes are numbers, and 4 random bytes can spell a short identifier)."""
    import re

    import nibabel as nib
    from PIL import Image

    if path.suffix == ".png":
        return repr(Image.open(path).info).encode()
    if path.name.endswith((".nii", ".nii.gz")):
        img = nib.load(path)
        return img.header.binaryblock + b"".join(e.get_content() for e in img.header.extensions)
    data = path.read_bytes()
    return re.sub(rb"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", b"", data)


@pytest.mark.realdata
def test_aisd_and_tilted_series_dicom_seg_equal_nifti_and_no_identifiers(
    toy_ncct_model, tmp_path, capsys
):
    aisd = shared_path("aisd", "0019983")
    tilt = shared_path("dicom", "ge_gantry_tilt")
    root = tmp_path / "studies"
    root.mkdir()
    (root / aisd.name).symlink_to(aisd, target_is_directory=True)
    (root / "ge").symlink_to(tilt, target_is_directory=True)
    assert is_cohort_root(root) and not is_cohort_root(aisd) and is_study_folder(aisd)
    secrets = {**_identifiers(aisd), "folder": aisd.name}
    assert {"PatientAge", "StudyDate", "folder"} <= set(secrets)
    out = tmp_path / "out"
    args = ["segment", str(root), "-o", str(out), "--method", "toy-end-to-end", "--weights",
            str(toy_ncct_model), "--ct-role", "ncct", "--output-format", "both", "--quiet"]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["study-001", "study-002"]
    hd = pytest.importorskip("highdicom")
    from strokect.io.dicomseg import read_dicom_seg

    for study, source in (("study-001", aisd / "CT"), ("study-002", tilt)):
        seg_path = out / study / "segmentation.dcm"
        nifti = read_volume(out / study / "mask.nii.gz")
        assert nifti.array.any(), f"{study}: the toy model found nothing to compare"
        ours = read_dicom_seg(seg_path)["mask"]
        assert np.array_equal(ours.array, nifti.array)
        np.testing.assert_allclose(ours.origin, nifti.origin, atol=1e-3)
        np.testing.assert_allclose(ours.spacing_mm, nifti.spacing_mm, atol=1e-3)
        seg = hd.seg.segread(seg_path)
        ref_uid = seg.ReferencedSeriesSequence[0].SeriesInstanceUID
        source_uid = pydicom.dcmread(next(source.glob("*.dcm")), stop_before_pixels=True)
        assert ref_uid == source_uid.SeriesInstanceUID
        assert seg.NumberOfFrames == nifti.array.shape[0]  # one frame per plane of the grid
        frames = seg.pixel_array.reshape(nifti.array.shape)  # frames in plane order
        positions = [
            float(f.PlanePositionSequence[0].ImagePositionPatient[2])
            for f in seg.PerFrameFunctionalGroupsSequence
        ]
        order = np.argsort(positions) if nifti.direction[2, 2] > 0 else np.argsort(positions)[::-1]
        assert np.array_equal(frames[order], nifti.array)
        # the DICOM-SEG carries the patient module (as the standard requires) ...
        assert seg.PatientID == pydicom.dcmread(next(source.glob("*.dcm"))).PatientID, study
    # ... and nothing else does: grep every other output for the identifiers
    for path in out.rglob("*"):
        if not path.is_file() or path.suffix == ".dcm":
            continue
        data = _text_of(path)
        for key, value in secrets.items():
            assert value.encode() not in data, f"{key} found in {path.relative_to(out)}"
    # one study folder (its CT and DWI series in sub-folders) is one case, not a cohort;
    # --anonymize blanks the patient and study identifiers in the DICOM-SEG (UIDs are kept to
    # reference the source series; docs/io_dicom.md)
    anon = tmp_path / "anon"
    args[1], args[3] = str(root / aisd.name), str(anon)
    assert main([*args, "--anonymize", "--no-report"]) == 0
    seg = pydicom.dcmread(anon / "segmentation.dcm")
    assert seg.PatientID == "" and str(seg.PatientName) == ""
    for element in seg.iterall():
        if element.VR in ("UI", "OB", "OW", "SQ"):
            continue
        text = str(element.value)
        for key, value in secrets.items():
            assert value not in text, f"{key} in the anonymized DICOM-SEG ({element.keyword})"
    prov = json.loads((anon / "provenance.json").read_text())
    assert prov["case_id"] == "study" and prov["inputs"]["ncct"]["source"] == "DICOM series"
    assert prov["outputs"]["mask"]["dicom_seg"] == "segmentation.dcm"


def test_evaluate_refuses_a_mask_written_only_as_dicom_seg(tmp_path):
    from strokect.errors import InputError
    from strokect.pipelines.evaluate import read_segment_outputs

    case = tmp_path / "study-001"
    case.mkdir()
    prov = {
        "primary_output": "mask",
        "outputs": {"mask": {"kind": "mask", "file": None, "dicom_seg": "segmentation.dcm"}},
    }
    (case / "provenance.json").write_text(json.dumps(prov))
    with pytest.raises(InputError, match=r"only as a DICOM-SEG .* --output-format both"):
        read_segment_outputs(tmp_path)


def _write_ctp_dicom(folder: Path, ctp, *, series_number: int) -> None:
    """A 4D CTP `Volume` as one DICOM file per frame and slice (axial, identity direction)."""
    from pydicom.uid import generate_uid

    from tests.io.test_dicom import write_slice

    folder.mkdir(parents=True)
    uid = generate_uid()
    dz, dy, dx = ctp.spacing_mm
    for t in range(ctp.array.shape[0]):
        for k in range(ctp.array.shape[1]):
            write_slice(
                folder / f"t{t:03d}_z{k:02d}.dcm",
                (ctp.array[t, k].astype(np.int32) + 1024).astype(np.int16),
                position=np.asarray(ctp.origin) + np.array([0.0, 0.0, dz * k]),
                series_uid=uid,
                spacing=(dy, dx),
                series_number=series_number,
                acquisition_number=t + 1,
                time_s=43200.0 + float(ctp.time_s[t]),
                instance=t * ctp.array.shape[1] + k + 1,
            )


def test_perfusion_over_dicom_studies_picks_the_4d_series(tmp_path):
    from strokect.phantom import synth_case

    root = tmp_path / "studies"
    cases = {
        "A^PATIENT": synth_case(0, "tiny", kind="ischemic"),
        "B^PATIENT": synth_case(1, "tiny"),
    }
    for name, case in cases.items():
        _write_ctp_dicom(root / name / "perf", case.acute["ctp"], series_number=4)
    first = cases["A^PATIENT"].acute["ctp"]  # study A also holds a 3D CT series
    write_3d_series(root / "A^PATIENT" / "ct", [first.origin[2] + 5.0 * k for k in range(3)], _fill)
    for name in cases:  # one StudyInstanceUID per study, as scanners write
        study_uid = pydicom.uid.generate_uid()
        for path in (root / name).rglob("*.dcm"):
            ds = pydicom.dcmread(path)
            ds.StudyInstanceUID = study_uid
            ds.save_as(path)
    out = tmp_path / "out"
    assert main(["perfusion", str(root), "-o", str(out), "--no-report", "--quiet"]) == 0
    rows = read_rows(out / "readout.csv")
    assert [r["case_id"] for r in rows] == ["study-001", "study-002"]
    one = tmp_path / "one"  # a study folder alone: its 4D series is found by the same rule
    assert main(["perfusion", str(root / "A^PATIENT"), "-o", str(one), "--no-report"]) == 0
    single = json.loads((one / "perfusion.json").read_text())["readout"]
    assert float(rows[0]["core_ml"]) == pytest.approx(single["core_ml"]) and single["core_ml"] > 0
    for path in out.rglob("*.json"):
        assert "PATIENT" not in path.read_text(), path.name
