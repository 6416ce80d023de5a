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
    assert "error: --pred: not a folder" in capsys.readouterr().err
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
