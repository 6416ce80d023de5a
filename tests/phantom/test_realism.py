"""The ``realistic`` preset: vendor-like maps, DWI-like labels and CT (issue 16)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from strokect.phantom import synth_case
from strokect.phantom.presets import PRESETS

#: the realistic preset at half the in-plane resolution (a case in ~2 s)
SMALL = dataclasses.replace(
    PRESETS["realistic"],
    name="realistic-small",
    ctp_shape_yx=(128, 128),
    ctp_spacing_yx_mm=(1.95, 1.95),
    ncct_shape_yx=(128, 128),
    ncct_spacing_yx_mm=(1.95, 1.95),
    anatomy_spacing_mm=(2.0, 2.0, 2.0),
)


@pytest.fixture(scope="module")
def case():
    return synth_case(4, SMALL, kind="ischemic")


def test_vendor_like_maps(case):
    a = case.acute
    brain = a["brain"].array > 0
    for key in ("cbf", "cbv"):
        arr = a[key].array
        assert np.array_equal(arr, np.rint(arr)) and arr.min() >= 0  # integers, like vendor files
        assert np.median(arr[brain]) > 10.0  # scaled, not mL/100 g
        assert a[f"truth_{key}"].array.max() < 200  # the truth is kept in physical units
    cbf = a["cbf"].array
    assert (cbf[brain] > 3 * np.median(cbf[brain])).mean() > 0.001  # vessels stay in the map
    csf = (a["labels"].array == 3) & (a["intracranial"].array > 0)
    assert (cbf[csf] > 0).mean() > 0.5  # the map covers CSF, as vendor maps do
    assert case.metadata["realism"]["cbf_scale"] >= 6.0


def test_label_follows_a_dwi_like_lesion_and_conspicuity_range(case):
    a = case.acute
    label, truth = a["core"].array > 0, a["core_truth"].array > 0
    dice = 2 * (label & truth).sum() / (label.sum() + truth.sum())
    assert 0.3 < dice <= 1.0
    frac = case.metadata["tissue_values"]["perfusion"]["core_cbf_fraction"]
    assert 0.08 <= frac <= 0.8
    fractions = [
        synth_case(s, "tiny", kind="ischemic").metadata["tissue_values"]["perfusion"][
            "core_cbf_fraction"
        ]
        for s in range(3)
    ]
    assert all(0.08 <= f <= 0.25 for f in fractions)  # other presets keep the old range


def test_realistic_ct_is_noisier_than_the_plain_preset(case):
    plain = synth_case(
        4, dataclasses.replace(SMALL, name="plain", realistic=False), kind="ischemic"
    )
    brain = case.acute["brain"].array > 0

    def residual_sd(vol):
        from scipy import ndimage

        arr = vol.array.astype(np.float32)
        return float(np.std((arr - ndimage.median_filter(arr, size=(1, 3, 3)))[brain]))

    assert residual_sd(case.acute["ct"]) > 1.2 * residual_sd(plain.acute["ct"])
    # the same subject: only the acute inputs changed
    assert np.array_equal(
        plain.followup["ncct_followup"].array, case.followup["ncct_followup"].array
    )


def test_realistic_case_in_a_csv_manifest_is_readable(tmp_path):
    """The truth maps the preset adds are manifest roles (the acute manifest was unreadable)."""
    from strokect.data import load_dataset
    from strokect.phantom import write_cohort

    write_cohort(tmp_path / "cohort", n_cases=1, seed=4, preset=SMALL, layout="csv")
    loaded = load_dataset(tmp_path / "cohort" / "manifest.csv").cases[0]
    assert {"truth_cbf", "truth_tmax", "cbf"} <= set(loaded.images)
    assert loaded.load("truth_cbf").array.max() < 200
