"""The catalogue of bad and awkward inputs: one row per case, every command of the CLI.

Each row: an id, the command line (``{name}`` placeholders are files made by the ``files``
fixture, ``{out}`` a fresh output path), the expected exit status, a fragment of what must be
printed (stderr for errors), and the paths that must exist / must not exist afterwards. A user
error must be one ``error:`` line (or click's usage message) with status 2 and leave nothing
behind; nothing that existed before may be changed. Everything runs on a tiny phantom case and a
random-weight model, and fails before any prediction where it can.
"""

from __future__ import annotations

import pickle
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch

from strokect.cli.main import main
from strokect.io import Volume, write_volume
from strokect.methods.checkpoint import save_checkpoint
from strokect.methods.clerigues import CleriguesConfig, CleriguesMethod
from strokect.methods.examples import ToyEndToEnd
from strokect.phantom import synth_case
from tests.io.test_dicom import write_3d_series


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Every input a row may name, made once."""
    root = tmp_path_factory.mktemp("catalogue")
    case = synth_case(3, preset="tiny")
    a = case.acute
    f = {}
    good = root / "case"
    for role in ("ct", "cbf", "cbv"):
        f[role] = write_volume(a[role], good / f"{role}.nii.gz")
    f["case"] = good
    f["ctp"] = write_volume(a["ctp"], root / "ctp.nii.gz")
    flat = np.repeat(a["ctp"].array[:1], a["ctp"].n_frames, axis=0)
    f["ctp_flat"] = write_volume(a["ctp"].with_array(flat), root / "ctp_flat.nii.gz")
    f["zero"] = write_volume(
        a["cbf"].with_array(np.zeros(a["cbf"].spatial_shape)), root / "z.nii.gz"
    )
    nan = a["cbf"].array.astype(np.float32).copy()
    nan[0, 0, 0] = np.nan
    f["nan"] = root / "nan.nii.gz"
    import nibabel as nib

    nib.save(nib.Nifti1Image(nan.T, np.eye(4)), str(f["nan"]))
    shifted = Volume(a["cbf"].array, a["cbf"].spacing_mm, origin=(0.0, 30.0, 0.0))
    f["shifted"] = write_volume(shifted, root / "shifted.nii.gz")
    f["empty_file"] = root / "empty.nii.gz"
    f["empty_file"].write_bytes(b"")
    f["random"] = root / "random.nii.gz"
    f["random"].write_bytes(np.random.default_rng(0).bytes(4000))
    f["truncated"] = root / "truncated.nii.gz"
    f["truncated"].write_bytes(f["ct"].read_bytes()[:300])
    f["text"] = root / "notes.txt"
    f["text"].write_text("not an image")
    f["empty_dir"] = root / "empty_dir"
    f["empty_dir"].mkdir()
    f["dcm_file"] = root / "one.dcm"
    f["dcm_file"].write_bytes(b"x")
    # DICOM: two series in one folder; one series with a missing slice
    write_3d_series(root / "dicom2" / "a", [0.0, 5.0], lambda k, p: np.zeros((4, 4)) + 1024)
    write_3d_series(root / "dicom2" / "b", [0.0, 5.0], lambda k, p: np.zeros((4, 4)) + 1064)
    f["dicom2"] = root / "dicom2"
    write_3d_series(
        root / "gap", [0.0, 5.0, 10.0, 20.0, 25.0], lambda k, p: np.zeros((4, 4)) + 1054
    )
    f["gap"] = root / "gap"
    # weights
    cfg = CleriguesConfig(modalities=("ct", "cbf", "cbv"), base_filters=2)
    method = CleriguesMethod(cfg)
    f["w"] = save_checkpoint(root / "w" / "model.pt", method, method.build_networks())
    toy = ToyEndToEnd()
    f["toy_w"] = save_checkpoint(root / "toy.pt", toy, toy.build_networks())
    f["w_random"] = root / "random.pt"
    f["w_random"].write_bytes(np.random.default_rng(1).bytes(3000))
    f["w_pickled"] = root / "pickled.pt"
    torch.save(torch.nn.Linear(2, 2), f["w_pickled"])
    f["w_pickle_plain"] = root / "plain.pkl"
    f["w_pickle_plain"].write_bytes(pickle.dumps({"format": "strokect-checkpoint"}))
    f["w_empty_dir"] = root / "w_empty"
    f["w_empty_dir"].mkdir()
    # outputs that already hold something (must be left untouched), and a file as output
    f["full_out"] = root / "full_out"
    f["full_out"].mkdir()
    (f["full_out"] / "keep.txt").write_text("keep")
    f["file_out"] = root / "file_out"
    f["file_out"].write_text("a file")
    # datasets: two ISLES-like role folders as a manifest; a dataset missing MTT/Tmax
    rows = ["case_id,patient_id,role,path"]
    for cid in ("c1", "c2"):
        for role in ("ct", "cbf", "cbv"):
            rows.append(f"{cid},{cid},{'ncct' if role == 'ct' else role},{f[role]}")
        core = write_volume(a["core"], root / f"{cid}_core.nii.gz")
        rows.append(f"{cid},{cid},mask_core,{core}")
    (root / "ds").mkdir()
    (root / "ds" / "manifest.csv").write_text("\n".join(rows) + "\n")
    f["ds"] = root / "ds"
    bad_rows = [*rows, "c3,c3,ncct,/does/not/exist.nii.gz"]
    (root / "ds_bad").mkdir()
    (root / "ds_bad" / "manifest.csv").write_text("\n".join(bad_rows) + "\n")
    f["ds_bad"] = root / "ds_bad"
    # mask folders for evaluate
    for name in ("pred", "ref"):
        write_volume(a["core"], root / name / "c1.nii.gz")
        f[name] = root / name
    return f


SEG = "segment {case} -o {out} --weights {w} --quiet"
INPUTS = "segment -o {out} --weights {w} --quiet --input ct={ct} --input cbv={cbv}"

# id, command, exit status, printed fragment, must exist after, must not exist after
CATALOGUE = [
    # info
    ("info_missing", "info /does/not/exist", 2, "not found", [], []),
    ("info_empty_file", "info {empty_file}", 2, "error:", [], []),
    ("info_random_bytes", "info {random}", 2, "error:", [], []),
    ("info_truncated", "info {truncated}", 2, "error:", [], []),
    ("info_text_file", "info {text}", 2, "unsupported file type", [], []),
    ("info_single_dcm", "info {dcm_file}", 2, "give the folder holding the DICOM series", [], []),
    ("info_empty_dir", "info {empty_dir}", 2, "error:", [], []),
    ("info_good", "info {ct}", 0, "spacing", [], []),
    ("info_nan_reported", "info {nan}", 0, "non-finite", [], []),
    ("info_two_series", "info {dicom2}", 0, "2 series", [], []),
    ("info_unknown_series", "info {dicom2} --series nope", 2, "no DICOM series matches", [], []),
    ("info_gap", "info {gap}", 2, "missing between 10.00 and 20.00 mm", [], []),
    ("info_gap_allowed", "info {gap} --allow-slice-gaps", 0, "spacing", [], []),
    # segment: inputs
    ("seg_no_input", "segment -o {out}", 2, "give INPUT", [], ["{out}"]),
    ("seg_no_output", "segment {case}", 2, "Missing option '-o'", [], []),
    ("seg_missing_input", "segment /does/not/exist -o {out}", 2, "not found", [], ["{out}"]),
    ("seg_image_file", "segment {ct} -o {out}", 2, "is a file but not a dataset", [], ["{out}"]),
    ("seg_empty_dir", "segment {empty_dir} -o {out}", 2, "no images found", [], ["{out}"]),
    ("seg_bad_input_syntax", "segment -o {out} --input ct", 2, "--input expects ROLE=PATH", [], ["{out}"]),
    ("seg_input_missing_file", "segment -o {out} --input ct=/no.nii.gz", 2, "--input ct: not found", [], ["{out}"]),
    ("seg_missing_role", INPUTS, 2, "missing input(s): cbf", [], ["{out}"]),
    ("seg_ct_as_cbf", INPUTS + " --input cbf={ct}", 2, "input cbf: ", [], ["{out}"]),
    ("seg_zero_cbf", INPUTS + " --input cbf={zero}", 2, "a constant image", [], ["{out}"]),
    ("seg_cbf_as_ct", "segment -o {out} --weights {w} --input ct={cbf} --input cbf={cbf} --input cbv={cbv}", 2, "not a head CT", [], ["{out}"]),
    ("seg_4d_as_ct", "segment -o {out} --weights {w} --input ct={ctp} --input cbf={cbf} --input cbv={cbv}", 2, "input ct: ", [], ["{out}"]),
    ("seg_geometry_mismatch", INPUTS + " --input cbf={shifted}", 2, "geometry mismatch: cbf vs ct: origin", [], ["{out}"]),
    ("seg_nan", INPUTS + " --input cbf={nan}", 2, "1 voxels are NaN or infinite", [], ["{out}"]),
    ("seg_random_image", INPUTS + " --input cbf={random}", 2, "input cbf: ", [], ["{out}"]),
    ("seg_truncated_image", INPUTS + " --input cbf={truncated}", 2, "input cbf: ", [], ["{out}"]),
    ("seg_two_series_no_pick", "segment -o {out} --weights {w} --input ct={dicom2} --input cbf={cbf} --input cbv={cbv}", 2, "holds 2 DICOM series", [], ["{out}"]),
    ("seg_cohort_workers_zero", "segment {ds} -o {out} --weights {w} --workers 0", 2, "--workers must be >= 1", [], ["{out}"]),
    ("seg_cohort_part_out_of_range", "segment {ds} -o {out} --weights {w} --num-parts 2 --part-id 2", 2, "--part-id must be in 0..1", [], ["{out}"]),
    ("seg_cohort_workers_and_scheduler", "segment {ds} -o {out} --weights {w} --workers 2 --scheduler tcp://127.0.0.1:1", 2, "give --workers (a local cluster) or --scheduler", [], ["{out}"]),
    ("seg_one_case_with_workers", "segment {ds} --case c2 -o {out} --weights {w} --workers 2", 2, "--workers: only for a cohort", [], ["{out}"]),
    ("seg_unknown_case", "segment {ds} --case c9 -o {out} --weights {w}", 2, "no case 'c9'", [], ["{out}"]),
    ("seg_case_of_dataset", "segment {ds} --case c2 -o {out} --weights {w} --quiet", 0, "mask: ", ["{out}/provenance.json"], []),
    ("seg_manifest_path_missing", "segment {ds_bad} --case c3 -o {out} --weights {w}", 2, "case c3: the files listed for it do not exist (ncct: /does/not/exist.nii.gz)", [], ["{out}"]),
    # segment: options
    ("seg_threshold_high", SEG + " --set threshold=1.5", 2, "threshold = 1.5 is out of range", [], ["{out}"]),
    ("seg_threshold_text", SEG + " --set threshold=abc", 2, "expected float", [], ["{out}"]),
    ("seg_min_size_negative", SEG + " --set min_size_vox=-1", 2, "min_size_vox = -1 is out of range", [], ["{out}"]),
    ("seg_mc_negative", SEG + " --set mc_passes=-1", 2, "mc_passes = -1 is out of range", [], ["{out}"]),
    ("seg_overlap_one", SEG + " --set overlap=1", 2, "overlap = 1.0 is out of range", [], ["{out}"]),
    ("seg_tile_not_divisible", SEG + " --set tile_size=24", 2, "must be divisible", [], ["{out}"]),
    ("seg_batch_zero", SEG + " --set predict_batch_size=0", 2, "predict_batch_size = 0 is out of range", [], ["{out}"]),
    ("seg_training_setting", SEG + " --set base_filters=3", 2, "training setting fixed by the weights", [], ["{out}"]),
    ("seg_unknown_option", SEG + " --set nope=1", 2, "'nope' is unknown", [], ["{out}"]),
    ("seg_set_syntax", SEG + " --set threshold", 2, "--set expects key=value", [], ["{out}"]),
    ("seg_device", SEG + " --device tpu", 2, "--device must be auto, cpu or cuda", [], ["{out}"]),
    ("seg_threads_zero", SEG + " --threads 0", 2, "--threads must be >= 1", [], ["{out}"]),
    ("seg_pseudodwi_without_4d", "segment {case} -o {out} --method pseudodwi", 2, "ctp is the raw 4D CT perfusion series", [], ["{out}"]),
    ("seg_unknown_method", "segment {case} -o {out} --method bogus", 2, "unknown method 'bogus'", [], ["{out}"]),
    # segment: weights
    ("seg_weights_random", "segment {case} -o {out} --weights {w_random}", 2, "(not a torch file)", [], ["{out}"]),
    ("seg_weights_pickled_model", "segment {case} -o {out} --weights {w_pickled}", 2, "contains pickled Python objects", [], ["{out}"]),
    ("seg_weights_plain_pickle", "segment {case} -o {out} --weights {w_pickle_plain}", 2, "contains pickled Python objects", [], ["{out}"]),
    ("seg_weights_missing", "segment {case} -o {out} --weights /no/weights.pt", 2, "no checkpoint or run folder", [], ["{out}"]),
    ("seg_weights_empty_dir", "segment {case} -o {out} --weights {w_empty_dir}", 2, "holds no model.pt", [], ["{out}"]),
    ("seg_weights_other_method", "segment {case} -o {out} --weights {toy_w}", 2, "was made by method 'toy-end-to-end'", [], ["{out}"]),
    # segment: outputs
    ("seg_output_not_empty", "segment {case} -o {full_out} --weights {w}", 2, "not empty", ["{full_out}/keep.txt"], ["{full_out}/mask.nii.gz"]),
    ("seg_output_is_file", "segment {case} -o {file_out} --weights {w}", 2, "is a file", ["{file_out}"], []),
    ("seg_good", SEG, 0, "mask: ", ["{out}/mask.nii.gz", "{out}/provenance.json", "{out}/overlay.png"], []),
    # perfusion
    ("perf_3d", "perfusion {ct} -o {out}", 2, "a 3D volume where a 4D time series is needed", [], ["{out}"]),
    ("perf_no_bolus", "perfusion {ctp_flat} -o {out}", 2, "no contrast bolus", [], ["{out}"]),
    ("perf_missing", "perfusion /no/ctp.nii.gz -o {out}", 2, "does not exist", [], ["{out}"]),
    ("perf_output_not_empty", "perfusion {ctp} -o {full_out}", 2, "not empty", ["{full_out}/keep.txt"], ["{full_out}/cbf.nii.gz"]),
    ("perf_bad_method", "perfusion {ctp} -o {out} --method bogus", 2, "'bogus' is not one of", [], ["{out}"]),
    # preprocess
    ("prep_bad_step", "preprocess {ct} -o {out} --steps bogus", 2, "unknown step 'bogus'", [], ["{out}"]),
    ("prep_4d", "preprocess {ctp} -o {out} --steps brain", 2, "4D", [], ["{out}"]),
    ("prep_missing", "preprocess /no/ct.nii.gz -o {out} --steps brain", 2, "not found", [], ["{out}"]),
    # evaluate
    ("eval_pred_missing", "evaluate --pred /no/pred --ref {ref} -o {out}", 2, "--pred: not found", [], ["{out}"]),
    ("eval_pred_file", "evaluate --pred {ct} --ref {ref} -o {out}", 2, "--pred: not a folder", [], ["{out}"]),
    ("eval_groups", "evaluate --pred {pred} --ref {ref} -o {out} --groups-ml 10,abc", 2, "--groups-ml must be", [], ["{out}"]),
    ("eval_masks_vs_dataset", "evaluate --pred {pred} --ref {ds} -o {out}", 2, "is a folder of mask files but --ref", [], ["{out}"]),
    ("eval_old_out_option", "evaluate --pred {pred} --ref {ref} --out {out}", 2, "Did you mean '--output'?", [], ["{out}"]),
    ("eval_good", "evaluate --pred {pred} --ref {ref} -o {out}", 0, "1 of 1 cases evaluated", ["{out}/report.html"], []),
    # train
    ("train_missing_roles", "train --method clerigues --data {ds} -o {out} --folds 1", 2, "missing input(s), nothing trained", [], ["{out}"]),
    ("train_bad_manifest_path", "train --method clerigues --data {ds_bad} -o {out} --folds 1 --set modalities=ct,cbf,cbv", 2, "does not exist: /does/not/exist.nii.gz", [], ["{out}"]),
    ("train_folds_zero", "train --method clerigues --data {ds} -o {out} --folds 0", 2, "--folds must be >= 1", [], ["{out}"]),
    ("train_unknown_method", "train --method bogus --data {ds} -o {out}", 2, "unknown method", [], ["{out}"]),
    ("train_pseudodwi_without_4d", "train --method pseudodwi --data {ds} -o {out}", 2, "missing input(s), nothing trained", [], ["{out}"]),
    ("train_unknown_key", "train --method clerigues --data {ds} -o {out} --set nope=1", 2, "unknown key 'nope'", [], ["{out}"]),
    ("train_out_of_range", "train --method clerigues --data {ds} -o {out} --set dropout=1.5", 2, "dropout = 1.5 is out of range", [], ["{out}"]),
    ("train_data_missing", "train --method clerigues --data /no/data -o {out}", 2, "does not exist", [], ["{out}"]),
    # synth, release, heldout, domain
    ("synth_zero_cases", "synth -o {out} --cases 0", 2, "0 is not in the range", [], ["{out}"]),
    ("synth_bad_preset", "synth -o {out} --preset bogus", 2, "'bogus' is not one of", [], ["{out}"]),
    ("release_not_a_run", "release {empty_dir} -o {out} --name x", 2, "no fold_*/model.pt", [], ["{out}"]),
    ("heldout_not_a_run", "heldout {empty_dir} --data {ds}", 2, "holds no model.pt", [], []),
    ("domain_bad_weights", "domain {w_random} --data {ds}", 2, "not a torch file", [], []),
]  # fmt: skip


def _fill(text: str, files: dict, out) -> str:
    return text.format(out=out, **{k: str(v) for k, v in files.items()})


@pytest.mark.parametrize(
    ("command", "status", "fragment", "exist", "absent"),
    [row[1:] for row in CATALOGUE],
    ids=[row[0] for row in CATALOGUE],
)
def test_catalogue(files, tmp_path, capsys, command, status, fragment, exist, absent):
    out = tmp_path / "out"
    before = {p: p.read_bytes() for p in (files["full_out"] / "keep.txt", files["file_out"])}
    code = main(shlex.split(_fill(command, files, out)))
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert code == status, printed
    assert fragment in printed, printed
    assert "Traceback" not in printed
    if status == 2 and captured.err.startswith("error:"):
        assert len(captured.err.strip().splitlines()) == 1 or "warning:" in captured.err, printed
    for path in exist:
        assert Path(_fill(path, files, out)).exists(), path
    for path in absent:
        assert not Path(_fill(path, files, out)).exists(), path
    for path, data in before.items():
        assert path.read_bytes() == data  # nothing that existed was changed
    assert not list(tmp_path.glob(".tmp-*"))


def test_catalogue_is_large_enough():
    assert len(CATALOGUE) >= 60
