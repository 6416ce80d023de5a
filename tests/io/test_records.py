"""write_json / write_csv: strict JSON, numpy types, atomic writes, CSV cell formatting."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from strokect.io.records import csv_value, write_csv, write_json


def test_json_nan_and_inf_become_null(tmp_path):
    path = write_json({"a": float("nan"), "b": [1.0, float("inf"), -np.inf]}, tmp_path / "x.json")
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n") and "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": [1.0, None, None]}


def test_json_numpy_tuples_paths_and_keys(tmp_path):
    data = {
        1: np.float32(0.5),
        "i": np.int64(7),
        "flag": np.bool_(True),
        "arr": np.array([[1, 2], [3, 4]], dtype=np.uint8),
        "farr": np.array([0.25, np.nan]),
        "tup": (1, (2, 3)),
        "path": Path("a") / "b.nii.gz",
        "nested": {"x": np.float64(np.inf)},
    }
    back = json.loads(write_json(data, tmp_path / "x.json").read_text())
    assert back == {
        "1": 0.5,
        "i": 7,
        "flag": True,
        "arr": [[1, 2], [3, 4]],
        "farr": [0.25, None],
        "tup": [1, [2, 3]],
        "path": str(Path("a") / "b.nii.gz"),
        "nested": {"x": None},
    }


def test_json_indent_and_sort_keys(tmp_path):
    path = write_json({"b": 1, "a": 2}, tmp_path / "x.json", indent=1, sort_keys=True)
    assert path.read_text() == '{\n "a": 2,\n "b": 1\n}\n'


def test_json_failure_leaves_existing_file_untouched(tmp_path):
    path = write_json({"kept": True}, tmp_path / "x.json")
    before = path.read_bytes()
    with pytest.raises(TypeError):
        write_json({"bad": object()}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temporary file left


def test_csv_formatting_and_missing_cells(tmp_path):
    rows = [
        {"id": "c1", "ok": True, "v": 0.1, "n": 3, "extra": "ignored"},
        {"id": "c2", "ok": False, "v": float("nan"), "n": None},
        {"id": "c3", "v": np.float64(2.5)},
    ]
    path = write_csv(rows, tmp_path / "t.csv", columns=["id", "ok", "v", "n"])
    assert path.read_bytes() == b"id,ok,v,n\nc1,true,0.1,3\nc2,false,nan,\nc3,,2.5,\n"
    back = list(csv.DictReader(path.open(newline="", encoding="utf-8")))
    assert back[0] == {"id": "c1", "ok": "true", "v": "0.1", "n": "3"}


def test_csv_quotes_commas_and_keeps_float_precision(tmp_path):
    path = write_csv([{"m": "a, b", "x": 1 / 3}], tmp_path / "t.csv", columns=("m", "x"))
    (row,) = csv.DictReader(path.open(newline=""))
    assert row["m"] == "a, b" and float(row["x"]) == 1 / 3


def test_csv_value():
    assert [csv_value(v) for v in (True, np.bool_(False), float("nan"), 1.5, None, 4, "s")] == [
        "true",
        "false",
        "nan",
        "1.5",
        "",
        "4",
        "s",
    ]


def test_csv_failure_leaves_existing_file_untouched(tmp_path):
    path = write_csv([{"a": 1}], tmp_path / "t.csv", columns=["a"])
    before = path.read_bytes()

    class Broken:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_csv([{"a": 2}, {"a": Broken()}], path, columns=["a"])
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]
