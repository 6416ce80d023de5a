"""Render the head-frame phantom into scanner grids: acute slab (NCCT, CTP, maps, DWI) and NCCT pair."""

from __future__ import annotations

import numpy as np

from strokect.io import Volume
from strokect.phantom import acquisition as acqm
from strokect.phantom.anatomy import ARTERY, BONE, CSF, PARENCHYMA, PUBLIC_LABEL, VEIN, Anatomy
from strokect.phantom.geometry import Grid, resample_to_grid
from strokect.phantom.lesions import lesion_class_of
from strokect.phantom.perfusion import ResidueTable, aif_curve, vof_curve
from strokect.phantom.tissues import dwi_map, hu_map, perfusion_maps

MAX_BONE_FRACTION = 0.01  # follow-up infarct voxels hold less bone than this (partial volume)
AIR_HU = -1000.0
MIN_CBF = 1.0  # mL/100 g/min: below this a voxel has no tissue perfusion (MTT/Tmax stored as 0)


def _volume(array: np.ndarray, grid: Grid, *, time_s=None, **meta) -> Volume:
    return Volume(
        array=array,
        spacing_mm=grid.spacing_mm,
        origin=grid.origin_lps,
        direction=np.eye(3),
        time_s=time_s,
        metadata=dict(meta),
    )


class _Sampler:
    """Resample head-grid fields into one scanner grid with one pose."""

    def __init__(self, anatomy: Anatomy, grid: Grid, pose: np.ndarray):
        self.anatomy, self.grid, self.pose = anatomy, grid, pose
        self.thickness = grid.spacing_mm[0]
        packed = PUBLIC_LABEL[anatomy.tissue] | (np.isin(anatomy.tissue, PARENCHYMA) << 3).astype(
            np.uint8
        )
        packed |= (anatomy.tissue == CSF).astype(np.uint8) << 4
        cavity = np.isin(anatomy.tissue, (*PARENCHYMA, CSF, ARTERY, VEIN)) & (
            anatomy.bone_depth == 0
        )
        self.packed = packed | (cavity.astype(np.uint8) << 5)
        self._codes = None

    def smooth(self, field: np.ndarray, *, outside: float = 0.0) -> np.ndarray:
        """Partial-volume (thick-slice) average of a head-grid field (``outside`` beyond), float64."""
        return resample_to_grid(
            np.asarray(field, np.float32),
            self.anatomy.grid,
            self.pose,
            self.grid,
            order=1,
            slice_thickness_mm=self.thickness,
            cval=outside,
        )

    def mask(self, field: np.ndarray) -> np.ndarray:
        """Mask of voxels at least half covered by ``field`` (uint8)."""
        return (self.smooth(field.astype(np.float32)) >= 0.5).astype(np.uint8)

    def codes(self) -> np.ndarray:
        if self._codes is None:
            self._codes = resample_to_grid(
                self.packed, self.anatomy.grid, self.pose, self.grid, order=0
            )
        return self._codes

    def anatomy_masks(self) -> dict[str, np.ndarray]:
        c = self.codes()
        return {
            "brain": ((c >> 3) & 1).astype(np.uint8),
            "csf": ((c >> 4) & 1).astype(np.uint8),
            "intracranial": ((c >> 5) & 1).astype(np.uint8),
        }

    def labels(self) -> np.ndarray:
        return (self.codes() & 7).astype(np.uint8)


def _curves_into(ctp: np.ndarray, table: ResidueTable, times, cbf, mtt, delay) -> None:
    sel = cbf > MIN_CBF
    idx = np.flatnonzero(sel)
    chunk = 200_000
    flat = ctp.reshape(ctp.shape[0], -1)
    for start in range(0, idx.size, chunk):
        part = idx[start : start + chunk]
        flat[:, part] += table.curves(
            times, cbf=cbf.ravel()[part], mtt_s=mtt.ravel()[part], delay_s=delay.ravel()[part]
        )


def render_acute(anatomy, lesion, values, acq, aif, *, grid, pose, times, rng, lesion_p):
    """Acute slab volumes (see `PhantomCase`) and extra information (VOF)."""
    s = _Sampler(anatomy, grid, pose)
    side = None if lesion_p["kind"] in ("hemorrhage", "none") else lesion_p["territory"][-1]
    maps = perfusion_maps(anatomy, values, lesion, lesion_side=side)
    cbf = s.smooth(maps["cbf"])
    cbv = s.smooth(maps["cbv"])
    delay = np.where(
        cbf > MIN_CBF, s.smooth(maps["cbf"] * maps["delay"]) / np.maximum(cbf, 1e-9), 0.0
    )
    perfused = cbf > MIN_CBF
    mtt = np.where(perfused, 60.0 * cbv / np.maximum(cbf, 1e-9), 0.0)
    cbf, cbv = np.where(perfused, cbf, 0.0), np.where(perfused, cbv, 0.0)
    hu = hu_map(anatomy, values)
    hu_acute = hu - acq["early_ischemic_change_hu"] * lesion["core"]
    static = s.smooth(hu_acute, outside=AIR_HU)
    f_art, f_vein = s.smooth(anatomy.tissue == ARTERY), s.smooth(anatomy.tissue == VEIN)
    table = ResidueTable(aif, t_end_s=float(times[-1]) + 1.0)
    ctp = np.repeat(static[None], times.size, axis=0)
    _curves_into(ctp, table, times, cbf, mtt, delay)
    vof_params = {"delay_s": 6.0, "dispersion": 1.6}
    ctp += f_art[None] * aif_curve(times, aif)[:, None, None, None]
    ctp += f_vein[None] * vof_curve(times, aif, **vof_params)[:, None, None, None]
    ctp += rng.standard_normal(ctp.shape) * acq["ctp_noise_sd_hu"]
    ct = static + acqm.ct_noise(
        rng,
        grid.shape,
        sd_hu=acq["acute_ncct_noise_sd_hu"],
        correlation_px=acq["noise_correlation_px"],
    )
    dwi = s.smooth(dwi_map(anatomy, values, lesion))
    sd = values["dwi"]["noise_sd"]
    dwi = np.hypot(dwi + rng.standard_normal(dwi.shape) * sd, rng.standard_normal(dwi.shape) * sd)
    core, pen = s.mask(lesion["core"]), s.mask(lesion["penumbra"])
    labels = s.labels()
    labels[pen.astype(bool)] = 4
    labels[core.astype(bool)] = 5
    vz = np.unravel_index(np.argmax(f_vein), f_vein.shape)
    out = {
        "ct": _volume(np.round(ct).astype(np.int16), grid, modality="CT", unit="HU"),
        "ctp": _volume(
            np.round(ctp).astype(np.int16), grid, time_s=times, modality="CTP", unit="HU"
        ),
        "cbf": _volume(cbf.astype(np.float32), grid, unit="mL/100g/min"),
        "cbv": _volume(cbv.astype(np.float32), grid, unit="mL/100g"),
        "mtt": _volume(mtt.astype(np.float32), grid, unit="s"),
        "tmax": _volume(np.where(perfused, delay, 0.0).astype(np.float32), grid, unit="s"),
        "dwi": _volume(dwi.astype(np.float32), grid, modality="DWI", unit="a.u."),
        "blood_fraction": _volume((f_art + f_vein).astype(np.float32), grid, unit="1"),
        "core": _volume(core, grid),
        "penumbra": _volume(pen, grid),
        **{k: _volume(v, grid) for k, v in s.anatomy_masks().items() if k != "csf"},
        "labels": _volume(labels, grid),
    }
    vof = {
        **vof_params,
        "location_voxel_zyx": [int(v) for v in vz],
        "venous_fraction": float(f_vein[vz]),
        "model": "AIF delayed by delay_s, beta scaled by dispersion, same area",
    }
    return out, {"vof": vof}


def render_followup(anatomy, lesion, values, acq, *, grid, pose, rigid, rng, lesion_p):
    """Baseline and follow-up NCCT on the same grid, follow-up moved by ``rigid``."""
    hu = hu_map(anatomy, values)
    bl = _Sampler(anatomy, grid, pose)
    fu = _Sampler(anatomy, grid, rigid @ pose)
    corr = acq["noise_correlation_px"]
    baseline = bl.smooth(hu, outside=AIR_HU) + acqm.ct_noise(
        rng, grid.shape, sd_hu=acq["baseline_noise_sd_hu"], correlation_px=corr
    )
    clean = fu.smooth(hu, outside=AIR_HU)
    gain, offset = acq["followup_contrast_gain"], acq["followup_offset_hu"]
    f_hem = fu.smooth(lesion["hemorrhage"])
    img = clean + f_hem * (lesion_p["hemorrhage_hu"] - clean)
    soft = (clean > -200.0) & (clean < 300.0)  # scanner contrast/offset around brain level
    img = np.where(soft, 40.0 + gain * (img - 40.0), img) + offset
    img += acqm.ct_noise(rng, grid.shape, sd_hu=acq["followup_noise_sd_hu"], correlation_px=corr)
    hem_mask = fu.mask(lesion["hemorrhage"])
    infarct_mask = fu.mask(lesion["infarct"])
    f_inf = fu.smooth(lesion["infarct"] & ~lesion["hemorrhage"])
    infarct_mask[fu.smooth(anatomy.tissue == BONE) > MAX_BONE_FRACTION] = 0
    m_inf = infarct_mask.astype(bool) & ~hem_mask.astype(bool)
    info = {"lesion_class": None, "infarct_mean_hu": None, "infarct_shift_hu": 0.0}
    if lesion_p["kind"] in ("ischemic", "ischemic_ht") and m_inf.any():
        lo, hi = {"severe": (14.0, 22.0), "intermediate": (22.0, 32.0), "subtle": (32.0, 44.0)}[
            lesion_p["lesion_class_requested"]
        ]
        before = float(np.round(img[m_inf]).mean())
        hi = min(hi, before - 0.5)  # an infarct is hypodense: at least 1 HU below its tissue
        target = (
            lo + 0.5 + lesion_p["class_position"] * (hi - lo - 1.0) if hi > lo + 1 else hi - 0.5
        )
        shift = float(np.clip((before - target) / f_inf[m_inf].mean(), 0.5, 35.0))
        img -= shift * f_inf
        mean = float(np.round(img[m_inf]).mean())
        info = {
            "lesion_class": lesion_class_of(mean),
            "infarct_mean_hu": mean,
            "infarct_shift_hu": shift,
        }
    labels = fu.labels()
    out = {
        "ncct_baseline": _volume(
            np.round(baseline).astype(np.int16), grid, modality="CT", unit="HU"
        ),
        "ncct_followup": _volume(np.round(img).astype(np.int16), grid, modality="CT", unit="HU"),
        "infarct": _volume(infarct_mask, grid),
        "hemorrhage": _volume(hem_mask, grid),
        **{k: _volume(v, grid) for k, v in fu.anatomy_masks().items()},
        **{f"baseline_{k}": _volume(v, grid) for k, v in bl.anatomy_masks().items() if k != "csf"},
        "baseline_infarct": _volume(bl.mask(lesion["infarct"]), grid),
        "labels": _volume(labels, grid),
    }
    return out, info
