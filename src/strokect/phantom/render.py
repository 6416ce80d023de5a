"""Render the head-frame phantom into scanner grids: acute slab (NCCT, CTP, maps, DWI) and NCCT pair."""

from __future__ import annotations

import numpy as np

from strokect.io import Volume
from strokect.phantom import acquisition as acqm
from strokect.phantom.anatomy import ARTERY, BONE, CSF, PARENCHYMA, PUBLIC_LABEL, VEIN, Anatomy
from strokect.phantom.geometry import Grid, resample_to_grid, target_block
from strokect.phantom.lesions import LESION_CLASSES, lesion_class_of
from strokect.phantom.perfusion import ResidueTable, aif_curve, vof_curve
from strokect.phantom.tissues import dwi_map, hu_map, perfusion_maps

MAX_BONE_FRACTION = 0.01  # follow-up infarct voxels hold less bone than this (partial volume)
AIR_HU = -1000.0
PENUMBRA_TMAX_S = 6.0  # penumbra voxels have truth Tmax above this (Albers et al., NEJM 2018)
MIN_CBF = 1.0  # mL/100 g/min: below this a voxel has no tissue perfusion (MTT/Tmax stored as 0)
MIN_HYPODENSITY_HU = 3.0  # a follow-up infarct is at least this much darker than its tissue
#: with a requested class (``lesion_class`` option): the smallest mean hypodensity of the infarct
#: (a subtle infarct in 40 HU grey matter may be 1-3 HU darker) and the largest shift of a fully
#: infarcted voxel (35 HU below 40 HU tissue is about CSF: an infarct gets no darker than water)
CLASS_MIN_SHIFT_HU = 1.0
MAX_SHIFT_HU = 35.0
CLASS_MARGIN_HU = 0.5  # the class target stays this far inside the class interval
#: infarcted tissue too dark for its requested class is brightened to this far above the class
#: floor + margin + minimum shift (see `render_followup`)
BRIGHTEN_MARGIN_HU = 1.5


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
        self._codes = None

    def _packed(self) -> np.ndarray:
        """Public label (bits 0-2) + parenchyma (bit 3) + CSF (bit 4) + cavity (bit 5), cached."""
        a = self.anatomy
        if getattr(a, "_packed", None) is None:
            packed = PUBLIC_LABEL[a.tissue]
            packed |= np.isin(a.tissue, PARENCHYMA).astype(np.uint8) << 3
            packed |= (a.tissue == CSF).astype(np.uint8) << 4
            cavity = a.cavity & np.isin(a.tissue, (*PARENCHYMA, CSF, ARTERY, VEIN))
            a._packed = packed | (cavity.astype(np.uint8) << 5)
        return a._packed

    def smooth(self, field: np.ndarray, *, outside: float = 0.0, block=None) -> np.ndarray:
        """Partial-volume (thick-slice) average of a head-grid field (``outside`` beyond), float64."""
        return resample_to_grid(
            field,
            self.anatomy.grid,
            self.pose,
            self.grid,
            order=1,
            slice_thickness_mm=self.thickness,
            cval=outside,
            block=block,
        )

    def fraction(self, mask: np.ndarray) -> np.ndarray:
        """Partial-volume fraction of a (sparse) boolean head-grid mask, computed in its box only."""
        if not mask.any():
            return np.zeros(self.grid.shape)
        box = []
        for axis in range(3):
            hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
            box += [int(hit[0]), int(hit[-1]) + 1]
        block = target_block(self.grid, self.anatomy.grid, self.pose, tuple(box))
        pad = int(np.ceil(self.thickness / self.grid.spacing_mm[0]))
        block = (max(block[0] - pad, 0), min(block[1] + pad, self.grid.shape[0]), *block[2:])
        return self.smooth(mask.astype(np.float32), block=block)

    def mask(self, field: np.ndarray) -> np.ndarray:
        """Mask of voxels at least half covered by ``field`` (uint8)."""
        return (self.fraction(field) >= 0.5).astype(np.uint8)

    def codes(self) -> np.ndarray:
        if self._codes is None:
            self._codes = resample_to_grid(
                self._packed(), self.anatomy.grid, self.pose, self.grid, order=0
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


def _truth_maps(s: _Sampler, maps: dict) -> dict[str, np.ndarray]:
    """Thick-slice truth maps: CBF, CBV partial-volume averages; delay CBF-weighted; MTT = 60 CBV/CBF."""
    cbf = s.smooth(maps["cbf"])
    perfused = cbf > MIN_CBF
    safe = np.where(perfused, cbf, 1.0)
    cbv = np.where(perfused, s.smooth(maps["cbv"]), 0.0)
    delay = np.where(perfused, s.smooth(maps["cbf"] * maps["delay"]) / safe, 0.0)
    return {
        "cbf": np.where(perfused, cbf, 0.0),
        "cbv": cbv,
        "mtt": np.where(perfused, 60.0 * cbv / safe, 0.0),
        "tmax": delay,
    }


def _ctp_frames(static, truth, f_art, f_vein, aif, vof_params, times, rng, sd_hu) -> np.ndarray:
    """4D CTP (int16 HU): static + tissue enhancement + arterial/venous blood + white noise.

    Frame ``k`` is ``rint(((static + a_k f_art + v_k f_vein) + enhancement_k) + sd * noise_k)`` in
    float32; the blood terms are evaluated only where ``f_art`` or ``f_vein`` is non-zero (adding
    ``a_k * 0 = +0`` elsewhere leaves ``static`` unchanged), which gives the same bits as the full
    expression at a fraction of the cost.
    """
    idx = np.flatnonzero(truth["cbf"] > MIN_CBF)
    table = ResidueTable(aif, t_end_s=float(times[-1]) + 1.0)
    enhancement = table.curves(
        times,
        cbf=truth["cbf"].ravel()[idx],
        mtt_s=truth["mtt"].ravel()[idx],
        delay_s=truth["tmax"].ravel()[idx],
    ).astype(np.float32)
    a, v = aif_curve(times, aif), vof_curve(times, aif, **vof_params)
    static32 = static.astype(np.float32)
    blood = np.flatnonzero((f_art != 0) | (f_vein != 0))
    static_b = static32.ravel()[blood]
    art_b, vein_b = (
        f_art.ravel()[blood].astype(np.float32),
        f_vein.ravel()[blood].astype(np.float32),
    )
    sd32 = np.float32(sd_hu)
    ctp = np.empty((times.size, *static.shape), np.int16)
    frame = np.empty(static.shape, np.float32)
    flat = frame.reshape(-1)
    for k in range(times.size):
        frame[...] = static32
        flat[blood] = static_b + np.float32(a[k]) * art_b + np.float32(v[k]) * vein_b
        flat[idx] += enhancement[k]
        noise = rng.standard_normal(static.shape, dtype=np.float32)
        noise *= sd32
        frame += noise
        np.rint(frame, out=frame)
        ctp[k] = frame
    return ctp


def render_acute(anatomy, lesion, values, acq, aif, *, grid, pose, times, rng, lesion_p):
    """Acute slab volumes (see `PhantomCase`) and extra information (VOF)."""
    s = _Sampler(anatomy, grid, pose)
    side = None if lesion_p["kind"] in ("hemorrhage", "none") else lesion_p["territory"][-1]
    truth = _truth_maps(s, perfusion_maps(anatomy, values, lesion, lesion_side=side))
    hu = hu_map(anatomy, values)
    hu_acute = hu - acq["early_ischemic_change_hu"] * lesion["core"]
    static = s.smooth(hu_acute, outside=AIR_HU)
    f_art, f_vein = s.fraction(anatomy.tissue == ARTERY), s.fraction(anatomy.tissue == VEIN)
    vof_params = {"delay_s": 6.0, "dispersion": 1.6}
    ctp = _ctp_frames(
        static, truth, f_art, f_vein, aif, vof_params, times, rng, acq["ctp_noise_sd_hu"]
    )
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
    pen[truth["tmax"] <= PENUMBRA_TMAX_S] = 0  # the clinical definition holds on the truth maps
    labels = s.labels()
    labels[pen.astype(bool)] = 4
    labels[core.astype(bool)] = 5
    vz = np.unravel_index(np.argmax(f_vein), f_vein.shape)
    out = {
        "ct": _volume(np.round(ct).astype(np.int16), grid, modality="CT", unit="HU"),
        "ctp": _volume(ctp, grid, time_s=times, modality="CTP", unit="HU"),
        **{
            k: _volume(truth[k].astype(np.float32), grid, unit=u)
            for k, u in (("cbf", "mL/100g/min"), ("cbv", "mL/100g"), ("mtt", "s"), ("tmax", "s"))
        },
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


def _hypodensity(
    img: np.ndarray, f_inf: np.ndarray, m_inf: np.ndarray, lesion_p: dict, *, explicit=False
) -> dict:
    """Lower the infarct (in place) so its mean HU over ``m_inf`` hits the requested class.

    The follow-up image is ``img - shift * f_inf`` (``f_inf`` the partial-volume infarct fraction);
    ``shift`` is solved from the measured mean so the *stored* (rounded) image meets the target. A
    subtle infarct cannot be brighter than its tissue: when the class is out of reach the lesion
    falls into the next darker class (``lesion_class`` is measured, the request is kept).

    ``explicit`` (a class requested with the ``lesion_class`` option): the target is placed, by
    ``class_position``, inside the part of the class interval that a mean hypodensity between
    `CLASS_MIN_SHIFT_HU` and `MAX_SHIFT_HU` times the mean infarct fraction can reach (the default
    draw keeps its 3 HU minimum, `MIN_HYPODENSITY_HU`, and the whole interval).
    """
    lo, hi = LESION_CLASSES[lesion_p["lesion_class_requested"]]
    before = float(np.round(img[m_inf]).mean())
    if explicit:
        f_mean = float(f_inf[m_inf].mean())
        top = min(hi - CLASS_MARGIN_HU, before - CLASS_MIN_SHIFT_HU)
        bottom = max(lo + CLASS_MARGIN_HU, before - MAX_SHIFT_HU * f_mean)
        target = bottom + lesion_p["class_position"] * (top - bottom) if top >= bottom else top
        shift = float(np.clip((before - target) / f_mean, CLASS_MIN_SHIFT_HU, MAX_SHIFT_HU))
    else:
        hi = min(hi, before - MIN_HYPODENSITY_HU)
        target = (
            lo + 0.5 + lesion_p["class_position"] * (hi - lo - 1.0) if hi > lo + 1 else hi - 0.5
        )
        shift = float(np.clip((before - target) / f_inf[m_inf].mean(), MIN_HYPODENSITY_HU, 35.0))
    nz = np.flatnonzero(f_inf)  # img -= shift * f_inf, where it changes anything
    img.flat[nz] -= shift * f_inf.flat[nz]
    mean = float(np.round(img[m_inf]).mean())
    return {
        "lesion_class": lesion_class_of(mean),
        "infarct_mean_hu": mean,
        "infarct_shift_hu": shift,
    }


def _with_hematoma(clean: np.ndarray, f_hem: np.ndarray, hemorrhage_hu: float) -> np.ndarray:
    """``clean + f_hem * (hemorrhage_hu - clean)``, evaluated where ``f_hem != 0``."""
    img = clean.copy()
    nz = np.flatnonzero(f_hem)
    img.flat[nz] = clean.flat[nz] + f_hem.flat[nz] * (hemorrhage_hu - clean.flat[nz])
    return img


def _followup_masks(anatomy, lesion, fu, f_hem):
    """Hemorrhage and infarct masks of a follow-up sampler (partial-volume fraction >= 0.5, no
    infarct where bone dominates), the infarct's fraction without hemorrhage and its mask
    without hemorrhage: ``(hem_mask, infarct_mask, f_inf, m_inf)``."""
    hem_mask = (f_hem >= 0.5).astype(np.uint8)
    f_all = fu.fraction(lesion["infarct"])
    infarct_mask = (f_all >= 0.5).astype(np.uint8)
    has_hem = bool((lesion["hemorrhage"] & lesion["infarct"]).any())
    f_inf = fu.fraction(lesion["infarct"] & ~lesion["hemorrhage"]) if has_hem else f_all
    if infarct_mask.any():
        hit = np.argwhere(infarct_mask)
        block = tuple(int(v) for pair in zip(hit.min(0), hit.max(0) + 1) for v in pair)
        infarct_mask[fu.smooth(anatomy.tissue == BONE, block=block) > MAX_BONE_FRACTION] = 0
    m_inf = infarct_mask.astype(bool) & ~hem_mask.astype(bool)
    return hem_mask, infarct_mask, f_inf, m_inf


def render_followup(
    anatomy, lesion, values, acq, *, grid, pose, rigid, rng, lesion_p, protocol=None, baseline=True
):
    """Baseline and follow-up NCCT on the same grid, follow-up moved by ``rigid``.

    ``baseline=False`` (``pairs="realistic"``, whose baseline `render_pair_scans` makes on its own
    grid) leaves ``ncct_baseline`` out but draws its noise all the same, so the follow-up image
    is the one of the default rendering.

    ``protocol`` (the follow-up options of `strokect.phantom.synth_case`, None by default):
    ``"scanner"`` replaces the follow-up noise SD, adds an HU offset and the `acqm.cupping` of
    its draw; ``"explicit_class"`` places the infarct in its requested class (`_hypodensity`).
    When the infarcted tissue is too dark for that class even with the smallest shift, the
    information holds ``brightening_needed_hu``: how much the parenchyma HU must rise (measured
    tissue mean over the infarct divided by the contrast gain and the mean parenchyma fraction of
    its voxels) for a mean `BRIGHTEN_MARGIN_HU` above the reachable floor; the caller renders
    again with brighter tissue values.
    """
    hu = hu_map(anatomy, values)
    bl = _Sampler(anatomy, grid, pose)
    fu = _Sampler(anatomy, grid, rigid @ pose)
    corr = acq["noise_correlation_px"]
    if baseline:
        baseline = bl.smooth(hu, outside=AIR_HU) + acqm.ct_noise(
            rng, grid.shape, sd_hu=acq["baseline_noise_sd_hu"], correlation_px=corr
        )
    else:  # the draw of `acqm.ct_noise`, so the follow-up noise stays the same
        rng.standard_normal(grid.shape, dtype=np.float32)
    clean = fu.smooth(hu, outside=AIR_HU)
    gain, offset = acq["followup_contrast_gain"], acq["followup_offset_hu"]
    f_hem = fu.fraction(lesion["hemorrhage"])
    img = _with_hematoma(clean, f_hem, lesion_p["hemorrhage_hu"])
    soft = (clean > -200.0) & (clean < 300.0)  # scanner contrast/offset around brain level
    img = np.where(soft, 40.0 + gain * (img - 40.0), img) + offset
    noise_sd = acq["followup_noise_sd_hu"]
    scanner = (protocol or {}).get("scanner")
    if scanner:
        noise_sd = scanner["noise_sd_hu"]
        img += scanner["offset_hu"]
        img += acqm.cupping(
            fu.anatomy_masks()["intracranial"],
            grid.spacing_mm[1:],
            amplitude_hu=scanner["cupping_amplitude_hu"],
            length_mm=scanner["cupping_length_mm"],
        )
    img += acqm.ct_noise(rng, grid.shape, sd_hu=noise_sd, correlation_px=corr)
    hem_mask, infarct_mask, f_inf, m_inf = _followup_masks(anatomy, lesion, fu, f_hem)
    info = {"lesion_class": None, "infarct_mean_hu": None, "infarct_shift_hu": 0.0}
    if lesion_p["kind"] in ("ischemic", "ischemic_ht") and m_inf.any():
        explicit = bool((protocol or {}).get("explicit_class"))
        if explicit:
            floor = LESION_CLASSES[lesion_p["lesion_class_requested"]][0]
            floor += CLASS_MARGIN_HU + CLASS_MIN_SHIFT_HU + BRIGHTEN_MARGIN_HU
            short = floor - float(np.round(img[m_inf]).mean())
        info = _hypodensity(img, f_inf, m_inf, lesion_p, explicit=explicit)
        info["infarct_hypodensity_hu"] = info["infarct_shift_hu"] * float(f_inf[m_inf].mean())
        if explicit and short > 0:
            hit = np.argwhere(m_inf)
            block = tuple(int(v) for pair in zip(hit.min(0), hit.max(0) + 1) for v in pair)
            paren = fu.smooth(np.isin(anatomy.tissue, PARENCHYMA).astype(np.float32), block=block)
            info["brightening_needed_hu"] = short / (gain * max(float(paren[m_inf].mean()), 0.1))
    labels = fu.labels()
    out = {
        "ncct_baseline": _volume(
            np.round(baseline).astype(np.int16), grid, modality="CT", unit="HU"
        )
        if baseline is not False
        else None,
        "ncct_followup": _volume(np.round(img).astype(np.int16), grid, modality="CT", unit="HU"),
        "infarct": _volume(infarct_mask, grid),
        "hemorrhage": _volume(hem_mask, grid),
        **{k: _volume(v, grid) for k, v in fu.anatomy_masks().items()},
        **{f"baseline_{k}": _volume(v, grid) for k, v in bl.anatomy_masks().items() if k != "csf"},
        "baseline_infarct": _volume(bl.mask(lesion["infarct"]), grid),
        "labels": _volume(labels, grid),
    }
    if out["ncct_baseline"] is None:
        del out["ncct_baseline"]
    return out, info


def _scanner_image(clean: np.ndarray, img: np.ndarray, s: _Sampler, scanner: dict, corr, rng):
    """``img`` (float64) through a scanner of `acqm.pair_scanner`: soft-tissue contrast gain about
    40 HU, HU offset, cupping (when its amplitude is not 0) and correlated noise."""
    soft = (clean > -200.0) & (clean < 300.0)
    img = np.where(soft, 40.0 + scanner["contrast_gain"] * (img - 40.0), img)
    img += scanner["offset_hu"]
    if scanner["cupping_amplitude_hu"]:
        img += acqm.cupping(
            s.anatomy_masks()["intracranial"],
            s.grid.spacing_mm[1:],
            amplitude_hu=scanner["cupping_amplitude_hu"],
            length_mm=scanner["cupping_length_mm"],
        )
    img += acqm.ct_noise(rng, s.grid.shape, sd_hu=scanner["noise_sd_hu"], correlation_px=corr)
    return img


def render_pair_scans(
    anatomy, lesion, values, acq, *, pose, pairs: dict, shift_hu: float, rng, lesion_p
) -> tuple[dict, dict, dict]:
    """``pairs="realistic"``: the baseline NCCT on its own grid and the 24 h follow-up.

    ``pairs`` holds ``baseline_grid``, ``baseline_scanner``, ``fu24h_grid``, ``fu24h_scanner``,
    ``fu24h_rigid`` (baseline world -> 24 h world) and ``fu24h_hypodensity_fraction``;
    ``shift_hu`` is the 1-week infarct shift (`_hypodensity`): the 24 h infarct is lowered by
    ``fraction * shift_hu`` times its partial-volume fraction (hemorrhage excluded), the hematoma
    has the same HU as at 1 week. Returns the baseline volume (``{"ncct_baseline": ...}``), the
    24 h volumes (the keys of `render_followup` but ``ncct_baseline``) and information (24 h
    ``infarct_mean_hu``, ``lesion_class``, ``infarct_shift_hu`` and ``infarct_hypodensity_hu``,
    the mean HU drop over the infarct mask below the same scan without the infarct).
    """
    hu = hu_map(anatomy, values)
    corr = acq["noise_correlation_px"]
    bgrid = pairs["baseline_grid"]
    bl = _Sampler(anatomy, bgrid, pose)
    clean = bl.smooth(hu, outside=AIR_HU)
    img = _scanner_image(clean, clean.copy(), bl, pairs["baseline_scanner"], corr, rng)
    base = {
        "ncct_baseline": _volume(np.round(img).astype(np.int16), bgrid, modality="CT", unit="HU")
    }
    grid = pairs["fu24h_grid"]
    fu = _Sampler(anatomy, grid, pairs["fu24h_rigid"] @ pose)
    bl = _Sampler(anatomy, grid, pose)
    clean = fu.smooth(hu, outside=AIR_HU)
    f_hem = fu.fraction(lesion["hemorrhage"])
    img = _with_hematoma(clean, f_hem, lesion_p["hemorrhage_hu"])
    img = _scanner_image(clean, img, fu, pairs["fu24h_scanner"], corr, rng)
    hem_mask, infarct_mask, f_inf, m_inf = _followup_masks(anatomy, lesion, fu, f_hem)
    shift = float(pairs["fu24h_hypodensity_fraction"]) * float(shift_hu)
    info = {
        "lesion_class": None,
        "infarct_mean_hu": None,
        "infarct_shift_hu": 0.0,
        "infarct_hypodensity_hu": 0.0,
    }
    if lesion_p["kind"] in ("ischemic", "ischemic_ht") and m_inf.any() and shift > 0:
        nz = np.flatnonzero(f_inf)
        img.flat[nz] -= shift * f_inf.flat[nz]
        mean = float(np.round(img[m_inf]).mean())
        info = {
            "lesion_class": lesion_class_of(mean),
            "infarct_mean_hu": mean,
            "infarct_shift_hu": shift,
            "infarct_hypodensity_hu": shift * float(f_inf[m_inf].mean()),
        }
    fu24 = {
        "ncct_followup": _volume(np.round(img).astype(np.int16), grid, modality="CT", unit="HU"),
        "infarct": _volume(infarct_mask, grid),
        "hemorrhage": _volume(hem_mask, grid),
        **{k: _volume(v, grid) for k, v in fu.anatomy_masks().items()},
        **{f"baseline_{k}": _volume(v, grid) for k, v in bl.anatomy_masks().items() if k != "csf"},
        "baseline_infarct": _volume(bl.mask(lesion["infarct"]), grid),
        "labels": _volume(fu.labels(), grid),
    }
    return base, fu24, info
