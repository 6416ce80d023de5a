"""Checks of `segment`'s lesion masks against what a stroke lesion can look like, for every method.

Two rules, each a warning (the masks are never changed): the result and its findings go into
``provenance.json`` (``output_checks``), ``volumes.json`` (``implausible_outputs``) and the report.

* **Too large**: a mask covering more than `MAX_LESION_FRACTION` of the method's region of
  interest (a complete hemispheric, malignant MCA infarct is about a third of the brain).
* **Mirror-symmetric**: a mask of which more than `MAX_MIRRORED_FRACTION` (and more than
  `MIN_MIRRORED_ML`) lies on its own mirror image across the head's mid-sagittal plane. Arterial
  territories are one-sided, so an infarct touches its mirror image at most along the midline,
  while the anatomy a model can mistake for a lesion (ventricles, sulci, white matter) is
  symmetric. The plane comes from `strokect.preprocess.symmetry.register_flipped` on the case's
  CT (a ``ct``/``ncct*`` input on the output grid, else the first frame of a ``ctp`` series on
  it); without one the rule is recorded as not checked. Bilateral infarcts exist (e.g. bilateral
  thalamic or posterior cerebral artery infarcts after basilar occlusion): they are rare and
  seldom mirror images, and the warning says what was measured so that a reader can judge.
  Hemorrhage masks (``label`` "hemorrhage") are measured but not flagged: intraventricular and
  midline bleeds are symmetric.

Both failures were seen on real scans with phantom-trained weights (model cards of ``threecnn``
and ``fu2bl``): they mean the input is unlike the training data in a way the domain check of
`strokect.data.domain` did not catch.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from strokect.data.plausibility import CT_ROLES
from strokect.errors import InputError, warn
from strokect.io.volume import Volume

__all__ = [
    "MAX_LESION_FRACTION",
    "MAX_MIRRORED_FRACTION",
    "MIN_MIRRORED_ML",
    "MIRROR_EXEMPT_LABELS",
    "lesion_plausibility",
    "symmetry_reference",
]

#: A lesion mask covering more of the method's region of interest (e.g. the brain) than this is
#: flagged: a complete hemispheric (malignant MCA) infarct is about a third of the brain.
MAX_LESION_FRACTION = 1.0 / 3.0
#: A mask with more than this share of its voxels on its own mirror image is flagged ...
MAX_MIRRORED_FRACTION = 0.25
#: ... when that mirrored part is also larger than this (small midline lesions, e.g. in the
#: brainstem, can lie on their own mirror image).
MIN_MIRRORED_ML = 5.0
#: Masks (by their ``label`` metadata, `strokect.methods.base.output_volume`) the mirror rule
#: measures but does not flag: an intraventricular bleed fills both ventricles, and a deep or
#: pontine hematoma can straddle the midline (a held-out phantom's midline hematoma lies 58-64 %
#: on its mirror image, `benchmarks/mirror_share.py --mask hemorrhage`).
MIRROR_EXEMPT_LABELS = ("hemorrhage",)
#: Sample spacings of the mid-sagittal plane search (`register_flipped`'s ``pixel_mm``).
SYMMETRY_PIXEL_MM = (4.0, 2.0)


def symmetry_reference(volumes: Mapping[str, Volume], grid: Volume) -> Volume | None:
    """A CT in HU on the output ``grid`` to find the mid-sagittal plane on, or None.

    The first 3D CT input (role ``ct``, ``ncct`` or ``ncct_*``) on the grid; else the first
    (pre-contrast) frame of a 4D CT perfusion series (role ``ctp``) on the grid.
    """
    on_grid = {r: v for r, v in volumes.items() if v.same_geometry(grid)}
    for role, volume in on_grid.items():
        if role.split("_", 1)[0] in CT_ROLES and not volume.is_4d:
            return volume
    for role, volume in on_grid.items():
        if role.split("_", 1)[0] == "ctp" and volume.is_4d:
            return volume.frame(0)
    return None


def lesion_plausibility(
    outputs: Mapping[str, Volume], roi: np.ndarray | None, ct: Volume | None = None
) -> dict:
    """Apply the two rules of the module docstring to every mask output.

    Parameters
    ----------
    outputs : mapping name -> Volume
        `segment`'s outputs; only those of kind ``mask`` are checked.
    roi : ndarray of bool or None
        The method's region of interest on the output grid (None: the size rule is not checked).
    ct : Volume or None
        A CT in HU on the output grid for the mid-sagittal plane (None: the symmetry rule is not
        checked).

    Returns
    -------
    dict
        ``checked``; ``findings`` (per mask: ``roi_fraction``, ``mirrored_fraction``,
        ``mirrored_ml`` where checked, ``flags``); ``implausible`` (the flagged outputs); the
        limits; ``symmetry`` (the plane, or why it was not checked).
    """
    masks = {n: v for n, v in outputs.items() if v.metadata.get("kind") == "mask"}
    size_ok = roi is not None and bool(np.any(roi))
    symmetry, sym_record = _symmetry(ct)
    if not size_ok and symmetry is None:
        return {"checked": False, "why": "the method gives no region of interest and no CT"}
    findings: list[dict] = []
    for name, volume in masks.items():
        lesion = np.asarray(volume.array) > 0
        finding: dict = {"output": name, "flags": []}
        if size_ok:
            fraction = float(np.count_nonzero(lesion[roi]) / np.count_nonzero(roi))
            finding["roi_fraction"] = round(fraction, 4)
            if fraction > MAX_LESION_FRACTION:
                finding["flags"].append("too_large")
        if symmetry is not None and lesion.any():
            frac, ml = _mirrored(volume, lesion, symmetry)
            finding["mirrored_fraction"], finding["mirrored_ml"] = round(frac, 4), round(ml, 3)
            if volume.metadata.get("label") in MIRROR_EXEMPT_LABELS:
                finding["mirror_rule"] = "not applied (hemorrhage)"
            elif frac > MAX_MIRRORED_FRACTION and ml > MIN_MIRRORED_ML:
                finding["flags"].append("mirror_symmetric")
        findings.append(finding)
    _warn(findings)
    return {
        "checked": True,
        "max_roi_fraction": round(MAX_LESION_FRACTION, 4) if size_ok else None,
        "max_mirrored_fraction": MAX_MIRRORED_FRACTION,
        "min_mirrored_ml": MIN_MIRRORED_ML,
        "symmetry": sym_record,
        "findings": findings,
        "implausible": [f["output"] for f in findings if f["flags"]],
    }


def _symmetry(ct: Volume | None):
    from strokect.preprocess.symmetry import register_flipped

    if ct is None:
        return None, {"checked": False, "why": "no CT input on the output grid"}
    try:
        # a 4 and 2 mm pyramid: within 0.05 degrees and 0.05 mm of the 1 mm level on three
        # heads (phantom slab and follow-up, AISD), at a quarter of its time (0.15-0.26 s)
        symmetry = register_flipped(ct, pixel_mm=SYMMETRY_PIXEL_MM)
    except InputError as exc:  # e.g. a single-slice slab: recorded, not hidden
        return None, {"checked": False, "why": f"mid-sagittal plane not found: {exc}"}
    plane = symmetry.plane
    return symmetry, {
        "checked": True,
        "plane_angle_deg": round(plane.angle_deg, 2),
        "plane_offset_mm": round(plane.offset_mm, 2),
    }


def _mirrored(volume: Volume, lesion: np.ndarray, symmetry) -> tuple[float, float]:
    """Share and mL of the mask's voxels whose mirror point is also in the mask."""
    from strokect.preprocess.symmetry import mirror

    as_float = volume.with_array(lesion.astype(np.float32))
    mirrored = np.asarray(mirror(as_float, symmetry, interpolation="nearest").array) > 0.5
    both = int(np.count_nonzero(lesion & mirrored))
    return both / int(np.count_nonzero(lesion)), both * volume.voxel_volume_ml


def _warn(findings: list[dict]) -> None:
    large = [f for f in findings if "too_large" in f["flags"]]
    if large:
        worst = max(f["roi_fraction"] for f in large)
        names = ", ".join(f["output"] for f in large)
        warn(
            f"implausible result: {names} cover{'s' if len(large) == 1 else ''} up to {worst:.0%} "
            "of the region of interest (more than a complete hemispheric infarct); the input is "
            "probably unlike the training data: do not use these volumes"
        )
    symmetric = [f for f in findings if "mirror_symmetric" in f["flags"]]
    if symmetric:
        parts = ", ".join(
            f"{f['output']} {f['mirrored_fraction']:.0%} ({f['mirrored_ml']:.1f} mL)"
            for f in symmetric
        )
        warn(
            f"implausible result: mirror-symmetric across the mid-sagittal plane ({parts} of the "
            "mask lies on its own mirror image), as normal anatomy is and stroke lesions seldom "
            "are; the input is probably unlike the training data: check before using these volumes"
        )
