"""What each input role must look like (`strokect.data.plausibility`): wrong files refused with
the role named, unusual ones warned, and no phantom or real case refused."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from strokect.cli.main import main
from strokect.data.plausibility import check_input
from strokect.errors import InputError, StrokectWarning
from strokect.io import Volume, read_volume
from strokect.phantom import synth_case


@pytest.fixture(scope="module")
def phantom():
    return synth_case(3, preset="tiny")


@pytest.mark.parametrize("preset", ["tiny", "isles"])
def test_every_phantom_role_passes(preset):
    case = synth_case(5, preset=preset)
    for role in ("ct", "cbf", "cbv", "mtt", "tmax", "ctp"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", StrokectWarning)  # not even a warning
            _, checks = check_input(role, case.acute[role])
        assert checks and all(c["result"] == "ok" for c in checks), (role, checks)


@pytest.mark.realdata
def test_real_cases_are_not_refused(isles2018_root, aisd_ct_dir, gantry_tilt_dir):
    for case in ("case_1", "case_2"):
        for role, mod in (("ct", "CT"), ("cbf", "CT_CBF"), ("cbv", "CT_CBV")):
            path = next((isles2018_root / "TRAINING" / case).glob(f"SMIR.Brain.XX.O.{mod}.*/*.nii"))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, checks = check_input(role, read_volume(path))
            # ISLES 2018 maps are scaled (CBF medians 151 and 213): a warning, not a refusal
            assert {c["result"] for c in checks} <= {"ok", "warning"}
    for folder in (aisd_ct_dir, gantry_tilt_dir):
        _, checks = check_input("ct", read_volume(folder))
        assert all(c["result"] == "ok" for c in checks)


def _bad(phantom, role):
    ct, cbf = phantom.acute["ct"], phantom.acute["cbf"]
    return {
        "zero_cbf": ("cbf", cbf.with_array(np.zeros(cbf.spatial_shape, np.float32))),
        "ct_as_cbf": ("cbf", ct),
        "ct_as_cbv": ("cbv", ct),
        "cbf_as_ct": ("ct", cbf),
        "constant_ct": ("ct", ct.with_array(np.full(ct.spatial_shape, 40.0))),
        "map_without_background": ("cbf", cbf.with_array(cbf.array + 30.0)),
        "3d_as_ctp": ("ctp", ct),
        "ctp_without_bolus": ("ctp", phantom.acute["ctp"].with_array(
            np.repeat(phantom.acute["ctp"].array[:1], phantom.acute["ctp"].n_frames, axis=0))),
        "4d_as_ct": ("ct", phantom.acute["ctp"]),
    }[role]  # fmt: skip


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("zero_cbf", "input cbf: values 0 to 0: a constant image"),
        ("ct_as_cbf", "a CBF map is not negative (is this a CT in HU?)"),
        ("ct_as_cbv", "input cbv: "),
        ("cbf_as_ct", "no air and no bone: not a head CT in HU"),
        ("constant_ct", "input ct: values 40 to 40: a constant image"),
        ("map_without_background", "non-zero in 100.0 % of the volume: 1-99 % expected"),
        ("3d_as_ctp", "input ctp: 1 frame(s): a 4D perfusion series is needed"),
        ("ctp_without_bolus", "rises 0.00 HU: >= 1 HU expected (no contrast bolus?)"),
        ("4d_as_ct", "input ct: a 4D series"),
    ],
)
def test_wrong_files_are_refused_naming_the_role(phantom, bad, message):
    role, volume = _bad(phantom, bad)
    with pytest.raises(InputError, match=None) as err:
        check_input(role, volume)
    assert message in str(err.value)


def test_unusual_map_units_warn_and_are_recorded(phantom):
    cbf = phantom.acute["cbf"]
    with pytest.warns(StrokectWarning, match="usual 5-150 mL/100 g/min"):
        _, checks = check_input("cbf", cbf.with_array(cbf.array * 10))
    assert [c["result"] for c in checks if c["check"] == "usual_range"] == ["warning"]


def test_segment_refuses_the_ct_given_as_cbf_and_cbv(tmp_path, phantom, capsys):
    """Before: 0.00 mL and exit 0. Now one line, exit 2, nothing written."""
    from strokect.io import write_volume

    ct = write_volume(phantom.acute["ct"], tmp_path / "ct.nii.gz")
    out = tmp_path / "out"
    args = ["segment", "--input", f"ct={ct}", "--input", f"cbf={ct}", "--input", f"cbv={ct}"]
    assert main([*args, "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: input cbf: ") and "is this a CT in HU?" in err
    assert not out.exists()
    zero = write_volume(
        Volume(np.zeros(phantom.acute["cbf"].spatial_shape, np.float32), (5.0, 3.9, 3.9)),
        tmp_path / "zero.nii.gz",
    )
    args = ["segment", "--input", f"ct={ct}", "--input", f"cbf={zero}", "--input", f"cbv={zero}"]
    assert main([*args, "-o", str(out), "--quiet"]) == 2
    assert "input cbf: values 0 to 0: a constant image" in capsys.readouterr().err
