"""Clinical perfusion readout: ischemic core, hypoperfusion, mismatch (the CTP `threshold` method).

- core: relative CBF (CBF / reference) below ``rcbf_threshold`` (30%), where the reference is the
  median CBF of the brain in the contralateral (unaffected) hemisphere (Campbell et al., Stroke
  2011; the RAPID definition);
- hypoperfusion: ``Tmax > tmax_threshold_s`` (6 s);
- mismatch = hypoperfusion minus core (volume difference and mask ``hypo & ~core``), mismatch ratio
  = hypoperfused / core volume (DEFUSE 3 criteria use >= 1.8).

Hemispheres: the left-right index axis is the one whose direction column is closest to the LPS x
axis; the mid-sagittal plane is the brain mask's centre of mass along it (assumes the head is
roughly aligned, as in clinical CTP). The affected side is the one with the larger hypoperfused
volume when Tmax is given, otherwise the one with the lower median CBF; it is reported as the
patient side (LPS +x = patient left) with the index half it was found in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from strokect.errors import InputError
from strokect.io.volume import Volume


@dataclass
class Readout:
    """Volumes in mL and masks (uint8 `Volume`s on the CBF grid; hypoperfusion/mismatch ``None``
    when no Tmax map was given)."""

    core: Volume
    hypoperfusion: Volume | None
    mismatch: Volume | None
    core_ml: float
    hypoperfusion_ml: float | None
    mismatch_ml: float | None
    mismatch_ratio: float | None
    reference_cbf: float
    affected_side: str
    params: dict

    def to_dict(self) -> dict:
        def r(v):
            return None if v is None else round(float(v), 3)

        return {
            "core_ml": r(self.core_ml),
            "hypoperfusion_ml": r(self.hypoperfusion_ml),
            "mismatch_ml": r(self.mismatch_ml),
            "mismatch_ratio": r(self.mismatch_ratio),
            "reference_cbf": r(self.reference_cbf),
            "affected_side": self.affected_side,
            "params": self.params,
        }


def left_right_axis(volume: Volume) -> int:
    """Array axis (0=z, 1=y, 2=x) that runs most nearly along patient left-right."""
    j = int(np.argmax(np.abs(volume.direction[0, :])))
    return 2 - j


def hemisphere_masks(brain: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Split a brain mask at its centre of mass along ``axis``: (low-index half, high-index half)."""
    coords = np.nonzero(brain)[axis]
    mid = float(coords.mean()) if coords.size else brain.shape[axis] / 2
    shape = [1, 1, 1]
    shape[axis] = brain.shape[axis]
    pos = np.arange(brain.shape[axis]).reshape(shape)
    return brain & (pos < mid), brain & (pos >= mid)


def _remove_small(mask: np.ndarray, min_voxels: int) -> np.ndarray:
    if min_voxels <= 1 or not mask.any():
        return mask
    labels, _ = ndimage.label(mask)
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_voxels
    keep[0] = False
    return keep[labels]


def readout_from_maps(
    cbf: Volume,
    tmax: Volume | None = None,
    *,
    brain_mask: Volume | np.ndarray | None = None,
    rcbf_threshold: float = 0.3,
    tmax_threshold_s: float = 6.0,
    core_within_hypoperfusion: bool = True,
    min_component_ml: float = 0.0,
) -> Readout:
    """Core / hypoperfusion / mismatch from CBF (any units: only ratios are used) and Tmax (s).

    Parameters
    ----------
    cbf, tmax : Volume
        3D maps on the same grid; ``tmax`` optional (core from rCBF only when absent).
    brain_mask : Volume or (z, y, x) array, optional
        Tissue to analyse (exclude CSF for a clean core). Default: finite ``cbf > 0``, holes filled.
    rcbf_threshold : float
        Core where ``CBF < rcbf_threshold * reference``.
    tmax_threshold_s : float
        Hypoperfusion where ``Tmax > tmax_threshold_s``.
    core_within_hypoperfusion : bool
        Restrict the core to the hypoperfused region when Tmax is given (as RAPID does).
    min_component_ml : float
        Drop connected core/hypoperfusion components smaller than this.
    """
    c = np.asarray(cbf.array, dtype=np.float64)
    if c.ndim != 3:
        raise InputError(f"cbf: a 3D map is needed; got shape {c.shape}")
    if tmax is not None and not tmax.same_geometry(cbf, atol_mm=1e-2):
        raise InputError("tmax: its grid differs from the CBF map's")
    if brain_mask is None:
        brain = np.isfinite(c) & (c > 0)
        brain = np.stack([ndimage.binary_fill_holes(s) for s in brain])
    else:
        brain = (brain_mask.array if isinstance(brain_mask, Volume) else np.asarray(brain_mask)) > 0
        if brain.shape != c.shape:
            raise InputError(
                f"brain_mask: shape {brain.shape} does not match the CBF map {c.shape}"
            )
    if not brain.any():
        raise InputError("brain mask is empty: cannot compute a perfusion readout")
    c = np.where(np.isfinite(c), c, 0.0)
    min_vox = int(np.ceil(min_component_ml / cbf.voxel_volume_ml)) if min_component_ml > 0 else 0
    hypo = None
    if tmax is not None:
        t = np.nan_to_num(np.asarray(tmax.array, dtype=np.float64))
        hypo = _remove_small(brain & (t > tmax_threshold_s), min_vox)
    low, high = hemisphere_masks(brain, left_right_axis(cbf))
    if hypo is not None and (hypo & low).sum() != (hypo & high).sum():
        affected_low = (hypo & low).sum() > (hypo & high).sum()
    else:
        affected_low = np.median(c[low]) < np.median(c[high]) if low.any() and high.any() else False
    normal = high if affected_low else low
    reference = float(np.median(c[normal])) if normal.any() else float(np.median(c[brain]))
    core = brain & (c < rcbf_threshold * reference)
    if hypo is not None and core_within_hypoperfusion:
        core &= hypo
    core = _remove_small(core, min_vox)
    vml = cbf.voxel_volume_ml
    axis = left_right_axis(cbf)
    axis_name = "xyz"[2 - axis]
    # LPS +x is patient left: the high-index half is the left one when the axis runs towards +x
    high_is_left = cbf.direction[0, 2 - axis] > 0
    patient = "left" if (not affected_low) == high_is_left else "right"
    side = f"patient {patient} ({'low' if affected_low else 'high'} {axis_name} index)"
    core_ml = float(core.sum() * vml)
    out = {"core": cbf.with_array(core.astype(np.uint8), map="core")}
    hypo_ml = mism_ml = ratio = None
    if hypo is not None:
        hypo_ml = float(hypo.sum() * vml)
        mism_ml = hypo_ml - core_ml
        ratio = hypo_ml / core_ml if core_ml > 0 else None
        out["hypoperfusion"] = cbf.with_array(hypo.astype(np.uint8), map="hypoperfusion")
        out["mismatch"] = cbf.with_array((hypo & ~core).astype(np.uint8), map="mismatch")
    params = {
        "rcbf_threshold": rcbf_threshold,
        "tmax_threshold_s": tmax_threshold_s,
        "core_within_hypoperfusion": core_within_hypoperfusion,
        "min_component_ml": min_component_ml,
        "reference": "median CBF of the contralateral hemisphere",
    }
    return Readout(
        core=out["core"],
        hypoperfusion=out.get("hypoperfusion"),
        mismatch=out.get("mismatch"),
        core_ml=core_ml,
        hypoperfusion_ml=hypo_ml,
        mismatch_ml=mism_ml,
        mismatch_ratio=ratio,
        reference_cbf=reference,
        affected_side=side,
        params=params,
    )
