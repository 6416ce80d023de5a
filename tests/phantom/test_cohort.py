"""Cohort writers, the data loaders on a synthetic cohort, the CLI, and pose conventions."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from strokect.cli.main import main
from strokect.phantom import synth_case, write_cohort
from strokect.phantom.writers import manifest_role


def _hashes(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix != ".png"
    }


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("cohort") / "isles"
    write_cohort(root, n_cases=2, seed=7, preset="tiny", layout="isles2018")
    return root


def test_isles2018_cohort_loads_like_the_real_one(cohort):
    from strokect.data import load_dataset

    ds = load_dataset(cohort)
    assert ds.layout == "isles2018"
    assert [c.case_id for c in ds.cases] == ["case_1", "case_2"]
    case = ds.cases[0]
    assert case.patient_id == "Train_01" and case.slab == "A"
    assert {"ct", "ctp", "cbf", "cbv", "mtt", "tmax"} <= set(case.images)
    assert "core" in case.masks and not case.missing
    from strokect.io import read_volume

    ot = read_volume(case.masks["core"])
    meta = json.loads((cohort / "metadata" / "phantom_0000.json").read_text())
    assert ot.array.sum() * ot.voxel_volume_ml == pytest.approx(meta["volumes_ml"]["acute"]["core"])
    ctp = read_volume(case.images["ctp"])
    assert ctp.is_4d and np.allclose(ctp.time_s, meta["aif"]["time_s"], atol=1e-3)


def test_isles2018_cohort_dwi_on_the_ct_grid(cohort):
    """The acute DWI is written as ``MR_DWI`` (with its sidecar) and read as role ``dwi``."""
    from strokect.data import load_dataset
    from strokect.data.manifest import read_manifest

    case = load_dataset(cohort)["case_1"]
    assert case.native_names["dwi"] == "MR_DWI" and "dwi" not in case.missing
    folder = case.images["dwi"].parent
    assert folder.name == "SMIR.Brain.XX.O.MR_DWI.900007"
    sidecar = json.loads((folder / f"{folder.name}.json").read_text())
    assert sidecar["description"] == "ISLES 2018 - TRAIN - Train_01_A - MR_DWI"
    volumes = case.load_all()  # checks that every role shares one grid
    dwi, ct = volumes["dwi"], volumes["ct"]
    assert not dwi.is_4d and dwi.same_geometry(ct) and dwi.array.std() > 0
    # the extras manifest lists the DWI at its ISLES path (no second copy under extras/)
    acute = read_manifest(cohort / "extras" / "manifest.csv")["phantom_0000"]
    assert acute.images["dwi"].resolve() == case.images["dwi"].resolve()
    assert not list((cohort / "extras" / "phantom_0000").glob("*dwi*"))


def test_real_isles2018_reads_the_same_way(isles2018_root):
    from strokect.data import load_dataset

    ds = load_dataset(isles2018_root)
    assert ds.layout == "isles2018" and ds.cases[0].patient_id == "Train_01"


def test_extras_manifests_list_every_volume(cohort):
    from strokect.data.manifest import read_manifest

    acute = read_manifest(cohort / "extras" / "manifest.csv")["phantom_0000"]
    pair = read_manifest(cohort / "extras" / "manifest_ncct_pairs.csv")["phantom_0000"]
    assert acute.patient_id == pair.patient_id == "phantom_0000"
    assert {"ncct", "ctp", "cbf", "dwi"} <= set(acute.images)
    assert {"core", "penumbra", "labels"} <= set(acute.masks)
    assert {"ncct_baseline", "ncct_followup"} <= set(pair.images)
    assert {"infarct", "hemorrhage", "baseline_brain"} <= set(pair.masks)
    assert not acute.missing and not pair.missing
    for case in (acute, pair):  # one grid per manifest case
        case.check_geometry()


def test_same_seed_identical_files_different_seed_differs(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_cohort(a, n_cases=1, seed=3, preset="tiny", layout="csv")
    write_cohort(b, n_cases=1, seed=3, preset="tiny", layout="csv", workers=2)
    write_cohort(c, n_cases=1, seed=4, preset="tiny", layout="csv")
    ha, hb, hc = _hashes(a), _hashes(b), _hashes(c)
    assert ha == hb
    shared = set(ha) & set(hc)
    assert shared and all(ha[k] != hc[k] for k in shared if k.endswith("ncct_followup.nii.gz"))


@pytest.mark.parametrize("layout", ["isles2024", "csv"])
def test_other_layouts_load(tmp_path, layout):
    from strokect.data import load_dataset

    write_cohort(tmp_path / layout, n_cases=1, seed=1, preset="tiny", layout=layout)
    ds = load_dataset(tmp_path / layout)
    case = ds.cases[0]
    if layout == "isles2024":
        assert ds.layout == "isles2024"
        assert {"ncct", "ctp", "cbf", "cbv", "mtt", "tmax", "cbf_ncct"} <= set(case.images)
        assert "infarct" in case.masks and len(ds.cases) == 1
    else:
        assert ds.layout == "manifest" and len(ds.cases) == 1 and "ctp" in case.images
        pairs = load_dataset(tmp_path / layout / "manifest_ncct_pairs.csv")
        assert "ncct_followup" in pairs.cases[0].images


def test_cli_writes_then_refuses_a_non_empty_folder(tmp_path, capsys):
    out = tmp_path / "cli"
    assert (
        main(
            [
                "synth",
                "-o",
                str(out),
                "--cases",
                "1",
                "--preset",
                "tiny",
                "--layout",
                "csv",
                "--preview",
            ]
        )
        == 0
    )
    assert (out / "manifest.csv").is_file() and (out / "preview" / "phantom_0000.png").is_file()
    capsys.readouterr()
    assert main(["synth", "-o", str(out), "--cases", "1", "--preset", "tiny"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["synth", "-o", str(out), "--cases", "1", "--preset", "tiny", "--overwrite"]) == 0
    # the csv cohort was replaced by an isles2018 one
    assert not (out / "manifest.csv").exists() and not (out / "manifest_ncct_pairs.csv").exists()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("x")
    assert main(["synth", "-o", str(foreign), "--preset", "tiny", "--overwrite"]) == 2
    assert (foreign / "mine.txt").exists()


def test_manifest_roles_are_unique():
    case = synth_case(2, "tiny")
    for group in ("acute", "followup"):
        roles = [manifest_role(group, k) for k in getattr(case, group)]
        assert len(roles) == len(set(roles))


def _reflect_overlap(mask_vol, plane) -> float:
    """Fraction of mask voxels whose mirror image across ``plane`` is also in the mask."""
    idx = np.argwhere(mask_vol.array)
    world = mask_vol.index_to_world(idx)
    c, n = np.asarray(plane["point_lps_mm"]), np.asarray(plane["normal_lps"])
    mirrored = world - 2.0 * ((world - c) @ n)[:, None] * n
    back = np.rint(mask_vol.world_to_index(mirrored)).astype(int)
    ok = np.all((back >= 0) & (back < np.array(mask_vol.spatial_shape)), axis=1)
    hit = np.zeros(len(idx), bool)
    hit[ok] = mask_vol.array[tuple(back[ok].T)] > 0
    return hit.mean()


def test_midsagittal_plane_is_the_head_symmetry_plane():
    case = synth_case(11, "tiny")
    planes = case.metadata["head_pose"]["midsagittal_plane"]
    for key, plane_key in (("baseline_intracranial", "baseline"), ("intracranial", "followup")):
        vol = case.followup[key]
        good = _reflect_overlap(vol, planes[plane_key])
        a = np.deg2rad(20.0)
        n = np.asarray(planes[plane_key]["normal_lps"])
        turned = dict(
            planes[plane_key],
            normal_lps=[
                n[0] * np.cos(a) - n[1] * np.sin(a),
                n[0] * np.sin(a) + n[1] * np.cos(a),
                n[2],
            ],
        )
        shifted = dict(
            planes[plane_key], point_lps_mm=list(np.add(planes[plane_key]["point_lps_mm"], 8 * n))
        )
        assert good > 0.93
        assert good > _reflect_overlap(vol, turned) + 0.02
        assert good > _reflect_overlap(vol, shifted) + 0.02
    yaw = case.metadata["head_pose"]["yaw_deg"]
    normal = planes["baseline"]["normal_lps"]
    assert np.degrees(np.arctan2(normal[1], normal[0])) == pytest.approx(yaw)
