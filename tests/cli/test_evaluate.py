"""`strokect evaluate` in-process."""

from __future__ import annotations

import json

from strokect.cli.main import main
from tests.report.cohort_for_tests import write_cohort


def test_evaluate_writes_csv_json_html(tmp_path, capsys):
    dirs = write_cohort(tmp_path / "cohort")
    out = tmp_path / "out"
    argv = ["evaluate", "--pred", str(dirs["pred"]), "--ref", str(dirs["ref"]),
            "--image", str(dirs["image"]), "-o", str(out), "--groups-ml", "5,20,60"]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "8 of 12 cases evaluated (4 with problems)" in captured.out
    assert "4 case(s) not evaluated" in captured.err
    for name in ("per_case.csv", "summary.json", "report.html"):
        assert (out / name).is_file()
    doc = json.loads((out / "summary.json").read_text())
    assert list(doc["summary"]["volume_groups"]) == ["<5 mL", "5-20 mL", "20-60 mL", ">60 mL"]


def test_evaluate_without_image_folder(tmp_path):
    dirs = write_cohort(tmp_path / "cohort", broken=False)
    assert (
        main(
            [
                "evaluate",
                "--pred",
                str(dirs["pred"]),
                "--ref",
                str(dirs["ref"]),
                "-o",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )
    assert "data:image/png;base64," in (tmp_path / "o" / "report.html").read_text()


def test_evaluate_user_errors(tmp_path, capsys):
    dirs = write_cohort(tmp_path / "cohort", broken=False)
    base = [
        "evaluate",
        "--pred",
        str(dirs["pred"]),
        "--ref",
        str(dirs["ref"]),
        "-o",
        str(tmp_path / "o"),
    ]
    assert main([*base, "--groups-ml", "10,abc"]) == 2
    assert "error: --groups-ml must be comma-separated numbers" in capsys.readouterr().err
    assert (
        main(
            [
                "evaluate",
                "--pred",
                str(tmp_path / "missing"),
                "--ref",
                str(dirs["ref"]),
                "-o",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "error: --pred: not found" in capsys.readouterr().err
    # no case can be evaluated: outputs still written, exit status 2 with the reason
    assert (
        main(
            [
                "evaluate",
                "--pred",
                str(dirs["ref"]),
                "--ref",
                str(dirs["image"]),
                "-o",
                str(tmp_path / "o2"),
            ]
        )
        == 2
    )
    assert "no case could be evaluated" in capsys.readouterr().err
    assert (tmp_path / "o2" / "per_case.csv").is_file()


def test_evaluate_says_output_like_every_command(tmp_path, capsys):
    dirs = write_cohort(tmp_path / "cohort", broken=False)
    argv = ["evaluate", "--pred", str(dirs["pred"]), "--ref", str(dirs["ref"])]
    assert main([*argv, "--output", str(tmp_path / "o")]) == 0
    assert main([*argv, "--out", str(tmp_path / "o2")]) == 2
    assert "Did you mean '--output'?" in capsys.readouterr().err


def test_evaluate_reads_segment_outputs_against_a_dataset(tmp_path, capsys):
    """``segment`` output folders (one per case) scored against the dataset they came from."""
    from strokect.methods.checkpoint import save_checkpoint
    from strokect.methods.clerigues import CleriguesConfig, CleriguesMethod
    from tests.methods.test_clerigues_crossval import _write_dataset

    root = _write_dataset(tmp_path / "data", n_cases=3)
    method = CleriguesMethod(CleriguesConfig(modalities=("ct", "cbf", "cbv"), base_filters=2))
    weights = save_checkpoint(tmp_path / "model.pt", method, method.build_networks())
    preds = tmp_path / "preds"
    for i in (1, 2, 3):
        case = root / "TRAINING" / f"case_{i}"
        args = ["segment", str(case), "-o", str(preds / f"case_{i}"), "--weights", str(weights)]
        assert main([*args, "--quiet", "--set", "threshold=0.0", "--set", "min_size_vox=0"]) == 0
    capsys.readouterr()
    out = tmp_path / "eval"
    assert main(["evaluate", "--pred", str(preds), "--ref", str(root), "-o", str(out)]) == 0
    assert "3 of 3 cases evaluated (0 with problems)" in capsys.readouterr().out
    doc = json.loads((out / "summary.json").read_text())
    assert doc["settings"]["reference_role"] == "core"
    assert doc["settings"]["model_scope"] == "not recorded in the weights"  # in the report too
    # threshold 0 marks the whole brain: segment flagged every mask, and the report lists them
    assert doc["settings"]["implausible_cases"] == "case_1, case_2, case_3"
    assert doc["settings"]["out_of_domain_cases"] == "none"
    from strokect.io.digest import sha256_file

    (model,) = doc["models"]  # method and weights from the provenance, in the report too
    assert model["n_cases"] == 3 and model["method"] == method.name
    assert model["weights"] == [{"file": "model.pt", "sha256": sha256_file(weights)}]
    assert sha256_file(weights)[:12] in (out / "report.html").read_text()
    assert "model_scope: not recorded" in (out / "report.html").read_text()
    assert "implausible_cases: case_1, case_2, case_3" in (out / "report.html").read_text()
    rows = (out / "per_case.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["case_1", "case_2", "case_3"]
    # one segment output folder alone; a missing output name is one clear error
    one = tmp_path / "eval1"
    assert (
        main(["evaluate", "--pred", str(preds / "case_2"), "--ref", str(root), "-o", str(one)]) == 0
    )
    assert "1 of 1 cases evaluated (0 with problems)" in capsys.readouterr().out
    code = main(["evaluate", "--pred", str(preds), "--ref", str(root), "-o", str(tmp_path / "e"),
                 "--mask", "probability"])  # fmt: skip
    assert code == 2 and "is a probability, not a mask" in capsys.readouterr().err


def _fake_segment_output(folder, case_id, mask, *, method, weights) -> None:
    """What ``strokect segment`` leaves in a case folder, as far as ``evaluate`` reads it."""
    import numpy as np

    from strokect.io import Volume, write_volume

    folder.mkdir(parents=True)
    write_volume(
        Volume(mask.astype(np.uint8), spacing_mm=(5.0, 0.9, 0.9)), folder / "lesion.nii.gz"
    )
    provenance = {
        "case_id": case_id,
        "method": method,
        "weights": weights,
        "primary_output": "lesion",
        "outputs": {"lesion": {"file": "lesion.nii.gz", "kind": "mask"}},
    }
    (folder / "provenance.json").write_text(json.dumps(provenance))


def test_evaluate_reports_the_methods_and_weights_of_segment_outputs(tmp_path, capsys):
    import numpy as np

    from strokect.io import Volume, write_volume

    sha_a, sha_b = "a1" * 32, "b2" * 32
    weights_a = [{"file": "fold0.pt", "path": "/data/DOE^JANE/fold0.pt", "sha256": sha_a},
                 {"file": "fold1.pt", "path": "/data/DOE^JANE/fold1.pt", "sha256": sha_b}]  # fmt: skip
    (tmp_path / "ref").mkdir()
    for i, (method, weights) in enumerate(
        [("toynet", weights_a), ("toynet", weights_a), ("othernet", [])]
    ):
        ref = np.zeros((8, 20, 20), bool)
        ref[3:5, 5:12, 5:12] = True
        pred = np.roll(ref, i, axis=2)
        write_volume(Volume(ref.astype(np.uint8), spacing_mm=(5.0, 0.9, 0.9)),
                     tmp_path / "ref" / f"case{i}.nii.gz")  # fmt: skip
        _fake_segment_output(tmp_path / "pred" / f"case{i}", f"case{i}", pred,
                             method=method, weights=weights)  # fmt: skip
    out = tmp_path / "out"
    argv = ["evaluate", "--pred", str(tmp_path / "pred"), "--ref", str(tmp_path / "ref")]
    assert main([*argv, "-o", str(out)]) == 0, capsys.readouterr().err
    doc = json.loads((out / "summary.json").read_text())
    assert doc["models"] == [
        {"method": "toynet", "n_cases": 2, "weights": [{"file": "fold0.pt", "sha256": sha_a},
                                                       {"file": "fold1.pt", "sha256": sha_b}]},
        {"method": "othernet", "n_cases": 1, "weights": []},
    ]  # fmt: skip
    page = (out / "report.html").read_text()
    models = page.split("<table class='models'>", 1)[1].split("</table>", 1)[0]
    for text in ("toynet", "othernet", "fold0.pt", "fold1.pt", sha_a[:12], sha_b[:12]):
        assert text in models
    assert "DOE" not in models and "not recorded" in models  # othernet recorded no weights
