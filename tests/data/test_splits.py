from dataclasses import dataclass

import pytest

from strokect.data.splits import load_splits, make_kfold_splits, save_splits
from strokect.errors import InputError


@dataclass
class _Case:
    case_id: str
    patient_id: str


def _cases():
    # 9 patients, 3 of them with two slabs (like ISLES 2018)
    out = []
    for p in range(9):
        out.append(_Case(f"case_{p}a", f"p{p}"))
        if p % 3 == 0:
            out.append(_Case(f"case_{p}b", f"p{p}"))
    return out


def test_patients_stay_together_and_every_case_validated_once():
    cases = _cases()
    splits = make_kfold_splits(cases, 5, seed=1)
    assert len(splits) == 5
    patient = {c.case_id: c.patient_id for c in cases}
    vals = [c for s in splits for c in s["val"]]
    assert sorted(vals) == sorted(patient)
    for s in splits:
        parts = [set(s["train"]), set(s["stop"]), set(s["val"])]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert parts[0] | parts[1] | parts[2] == set(patient)
        groups = [{patient[c] for c in part} for part in parts]  # patients never split
        assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
        # early stopping watches its own patients: 20 % of the fold's training patients
        assert len(groups[1]) == round(0.2 * (len(groups[0]) + len(groups[1]))) and s["train"]
    sizes = [len(s["val"]) for s in splits]
    assert max(sizes) - min(sizes) <= 1


def test_stop_fraction_zero_and_small_training_sets():
    splits = make_kfold_splits([f"c{i}" for i in range(10)], 5, seed=0, stop_fraction=0.0)
    assert all(s["stop"] == [] and len(s["train"]) == 8 for s in splits)
    splits = make_kfold_splits([f"c{i}" for i in range(10)], 5, seed=0)
    assert all(len(s["stop"]) == 2 and len(s["train"]) == 6 for s in splits)  # round(0.2 * 8)
    # two training patients: nothing to spare for early stopping
    assert all(s["stop"] == [] for s in make_kfold_splits(["a", "b", "c"], 3, seed=0))


def test_old_splits_files_read_without_stop_sets(tmp_path):
    path = tmp_path / "splits.json"
    path.write_text(
        '{"format": "strokect-splits-v1", "folds": [{"train": ["a"], "val": ["b"]},'
        ' {"train": ["b"], "val": ["a"]}]}'
    )
    assert load_splits(path)[0] == {"train": ["a"], "stop": None, "val": ["b"]}


def test_seed_reproducible_and_changes_assignment():
    cases = _cases()
    assert make_kfold_splits(cases, 3, seed=4) == make_kfold_splits(cases, 3, seed=4)
    others = [make_kfold_splits(cases, 3, seed=s) for s in range(5)]
    assert any(o != others[0] for o in others[1:])


def test_roundtrip_json(tmp_path):
    splits = make_kfold_splits([f"c{i}" for i in range(6)], 3, seed=0)
    path = save_splits(splits, tmp_path / "splits.json")
    assert load_splits(path) == splits


def test_refusals(tmp_path):
    with pytest.raises(InputError, match="k=5"):
        make_kfold_splits(["a", "b", "c"], 5)
    with pytest.raises(InputError, match="duplicate"):
        make_kfold_splits(["a", "a", "b"], 2)
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    with pytest.raises(InputError, match="not a strokect splits"):
        load_splits(bad)
    with pytest.raises(FileNotFoundError):
        load_splits(tmp_path / "nope.json")
