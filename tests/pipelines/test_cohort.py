"""Cohort runs of ``strokect segment`` / ``strokect perfusion`` (`strokect.pipelines.cohort`):
one folder per case, a cohort table ``evaluate`` reads, bad cases reported, resume, kill -9,
array-job parts, no Dask import in-process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from strokect.cli.main import main
from strokect.pipelines.segment import segment
from tests.pipelines.cohort_for_tests import read_rows, same_case_outputs

IDS = ["case_1", "case_2", "case_3", "case_4"]
FAST = ["--quiet", "--no-report", "--set", "mc_passes=0"]


@pytest.fixture(scope="module")
def reference(toy, tmp_path_factory):
    """The cohort segmented in one process, uninterrupted: what every other run must give.

    Run in a fresh interpreter, which also shows that an in-process cohort imports no Dask.
    """
    ds, weights = toy
    out = tmp_path_factory.mktemp("ref") / "out"
    code = (
        "import sys\n"
        "from strokect.cli.main import main\n"
        f"rc = main(['segment', {str(ds)!r}, '-o', {str(out)!r}, '--weights', {str(weights)!r}, "
        f"*{FAST!r}])\n"
        "assert rc == 0, rc\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')]\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def _cli(*args) -> list[str]:
    return [sys.executable, "-m", "strokect", *map(str, args)]


def test_cohort_folders_table_single_run_and_evaluate(toy, reference, tmp_path):
    ds, weights = toy
    assert sorted(p.name for p in reference.iterdir() if p.is_dir()) == IDS
    rows = read_rows(reference / "volumes.csv")
    assert [r["case_id"] for r in rows] == IDS  # one mask per case, natural order
    for r in rows:  # the cohort table is the case tables, concatenated
        assert read_rows(reference / r["case_id"] / "volumes.csv") == [r]
        assert r["implausible"] in ("true", "false")  # segment's output checks ran per case
    summary = json.loads((reference / "cohort.json").read_text())
    assert summary["n_ok"] == 4 and summary["n_failed"] == 0 and summary["kind"] == "segment"
    assert [r["status"] for r in read_rows(reference / "cohort_cases.csv")] == ["ok"] * 4
    # a case of the cohort equals the same case segmented alone
    single = segment(
        ds, tmp_path / "one", weights=weights, case_id="case_3", options=["mc_passes=0"],
        report=False,
    )  # fmt: skip
    same_case_outputs(reference / "case_3", single.out_dir)
    # strokect evaluate reads the cohort folder as it is
    ev = tmp_path / "ev"
    assert main(["evaluate", "--pred", str(reference), "--ref", str(ds), "-o", str(ev)]) == 0
    assert [r["case_id"] for r in read_rows(ev / "per_case.csv")] == IDS


def test_bad_case_is_reported_and_the_others_go_on(toy, reference, tmp_path, capsys):
    ds, weights = toy
    bad = tmp_path / "ds"
    shutil.copytree(ds, bad)
    ct = next((bad / "TRAINING" / "case_2").glob("*.CT.*/*.nii"))
    ct.write_bytes(b"not an image")
    out = tmp_path / "out"
    code = main(["segment", str(bad), "-o", str(out), "--weights", str(weights), *FAST])
    err = capsys.readouterr().err
    assert code == 1 and "1 of 4 cases failed (first: case_2" in err
    assert not (out / "case_2").exists()  # no half-written folder
    summary = json.loads((out / "cohort.json").read_text())
    assert [f["case_id"] for f in summary["failures"]] == ["case_2"]
    assert "not a readable" in summary["failures"][0]["message"]
    assert [r["case_id"] for r in read_rows(out / "volumes.csv")] == ["case_1", "case_3", "case_4"]
    for case in ("case_1", "case_3", "case_4"):
        same_case_outputs(out / case, reference / case)


def test_resume_skips_same_settings_refuses_others_overwrite_redoes(toy, reference, tmp_path):
    ds, weights = toy
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    stamp = (out / "case_1" / "mask.nii.gz").stat().st_mtime_ns
    base = ["segment", str(ds), "-o", str(out), "--weights", str(weights)]
    assert main([*base, *FAST]) == 2  # finished cases are never replaced silently
    assert main([*base, *FAST, "--resume"]) == 0
    cases = read_rows(out / "cohort_cases.csv")
    assert [r["status"] for r in cases] == ["skipped"] * 4
    assert (out / "case_1" / "mask.nii.gz").stat().st_mtime_ns == stamp
    other = ["--quiet", "--no-report", "--set", "mc_passes=0", "--set", "threshold=0.3"]
    assert main([*base, *other, "--resume"]) == 1  # other settings: per-case errors, kept
    failures = json.loads((out / "cohort.json").read_text())["failures"]
    assert len(failures) == 4 and "different calibration, options" in failures[0]["message"]
    assert (out / "case_1" / "mask.nii.gz").stat().st_mtime_ns == stamp
    (out / "case_1" / "segmentation.dcm").write_bytes(b"from another run")
    assert main([*base, *other, "--resume", "--overwrite"]) == 0
    assert not (out / "case_1" / "segmentation.dcm").exists()  # a redone case replaces its folder
    prov = json.loads((out / "case_1" / "provenance.json").read_text())
    assert prov["calibration"]["threshold"] == 0.3


def test_kill_9_mid_cohort_then_resume_gives_the_same_outputs(toy, reference, tmp_path):
    ds, weights = toy
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = _cli("segment", ds, "-o", out, "--weights", weights, *FAST)
    proc = subprocess.Popen(args, env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "case_1").is_dir():
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)  # mid-cohort: case_1 done, others not
    proc.wait()
    done = [p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert "case_1" in done and len(done) < 4, done
    for name in done:  # every case folder on disk is complete
        assert (out / name / "provenance.json").is_file() and (out / name / "mask.nii.gz").is_file()
    assert main(["segment", str(ds), "-o", str(out), "--weights", str(weights), *FAST]) == 2
    assert (
        main(["segment", str(ds), "-o", str(out), "--weights", str(weights), *FAST, "--resume"])
        == 0
    )
    statuses = {r["case_id"]: r["status"] for r in read_rows(out / "cohort_cases.csv")}
    assert statuses["case_1"] == "skipped" and statuses["case_4"] == "ok"
    assert not list(out.glob(".tmp-*"))  # the killed run's staging folder is gone
    for case in IDS:
        same_case_outputs(out / case, reference / case)
    assert read_rows(out / "volumes.csv") == read_rows(reference / "volumes.csv")


def test_parts_of_an_array_job_local_dask_cluster_and_merge(toy, reference, tmp_path, capsys):
    """Part 1 runs in-process, part 0 on a local Dask cluster of 2 worker processes; merged,
    they equal the in-process cohort."""
    pytest.importorskip("distributed")
    ds, weights = toy
    out = tmp_path / "out"
    base = ["segment", str(ds), "-o", str(out), "--weights", str(weights), *FAST]
    assert main([*base, "--num-parts", "2", "--part-id", "1"]) == 0
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["case_2", "case_4"]
    assert main(["merge", str(out)]) == 2 and "parts [0] of 2" in capsys.readouterr().err
    assert main([*base, "--num-parts", "2", "--part-id", "0", "--workers", "2"]) == 0
    part0 = json.loads((out / "cohort.part-0-of-2.json").read_text())
    assert part0["run"]["workers"] == 2 and part0["n_ok"] == 2
    assert [r["case_id"] for r in read_rows(out / "volumes.part-0-of-2.csv")] == [
        "case_1",
        "case_3",
    ]
    part1 = out / "cohort.part-1-of-2.json"
    saved = part1.read_text()
    part1.write_text(saved.replace('"mc_passes=0"', '"mc_passes=1"'))
    assert main(["merge", str(out)]) == 2 and "different settings" in capsys.readouterr().err
    part1.write_text(saved)
    assert main(["merge", str(out)]) == 0
    assert read_rows(out / "volumes.csv") == read_rows(reference / "volumes.csv")
    for case in IDS:
        same_case_outputs(out / case, reference / case)
    merged = json.loads((out / "cohort.json").read_text())
    assert merged["n_ok"] == 4 and merged["run"]["merged_parts"] == 2
    assert main([*base, "--num-parts", "2", "--part-id", "2"]) == 2  # no part 2 of 2


def test_batch_options_need_a_cohort(toy, tmp_path, capsys):
    ds, weights = toy
    case = ds / "TRAINING" / "case_1"
    code = main(["segment", str(case), "-o", str(tmp_path / "o"), "--weights", str(weights),
                 "--workers", "2"])  # fmt: skip
    assert code == 2 and "only for a cohort" in capsys.readouterr().err
    code = main(["segment", str(ds), "-o", str(tmp_path / "p"), "--weights", str(weights),
                 "--workers", "0"])  # fmt: skip
    assert code == 2 and "--workers must be >= 1" in capsys.readouterr().err


def test_perfusion_cohort_readout_table(tmp_path):
    from strokect.io import write_volume
    from strokect.phantom import synth_case

    root = tmp_path / "studies"
    for i, kind in enumerate(("ischemic", "none")):
        case = synth_case(i, "tiny", kind=kind)
        write_volume(case.acute["ctp"], root / f"study{i + 1}.nii.gz")
    (root / "study3.nii.gz").write_bytes(b"broken")
    out = tmp_path / "out"
    assert main(["perfusion", str(root), "-o", str(out), "--no-report", "--quiet"]) == 1
    rows = read_rows(out / "readout.csv")
    assert [r["case_id"] for r in rows] == ["study1", "study2"]
    for row in rows:
        single = json.loads((out / row["case_id"] / "perfusion.json").read_text())["readout"]
        for key in ("core_ml", "hypoperfusion_ml", "mismatch_ml"):
            assert float(row[key]) == pytest.approx(single[key])
    assert float(rows[0]["core_ml"]) > 0 and float(rows[1]["hypoperfusion_ml"]) < 1.0
    failures = json.loads((out / "cohort.json").read_text())["failures"]
    assert [f["case_id"] for f in failures] == ["study3"]
    (root / "study3.nii.gz").unlink()
    assert main(["perfusion", str(root), "-o", str(out), "--no-report", "--quiet", "--resume"]) == 0
    assert [r["status"] for r in read_rows(out / "cohort_cases.csv")] == ["skipped", "skipped"]
    # a single study keeps its single-study behaviour
    assert main(["perfusion", str(root / "study1.nii.gz"), "-o", str(tmp_path / "one"),
                 "--no-report"]) == 0  # fmt: skip
    assert Path(tmp_path / "one" / "perfusion.json").is_file()


def test_models_load_once_per_process_for_the_whole_cohort(toy, reference, tmp_path, monkeypatch):
    import strokect.pipelines.segment as seg

    ds, weights = toy
    calls = []
    real = seg.load_ensemble
    monkeypatch.setattr(seg, "_ENSEMBLES", {})
    monkeypatch.setattr(seg, "load_ensemble", lambda *a, **k: calls.append(a) or real(*a, **k))
    out = tmp_path / "out"
    assert main(["segment", str(ds), "-o", str(out), "--weights", str(weights), *FAST]) == 0
    assert len(calls) == 1  # 4 cases, one load
    for case in IDS:
        same_case_outputs(out / case, reference / case)


def test_csv_manifest_cohort(toy, reference, tmp_path):
    """A CSV manifest (case_id,patient_id,role,path) is a cohort like any dataset root."""
    ds, weights = toy
    lines = ["case_id,patient_id,role,path"]
    for case in ("case_2", "case_4"):
        for role, folder in (("ncct", "CT"), ("cbf", "CT_CBF"), ("cbv", "CT_CBV")):
            path = next((ds / "TRAINING" / case).glob(f"SMIR.Brain.XX.O.{folder}.*/*.nii"))
            lines.append(f"{case},{case},{role},{path}")
    manifest = tmp_path / "cohort.csv"
    manifest.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert main(["segment", str(manifest), "-o", str(out), "--weights", str(weights), *FAST]) == 0
    assert [r["case_id"] for r in read_rows(out / "volumes.csv")] == ["case_2", "case_4"]
    for case in ("case_2", "case_4"):
        same_case_outputs(out / case, reference / case)
