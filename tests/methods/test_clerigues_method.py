import numpy as np
import pytest
import torch

from strokect.config import resolve_config
from strokect.engine.loop import fit
from strokect.errors import InputError
from strokect.io import Volume
from strokect.methods.checkpoint import load_model
from strokect.methods.clerigues import CleriguesConfig, CleriguesMethod, prepare_volumes


def toy_volumes(seed: int = 0, shape=(3, 64, 64), shift_x: int = 3):
    """A toy head: ellipse brain (off-centre by ``shift_x``), right-side core with low CBF/CBV."""
    rng = np.random.default_rng(seed)
    _z, y, x = np.indices(shape)
    cy, cx = shape[1] / 2, shape[2] / 2 + shift_x
    brain = ((y - cy) / 24) ** 2 + ((x - cx) / 20) ** 2 < 1
    skull = (((y - cy) / 27) ** 2 + ((x - cx) / 23) ** 2 < 1) & ~brain
    core = ((y - cy - 4) / 7) ** 2 + ((x - cx - 9) / 5) ** 2 < 1
    ct = np.where(brain, 35.0, -1000.0) + np.where(skull, 1000.0, 0) + rng.normal(0, 2, shape)
    cbf = np.where(brain, np.where(core, 8.0, 50.0), 0.0) + brain * rng.normal(0, 2, shape)
    cbv = np.where(brain, np.where(core, 0.8, 4.0), 0.0) + brain * rng.normal(0, 0.2, shape)
    geo = {"spacing_mm": (5.0, 0.9, 0.9)}
    vols = {
        "ct": Volume(ct.astype(np.float32), **geo),
        "cbf": Volume(cbf.astype(np.float32), **geo),
        "cbv": Volume(cbv.astype(np.float32), **geo),
    }
    return vols, core.astype(np.uint8)


def test_prepare_volumes_channels_mask_and_zscore():
    vols, _ = toy_volumes()
    prepared = prepare_volumes(vols, modalities=("ct", "cbf", "cbv"))
    image, brain, channels = prepared.image, prepared.roi, prepared.channels
    assert [h["step"] for h in prepared.history] == [
        "perfusion_skull_strip",
        "zscore_brain",
        "symmetric_modalities",
    ]
    assert prepared.grid is vols["ct"]
    assert channels == ["ct", "cbf", "cbv", "ct_sym", "cbf_sym", "cbv_sym"]
    assert image.shape == (6, 3, 64, 64) and image.dtype == np.float32
    assert np.array_equal(brain.astype(bool), vols["cbf"].array + vols["cbv"].array != 0)
    for c in range(3):
        inside = image[c][brain > 0]
        assert abs(inside.mean()) < 1e-4 and abs(inside.std() - 1) < 1e-3
        assert not image[c][brain == 0].any()  # skull stripped, zero outside the brain
    # the mirrored CBF shows the core on the other hemisphere of the (off-centre) head
    core_side = image[1, 1, 36, 43]
    assert core_side < -1 and image[4, 1, 36, 43] > 0


def test_prepare_refuses_missing_modality():
    vols, _ = toy_volumes()
    with pytest.raises(InputError, match="mtt"):
        prepare_volumes(vols, modalities=("ct", "cbf", "mtt"))


def test_config_validation_and_overrides():
    cfg = resolve_config(
        CleriguesConfig, overrides=["modalities=ct,cbf,cbv", "patches_per_case=10"]
    )
    assert cfg.modalities == ("ct", "cbf", "cbv") and cfg.patches_per_case == 10
    assert CleriguesMethod(cfg).extra["channels"][3:] == ["ct_sym", "cbf_sym", "cbv_sym"]
    with pytest.raises(InputError):
        CleriguesConfig(modalities=("ct",))  # no perfusion map: no brain mask
    with pytest.raises(InputError):
        CleriguesConfig(modalities=("ct", "dwi"))


def test_fit_few_steps_and_checkpoint_roundtrip(tmp_path):
    cfg = CleriguesConfig(
        modalities=("ct", "cbf", "cbv"),
        patches_per_case=32,
        batch_size=16,
        base_filters=4,
        patch_size=32,
        max_epochs=2,
    )
    cases = []
    for i in range(3):
        vols, core = toy_volumes(seed=i)
        prepared = prepare_volumes(vols, modalities=cfg.modalities)
        prepared.label, prepared.case_id = core, f"c{i}"
        cases.append(prepared)
    method = CleriguesMethod(cfg)
    method._prepared = {c.case_id: c for c in cases}  # prepared in memory, no Case files
    result = fit(
        method,
        lambda ctx: method.train_data([_Id(c.case_id) for c in cases[:2]], ctx),
        lambda ctx: method.val_data([_Id(c.case_id) for c in cases[2:]], ctx),
        out_dir=tmp_path / "run",
        progress=False,
    )
    assert (result.epochs_run, result.steps) == (2, 2 * 4)  # 64 patches / batch 16 per epoch
    assert result.model_path.is_file() and "val_l1_plus_error" in result.history[-1]
    loaded, nets = load_model(tmp_path / "run" / "model.pt", method="clerigues")
    assert loaded.extra["channels"] == cases[0].channels
    assert loaded.config.modalities == ("ct", "cbf", "cbv")
    x = torch.from_numpy(cases[0].image[:, 1][None, ..., :32, :32].copy())
    with torch.no_grad():
        prob = loaded.predictor(nets)(x)
    assert prob.shape == (1, 1, 32, 32) and float(prob.min()) >= 0 and float(prob.max()) <= 1


class _Id:
    def __init__(self, case_id):
        self.case_id = case_id


def test_prepare_case_cache_hit_and_invalidation(tmp_path, monkeypatch):
    from strokect.data.case import Case
    from strokect.io import write_volume
    from strokect.methods.clerigues import prepare_case

    vols, core = toy_volumes(shape=(4, 48, 48))
    for role, vol in vols.items():
        write_volume(vol, tmp_path / f"{role}.nii.gz")
    write_volume(vols["ct"].with_array(core), tmp_path / "core.nii.gz")
    images = {r: tmp_path / f"{r}.nii.gz" for r in vols}
    case = Case("c0", "p0", images=images, masks={"core": tmp_path / "core.nii.gz"})
    opts = {"modalities": ("ct", "cbf", "cbv"), "cache_dir": tmp_path / "cache"}
    first = prepare_case(case, **opts)
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1

    def no_read(self, role, **kw):
        raise AssertionError("cache hit expected, but an image was read")

    monkeypatch.setattr(Case, "load", no_read)
    monkeypatch.setattr(Case, "load_roles", no_read)
    second = prepare_case(case, **opts)
    assert np.array_equal(first.image, second.image) and np.array_equal(first.label, second.label)
    assert second.channels == first.channels and second.history == first.history
    assert second.grid.same_geometry(first.grid) and np.array_equal(second.roi, first.roi)
    monkeypatch.undo()
    write_volume(vols["cbf"].with_array(vols["cbf"].array * 2), tmp_path / "cbf.nii.gz")
    prepare_case(case, **opts)  # changed content -> new entry
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2


def test_shipped_weights_are_small_safe_checkpoints_with_cv_calibration():
    from strokect.methods.registry import default_weights

    try:
        paths = default_weights("clerigues", ["ct", "cbf", "cbv"])
    except InputError:
        pytest.skip("no shipped clerigues CT+CBF+CBV weights")
    assert len(paths) == 5
    for path in paths:
        assert path.stat().st_size < 500_000
        data = torch.load(path, map_location="cpu", weights_only=True)
        assert data["method"] == "clerigues"
        assert data["extra"]["channels"] == ["ct", "cbf", "cbv", "ct_sym", "cbf_sym", "cbv_sym"]
        post = data["extra"]["postprocess"]  # format 1: read as the calibration (below)
        assert 0 < post["threshold"] < 1 and post["min_size_vox"] >= 0
        method, _ = load_model(path)
        assert (method.calibration.threshold, method.calibration.min_size_vox) == (
            post["threshold"],
            post["min_size_vox"],
        )
        assert method.calibration_info["chosen_by"].startswith("joint Dice+HD")
    # an extra map does not matter until every input of the richer model is there
    assert default_weights("clerigues", ["ct", "cbf", "cbv", "mtt"]) == paths
    with pytest.raises(InputError, match="no shipped"):
        default_weights("clerigues", ["ct"])


FIVE = "clerigues_ct-cbf-cbv-mtt-tmax"


def test_shipped_five_input_model_is_small_calibrated_and_picked_when_all_maps_are_there():
    from strokect.methods.checkpoint import load_checkpoint
    from strokect.methods.registry import WEIGHTS_DIR, default_weights, shipped_models

    files = shipped_models("clerigues")[FIVE]
    assert len(files) == 5
    assert default_weights("clerigues", ["ct", "cbf", "cbv", "mtt", "tmax", "ctp"]) == files
    for path in files:
        assert path.stat().st_size < 500_000
        ckpt = load_checkpoint(path, method="clerigues")
        cfg = ckpt["config"]
        assert cfg["modalities"] == ["ct", "cbf", "cbv", "mtt", "tmax"]
        assert (cfg["architecture"], cfg["base_filters"], cfg["patches_per_case"]) == (
            "paper",
            4,
            170,
        )
        # chosen on the 90 cross-validation predictions (model card)
        assert ckpt["calibration"]["values"] == {"threshold": 0.1, "min_size_vox": 50}
        assert set(ckpt["domain"]["roles"]) == {"ct", "cbf", "cbv", "mtt", "tmax"}
    assert (WEIGHTS_DIR / f"{FIVE}.md").is_file()


def test_shipped_five_input_model_segments_a_heldout_realistic_phantom(tmp_path):
    from strokect.phantom import case_seed, synth_case
    from strokect.pipelines.segment import segment

    # held-out case 10 (cohort seed 7777) of heldout_conspicuity.py: Dice 0.82 there
    case = synth_case(case_seed(7777, 9), "realistic", kind="ischemic")
    ref = case.acute["core"].array > 0
    maps = {k: case.acute[k] for k in ("ct", "cbf", "cbv", "mtt", "tmax")}
    res = segment(maps, tmp_path / "out", method="clerigues", report=False)
    pred = res.outputs["mask"].array > 0
    dice = 2 * (pred & ref).sum() / (pred.sum() + ref.sum())
    assert dice > 0.75, dice
    assert res.provenance["weights"][0]["file"].startswith(FIVE)
    assert not res.provenance["domain_check"]["out_of_domain"]
