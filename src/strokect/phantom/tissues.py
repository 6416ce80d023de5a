"""Per-subject tissue values (CT attenuation, perfusion, DWI) and head-grid value maps.

Values drawn per subject (docs/phantom.md gives, for each, a checked source or marks it as a design
choice):

- NCCT (HU): grey matter 35-42, white matter 5-9 HU below grey matter (26-37), CSF 2-9,
  unenhanced blood 40-45, cortical bone tables 1400-1800 with diploe 600-900, scalp soft
  tissue 35-45, subcutaneous fat -100..-80, air -1000.
- Perfusion: CBF grey matter 50-60, white matter 20-25 mL/100 g/min; CBV grey matter ~4, white
  matter ~2 mL/100 g; MTT = 60 CBV / CBF s. Penumbra: CBF 35-60 % of normal, CBV 90-115 %,
  Tmax 6.5-12 s; core: CBF 8-25 % of normal (< 30 %), CBV 30-60 %, Tmax 8-16 s.
- DWI (b = 1000 s/mm^2, arbitrary units): CSF dark, grey matter slightly brighter than white
  matter, acute core 1.8-2.5 times normal.
"""

from __future__ import annotations

import numpy as np

from strokect.phantom.anatomy import (
    AIR,
    ARTERY,
    BONE,
    BRAINSTEM,
    CEREBELLUM,
    CSF,
    DEEP_GM,
    EYE,
    FAT,
    GM,
    SOFT,
    VEIN,
    WM,
    Anatomy,
)
from strokect.phantom.skullbase import VITREOUS_ABOVE_CSF_HU

N_CODES = 13


def sample_tissue_values(
    rng: np.random.Generator,
    *,
    core_cbf_fraction: tuple[float, float] = (0.08, 0.25),
    core_cbv_fraction: tuple[float, float] = (0.3, 0.6),
) -> dict:
    """Draw the subject's tissue values (JSON-serialisable dict of floats)."""
    gm = rng.uniform(35.0, 42.0)
    wm = gm - rng.uniform(5.0, 9.0)
    gm_cbf = rng.uniform(50.0, 60.0)
    wm_cbf = rng.uniform(20.0, 25.0)
    gm_cbv = rng.uniform(3.6, 4.4)
    wm_cbv = rng.uniform(1.8, 2.3)
    return {
        "hu": {
            "gm": gm,
            "wm": wm,
            "deep_gm": gm - rng.uniform(0.0, 2.0),
            "cerebellum": gm - rng.uniform(0.0, 2.0),
            "brainstem": wm + rng.uniform(1.0, 3.0),
            "csf": rng.uniform(2.0, 9.0),
            "blood": rng.uniform(40.0, 45.0),
            "bone_table": rng.uniform(1400.0, 1800.0),
            "bone_diploe": rng.uniform(600.0, 900.0),
            "soft": rng.uniform(35.0, 45.0),
            "fat": rng.uniform(-100.0, -80.0),
            "air": -1000.0,
            "brain_texture_sd": rng.uniform(0.8, 1.5),
        },
        "perfusion": {
            "gm_cbf": gm_cbf,
            "wm_cbf": wm_cbf,
            "gm_cbv": gm_cbv,
            "wm_cbv": wm_cbv,
            "deep_cbf": gm_cbf * rng.uniform(0.85, 1.0),
            "deep_cbv": gm_cbv * rng.uniform(0.85, 1.0),
            "normal_delay_s": rng.uniform(0.0, 1.0),
            "ipsilateral_extra_delay_s": rng.uniform(0.0, 1.0),
            "penumbra_cbf_fraction": rng.uniform(0.35, 0.6),
            "penumbra_cbv_fraction": rng.uniform(0.9, 1.15),
            "penumbra_delay_s": rng.uniform(6.5, 12.0),
            "core_cbf_fraction": rng.uniform(*core_cbf_fraction),
            "core_cbv_fraction": rng.uniform(*core_cbv_fraction),
            "core_delay_s": rng.uniform(8.0, 16.0),
            "texture_fraction": rng.uniform(0.04, 0.1),
        },
        "dwi": {
            "gm": rng.uniform(80.0, 95.0),
            "wm": rng.uniform(65.0, 78.0),
            "csf": rng.uniform(15.0, 30.0),
            "core_ratio": rng.uniform(1.8, 2.5),
            "other": 25.0,
            "bone": 5.0,
            "noise_sd": rng.uniform(2.0, 4.0),
        },
    }


def hu_map(anatomy: Anatomy, values: dict) -> np.ndarray:
    """Noise-free NCCT HU on the head grid (float32), without lesion."""
    hu = values["hu"]
    table = np.zeros(N_CODES)
    table[[AIR, GM, WM, CSF, DEEP_GM, CEREBELLUM, ARTERY, SOFT, FAT, BRAINSTEM, VEIN]] = [
        hu["air"],
        hu["gm"],
        hu["wm"],
        hu["csf"],
        hu["deep_gm"],
        hu["cerebellum"],
        hu["blood"],
        hu["soft"],
        hu["fat"],
        hu["brainstem"],
        hu["blood"],
    ]
    table[EYE] = hu["csf"] + VITREOUS_ABOVE_CSF_HU
    out = table[anatomy.tissue]
    brain = np.isin(anatomy.tissue, (GM, WM, DEEP_GM, CEREBELLUM, BRAINSTEM))
    out[brain] += hu["brain_texture_sd"] * anatomy.texture[brain]
    bone = anatomy.tissue == BONE
    u = np.abs(2.0 * anatomy.bone_depth[bone] - 1.0)
    out[bone] = hu["bone_diploe"] + (hu["bone_table"] - hu["bone_diploe"]) * u**2
    return out.astype(np.float32)


def perfusion_maps(
    anatomy: Anatomy, values: dict, lesion: dict[str, np.ndarray], *, lesion_side: str | None
) -> dict[str, np.ndarray]:
    """Head-grid truth ``cbf`` (mL/100 g/min), ``cbv`` (mL/100 g), ``delay`` (s); 0 outside parenchyma."""
    p = values["perfusion"]
    t = anatomy.tissue
    cbf = np.zeros(t.shape, np.float32)
    cbv = np.zeros(t.shape, np.float32)
    for codes, f, v in (
        ((GM, CEREBELLUM), p["gm_cbf"], p["gm_cbv"]),
        ((DEEP_GM,), p["deep_cbf"], p["deep_cbv"]),
        ((WM, BRAINSTEM), p["wm_cbf"], p["wm_cbv"]),
    ):
        sel = np.isin(t, codes)
        cbf[sel], cbv[sel] = f, v
    mod = 1.0 + p["texture_fraction"] * anatomy.texture
    cbf *= mod
    cbv *= mod
    delay = np.where(cbf > 0, p["normal_delay_s"], 0.0).astype(np.float32)
    if lesion_side is not None:
        x = anatomy.grid.axes_mm()[2][None, None, :]
        ipsi = (x >= 0) if lesion_side == "L" else (x < 0)
        delay += np.where((cbf > 0) & ipsi, p["ipsilateral_extra_delay_s"], 0.0).astype(np.float32)
    for name, ff, fv, d in (
        ("penumbra", p["penumbra_cbf_fraction"], p["penumbra_cbv_fraction"], p["penumbra_delay_s"]),
        ("core", p["core_cbf_fraction"], p["core_cbv_fraction"], p["core_delay_s"]),
    ):
        sel = lesion[name] & (cbf > 0)
        cbf[sel] *= ff
        cbv[sel] *= fv
        delay[sel] = d
    return {"cbf": cbf, "cbv": cbv, "delay": delay}


def dwi_map(anatomy: Anatomy, values: dict, lesion: dict[str, np.ndarray]) -> np.ndarray:
    """Noise-free DWI-like (b = 1000) intensity on the head grid, hyperintense core."""
    d = values["dwi"]
    table = np.full(N_CODES, d["other"])
    table[[AIR, BONE]] = [0.0, d["bone"]]
    table[[GM, DEEP_GM, CEREBELLUM]] = d["gm"]
    table[[WM, BRAINSTEM]] = d["wm"]
    table[[CSF, EYE]] = d["csf"]
    out = table[anatomy.tissue] * (1.0 + 0.03 * anatomy.texture)
    out[lesion["core"]] *= d["core_ratio"]
    return out.astype(np.float32)
