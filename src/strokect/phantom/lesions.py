"""Lesions on the head-frame grid: infarct core, penumbra, final infarct and hemorrhage.

One irregular "severity" field ``S`` (a normalised ellipsoid radius around a seed point, perturbed
by two smooth random fields) defines nested regions inside one arterial territory::

    core      = parenchyma & territory & S < k_core     (k_core < 1: the acute DWI/CTP core)
    infarct   = parenchyma & territory & S < 1          (the follow-up infarct; core grows into it)
    penumbra  = parenchyma & territory & S < k_pen & ~core   (hypoperfused tissue at risk, k_pen > 1)

Infarct volumes follow a log-normal law (median 15 mL, sigma 1.2: many small, some > 100 mL; cf.
the median 48 mL of Barros et al., JNIS 2020 and the small cores of ISLES 2018); the option
``infarct_volumes="paper"`` of `strokect.phantom.synth_case` draws them instead from
`paper_infarct_volume` (median 48 mL, IQR 15-125 mL, the follow-up cohort of Barros et al.).
Hemorrhagic transformation is a blob inside the infarct; a primary hemorrhage is a deep or lobar
haematoma without infarct.
"""

from __future__ import annotations

import numpy as np

from strokect.phantom.anatomy import DEEP_GM, PARENCHYMA, TERRITORIES, Anatomy
from strokect.phantom.fields import ellipsoid_radius, smooth_field

KINDS = ("ischemic", "ischemic_ht", "hemorrhage", "none")
KIND_PROBABILITIES = (0.72, 0.18, 0.10, 0.0)
#: follow-up hypodensity classes of Barros et al., JNIS 2020 (mean infarct HU, hemorrhage excluded)
LESION_CLASSES = {"severe": (14.0, 22.0), "intermediate": (22.0, 32.0), "subtle": (32.0, 44.0)}
#: values of the ``lesion_class`` option (``"mixed"``: the three classes in equal shares)
LESION_CLASS_OPTIONS = (*LESION_CLASSES, "mixed")
#: follow-up infarct volume quartiles (Q1, median, Q3) of Barros et al., JNIS 2020 (48 [15-125] mL),
#: overall and per hypodensity class ("29 (IQR 11-86), 46 (IQR 18-101), and 89 (IQR 35-210) mL for
#: patients with a subtle, intermediate, and severe hypodense infarct")
PAPER_INFARCT_VOLUME_ML = (15.0, 48.0, 125.0)
PAPER_CLASS_INFARCT_VOLUME_ML = {
    "severe": (35.0, 89.0, 210.0),
    "intermediate": (18.0, 46.0, 101.0),
    "subtle": (11.0, 29.0, 86.0),
}
PAPER_INFARCT_VOLUME_CLIP_ML = (1.0, 400.0)
_Z_Q3 = 0.6744897501960817  # upper quartile of the standard normal distribution


def lesion_class_of(mean_hu: float) -> str | None:
    """The hypodensity class of a mean infarct HU, ``None`` outside [14, 44)."""
    for name, (lo, hi) in LESION_CLASSES.items():
        if lo <= mean_hu < hi:
            return name
    return None


def paper_infarct_volume(z: float, lesion_class: str | None = None) -> float:
    """Follow-up infarct volume (mL) for a standard-normal draw ``z``: a split log-normal law.

    ``median * exp(sigma * z)`` with ``sigma = ln(median / Q1) / 0.674`` for ``z < 0`` and
    ``ln(Q3 / median) / 0.674`` above (1.72 and 1.42 overall), so its median and quartiles are
    exactly `PAPER_INFARCT_VOLUME_ML` (48 [15-125] mL), or those of ``lesion_class`` in
    `PAPER_CLASS_INFARCT_VOLUME_ML`; clipped to `PAPER_INFARCT_VOLUME_CLIP_ML`.
    """
    q1, median, q3 = PAPER_CLASS_INFARCT_VOLUME_ML.get(lesion_class, PAPER_INFARCT_VOLUME_ML)
    sigma = np.log(median / q1 if z < 0 else q3 / median) / _Z_Q3
    return float(np.clip(median * np.exp(sigma * z), *PAPER_INFARCT_VOLUME_CLIP_ML))


def sample_lesion(rng: np.random.Generator, *, kind: str | None = None) -> dict:
    """Draw the lesion parameters (kind, territory, size, shape, severities)."""
    if kind is None:
        kind = str(rng.choice(KINDS, p=KIND_PROBABILITIES))
    if kind not in KINDS:
        raise ValueError(f"lesion kind must be one of {KINDS}; got {kind!r}")
    artery = str(rng.choice(["MCA", "ACA", "PCA"], p=[0.7, 0.12, 0.18]))
    side = str(rng.choice(["L", "R"]))
    volume = float(np.clip(np.exp(rng.normal(np.log(15.0), 1.2)), 1.0, 300.0))
    params = {
        "kind": kind,
        "territory": f"{artery}_{side}",
        "target_infarct_volume_ml": volume,
        "aspect": [float(v) for v in rng.uniform(0.75, 1.3, 3)],
        "seed_fraction": [float(v) for v in rng.uniform(0, 1, 2)],
        "k_core": float(rng.uniform(0.55, 0.92)),
        "k_penumbra": float(rng.uniform(1.25, 1.7)),
        "irregularity": float(rng.uniform(0.15, 0.35)),
        "lesion_class_requested": str(rng.choice(list(LESION_CLASSES), p=[0.35, 0.4, 0.25])),
        "class_position": float(rng.uniform(0.15, 0.85)),
        "hemorrhage_hu": float(rng.uniform(55.0, 85.0)),
        "hemorrhage_fraction": float(rng.uniform(0.1, 0.35)),
        "hemorrhage_volume_ml": float(np.clip(np.exp(rng.normal(np.log(12.0), 0.8)), 2.0, 80.0)),
        "hemorrhage_deep": bool(rng.uniform() < 0.6),
    }
    return params


def _pick_seed(candidates: np.ndarray, fraction: list[float]) -> np.ndarray:
    """A deterministic pick among candidate voxel indices ``(N, 3)``: sorted by z then a position."""
    zs = np.unique(candidates[:, 0])
    zk = zs[min(int(fraction[0] * zs.size), zs.size - 1)]
    row = candidates[candidates[:, 0] == zk]
    return row[min(int(fraction[1] * len(row)), len(row) - 1)]


def lesion_masks(
    anatomy: Anatomy,
    params: dict,
    rng: np.random.Generator,
    *,
    z_range_head_mm: tuple[float, float],
) -> dict[str, np.ndarray]:
    """Boolean head-grid masks ``core``, ``penumbra``, ``infarct``, ``hemorrhage``.

    The lesion seed lies in the chosen territory between ``z_range_head_mm`` (the CTP slab), so the
    acute core is visible on the slab. Adds ``seed_head_mm`` to ``params``.
    """
    grid = anatomy.grid
    z, y, x = grid.axes_mm()
    parenchyma = np.isin(anatomy.tissue, PARENCHYMA)
    empty = np.zeros(grid.shape, bool)
    out = {"core": empty, "penumbra": empty, "infarct": empty, "hemorrhage": empty.copy()}
    kind = params["kind"]
    if kind == "none":
        return out
    zsel = (z >= z_range_head_mm[0]) & (z <= z_range_head_mm[1])
    if kind == "hemorrhage":
        region = anatomy.tissue == DEEP_GM if params["hemorrhage_deep"] else parenchyma
        volume = params["hemorrhage_volume_ml"]
    else:
        region = anatomy.territory == TERRITORIES[params["territory"]]
        volume = params["target_infarct_volume_ml"]
    cand = np.argwhere(region & zsel[:, None, None])
    if cand.size == 0:
        cand = np.argwhere(region)
    seed_idx = _pick_seed(cand, params["seed_fraction"])
    seed = np.array([x[seed_idx[2]], y[seed_idx[1]], z[seed_idx[0]]])
    params["seed_head_mm"] = [float(v) for v in seed]
    radius = drawn_radius = (3.0 * volume * 1000.0 / (4.0 * np.pi)) ** (1.0 / 3.0)
    aspect = np.asarray(params["aspect"]) / np.prod(params["aspect"]) ** (1.0 / 3.0)
    irr = params["irregularity"]
    bumps = irr * smooth_field(rng, grid, wavelength_mm=max(2.0 * radius, 12.0))
    bumps += 0.4 * irr * smooth_field(rng, grid, wavelength_mm=8.0)
    allowed = parenchyma if kind == "hemorrhage" else parenchyma & region
    voxel_ml = float(np.prod(grid.spacing_mm)) / 1000.0
    for _ in range(3):  # grow the ellipsoid until the clipped lesion has about the drawn volume
        s = ellipsoid_radius((z, y, x), centre=tuple(seed), half_axes=tuple(radius * aspect))
        s += bumps
        got = np.count_nonzero(allowed & (s < 1.0)) * voxel_ml
        if got >= 0.85 * volume:
            break
        radius *= float(np.clip((volume / max(got, 0.1 * volume)) ** (1.0 / 3.0), 1.0, 1.5))
    params["radius_mm"] = radius
    if kind == "hemorrhage":
        out["hemorrhage"] = parenchyma & (s < 1.0)
        return out
    out["infarct"] = allowed & (s < 1.0)
    out["core"] = allowed & (s < params["k_core"])
    out["penumbra"] = allowed & (s < params["k_penumbra"]) & ~out["core"]
    if kind == "ischemic_ht":
        inf_idx = np.argwhere(out["infarct"])
        if inf_idx.size:
            c = _pick_seed(inf_idx, params["seed_fraction"][::-1])
            centre = (x[c[2]], y[c[1]], z[c[0]])
            # the hematoma is a fraction of the infarct: sized from the drawn radius, or, when
            # the territory was too small for the drawn volume and the radius had to grow (up
            # to 144 mm for 400 mL drawn in an ACA territory: the hematoma then filled the whole
            # infarct), from the radius of the infarct actually placed
            base = drawn_radius
            if radius > drawn_radius:
                placed_ml = np.count_nonzero(out["infarct"]) * voxel_ml
                base = (3.0 * placed_ml * 1000.0 / (4.0 * np.pi)) ** (1.0 / 3.0)
            hr = base * params["hemorrhage_fraction"] ** (1.0 / 3.0)
            blob = ellipsoid_radius((z, y, x), centre=centre, half_axes=(hr, hr, hr))
            out["hemorrhage"] = out["infarct"] & (blob + 0.5 * irr * (s - 1.0) < 1.0)
    return out
