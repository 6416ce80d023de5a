"""Out-of-domain inputs are flagged: the shipped weights carry the statistics of their phantom
training inputs; a held-out phantom case passes, a real ISLES case is flagged and says so."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from strokect.data.domain import assess_domain, training_domain
from strokect.errors import StrokectWarning
from strokect.io import Volume
from strokect.pipelines.segment import segment
from tests.pipelines.test_clerigues_reference import REFERENCE


def _reference_volumes():
    with np.load(REFERENCE) as ref:
        geo = {"spacing_mm": tuple(ref["spacing_mm"]), "origin": tuple(ref["origin"])}
        return {
            r: Volume(ref[f"input_{r}"].astype(np.float32), **geo) for r in ("ct", "cbf", "cbv")
        }


def test_held_out_phantom_is_in_the_shipped_domain(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", StrokectWarning)
        result = segment(_reference_volumes(), tmp_path / "out", options=["mc_passes=0"])
    check = result.provenance["domain_check"]
    assert check["checked"] and check["out_of_domain"] is False
    assert "synthetic phantoms only" in check["scope"]
    volumes = json.loads(result.paths["volumes_json"].read_text())
    assert (
        volumes["out_of_domain"] is False and "not validated on patient" in volumes["model_scope"]
    )


@pytest.mark.realdata
def test_real_isles_case_is_flagged_out_of_domain(isles2018_root, tmp_path):
    with pytest.warns(StrokectWarning, match="out of domain: .*cbf intensity 151"):
        result = segment(isles2018_root / "TRAINING" / "case_1", tmp_path / "out")
    check = result.provenance["domain_check"]
    assert check["out_of_domain"] is True
    flagged = {f["what"] for f in check["findings"] if f["out_of_domain"]}
    assert flagged == {"cbf intensity", "cbv intensity"}
    header, row = (line.split(",") for line in result.paths["volumes_csv"].read_text().split())
    assert dict(zip(header, row))["out_of_domain"] == "true"


def test_domain_rules_on_constructed_statistics():
    grid = {"spacing_mm": (5.0, 1.0, 1.0)}
    rng = np.random.default_rng(0)
    cases = [({"cbf": Volume(rng.normal(25 + i, 5, (2, 8, 8)), **grid)}, None) for i in range(3)]
    domain = training_domain(cases, scope="toy")
    low, high = domain["roles"]["cbf"]["median_range"]
    iqr = domain["roles"]["cbf"]["pooled_iqr"]
    assert 24 < low < high < 28 and 5 < iqr < 9
    inside = {"cbf": Volume(np.full((2, 8, 8), (low + high) / 2), **grid)}
    edge = {"cbf": Volume(np.full((2, 8, 8), high + 0.4 * iqr), **grid)}
    far = {"cbf": Volume(np.full((2, 8, 8), high + 0.6 * iqr), **grid)}
    coarse = {"cbf": Volume(np.full((2, 8, 8), low), spacing_mm=(5.0, 1.3, 1.3))}
    flags = [
        {f["what"]: f["out_of_domain"] for f in assess_domain(v, None, domain)}
        for v in (inside, edge, far, coarse)
    ]
    assert [f["cbf intensity"] for f in flags] == [False, False, True, False]
    assert [f["in-plane spacing"] for f in flags] == [False, False, False, True]


def test_training_records_the_domain(tmp_path):
    from strokect.cli.main import main
    from strokect.methods.checkpoint import find_model_checkpoints
    from tests.methods.test_clerigues_crossval import SETTINGS, _write_dataset

    root = _write_dataset(tmp_path / "data", n_cases=4)
    run = tmp_path / "run"
    args = ["train", "--method", "clerigues", "--data", str(root), "-o", str(run), "--folds", "2"]
    for setting in SETTINGS:
        args += ["--set", setting]
    assert main([*args, "--no-progress"]) == 0
    for path in find_model_checkpoints(run):
        domain = torch.load(path, weights_only=True)["domain"]
        assert domain["n_cases"] == 4 and set(domain["roles"]) == {"ct", "cbf", "cbv"}
