"""Optional MNI152 anatomy: the brain's tissue map from the templates bundled with nilearn.

``synth_case(..., anatomy="mni")`` replaces the procedural brain (cortex, sulci, ventricles, deep
nuclei, cerebellum) by the ICBM 2009a nonlinear symmetric MNI152 grey/white-matter probability
templates and brain mask that ship inside the ``nilearn`` package (files
``mni_icbm152_{gm,wm,t1}_tal_nlin_sym_09a_converted.nii.gz``, 1 mm, exactly left-right symmetric;
loaded with ``nilearn.datasets.load_mni152_gm_template``, ``load_mni152_wm_template`` and
``load_mni152_brain_mask``, all read from files inside the package, no download). Everything
else is the procedural machinery of `strokect.phantom.anatomy`: skull, scalp, fat, foramen
magnum, vessels, arterial territories, texture; lesions, CTP, pose and noise are unchanged.

Mapping (head frame = LPS mm, origin at the cavity centre)::

    q_mni_lps = c_mni + (q_head + d(q_head)) / s,   q_mni_ras = (-x, -y, z)

with ``c_mni`` the centre of the template brain mask's bounding box, ``s`` the per-axis scale that
gives the mask the subject's drawn cavity half-axes (``subject["cavity_half_axes_mm"]``), and
``d`` a smooth random displacement (SD ``WARP_SD_MM`` per axis, wavelength ``WARP_WAVELENGTH_MM``)
that makes each subject's hemispheres differ slightly (the template itself is symmetric).
Labels: cavity = brain mask (> 0.5 after linear resampling); inside it, GM where
``p_gm + p_wm >= 0.5`` and ``p_gm >= p_wm``, WM where ``p_gm + p_wm >= 0.5`` and ``p_wm > p_gm``,
CSF elsewhere (mask minus GM/WM: ventricles and sulcal/cisternal CSF); GM deeper than
``DEEP_GM_DEPTH_MM`` below the cavity surface is labelled deep grey matter (basal ganglia,
thalami), which takes the deep-GM tissue values and hosts deep primary haemorrhages.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage

from strokect.errors import InputError
from strokect.phantom import anatomy as anat
from strokect.phantom.fields import smooth_field
from strokect.phantom.geometry import HeadGrid

WARP_SD_MM = 1.5  # design choice: small per-subject, non-symmetric shape variation
WARP_WAVELENGTH_MM = 60.0
DEEP_GM_DEPTH_MM = 25.0  # design choice: GM deeper than this below the cavity surface is deep GM
TEMPLATE = "MNI152 ICBM 2009a nlin sym (nilearn bundled GM/WM templates and brain mask, 1 mm)"


@functools.lru_cache(maxsize=1)
def load_templates() -> dict:
    """GM, WM probability and brain-mask arrays (float32, RAS voxel grid) with their affine.

    Raises
    ------
    InputError
        When ``nilearn`` is not installed (the ``mni`` extra).
    """
    try:
        from nilearn import datasets
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InputError(
            "anatomy='mni' needs the optional package nilearn (pip install 'strokect[mni]'); "
            f"import failed: {exc}"
        ) from None
    gm = datasets.load_mni152_gm_template(resolution=1)
    wm = datasets.load_mni152_wm_template(resolution=1)
    mask = datasets.load_mni152_brain_mask(resolution=1)
    arrays = [np.asarray(img.dataobj, dtype=np.float32) for img in (gm, wm, mask)]
    if not all(np.allclose(img.affine, gm.affine) for img in (wm, mask)):
        raise InputError("the nilearn MNI152 templates do not share one grid")
    import nilearn

    return {
        "gm": arrays[0],
        "wm": arrays[1],
        "mask": arrays[2],
        "affine_ras": np.asarray(gm.affine, float),
        "nilearn_version": nilearn.__version__,
    }


def _mask_box_lps(mask: np.ndarray, affine_ras: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and half-extent (LPS mm, x y z) of the brain mask's bounding box."""
    idx = np.argwhere(mask > 0.5)
    corners = np.stack([idx.min(0), idx.max(0)]).astype(float)
    ras = corners @ affine_ras[:3, :3].T + affine_ras[:3, 3]
    lps = ras * np.array([-1.0, -1.0, 1.0])
    lo, hi = lps.min(0), lps.max(0)
    return (lo + hi) / 2.0, (hi - lo) / 2.0


def _sample(templates: dict, grid: HeadGrid, rng: np.random.Generator, half_axes_mm) -> dict:
    """GM, WM probabilities and mask resampled onto ``grid`` (float32), plus the mapping."""
    centre, half = _mask_box_lps(templates["mask"], templates["affine_ras"])
    scale = np.asarray(half_axes_mm, float) / half
    warp = [WARP_SD_MM * smooth_field(rng, grid, wavelength_mm=WARP_WAVELENGTH_MM) for _ in "xyz"]
    inv = np.linalg.inv(templates["affine_ras"])
    z, y, x = grid.axes_mm()
    out = {k: np.empty(grid.shape, np.float32) for k in ("gm", "wm", "mask")}
    flip = np.array([-1.0, -1.0, 1.0])
    for k in range(grid.shape[0]):  # slice by slice: bounded memory
        q = np.stack(np.broadcast_arrays(x[None, :], y[:, None], z[k]), axis=-1)
        q = q + np.stack([w[k] for w in warp], axis=-1)
        ras = (centre + q / scale) * flip
        vox = ras @ inv[:3, :3].T + inv[:3, 3]
        coords = np.moveaxis(vox, -1, 0)
        for name in out:
            out[name][k] = ndimage.map_coordinates(
                templates[name], coords, order=1, mode="constant", cval=0.0, prefilter=False
            )
    mapping = {
        "template": TEMPLATE,
        "nilearn_version": templates["nilearn_version"],
        "mask_centre_lps_mm": centre,
        "scale_xyz": scale,
        "warp_sd_mm": WARP_SD_MM,
        "warp_wavelength_mm": WARP_WAVELENGTH_MM,
        "convention": "q_mni_lps = mask_centre_lps_mm + (q_head + warp(q_head)) / scale_xyz",
    }
    return {**out, "mapping": mapping}


def build_mni_anatomy(
    rng: np.random.Generator,
    params: dict,
    *,
    spacing_mm: tuple[float, float, float],
    extra_arteries: list[tuple[list[float], list[float], float]] = (),
    version: int = anat.PHANTOM_VERSION,
) -> anat.Anatomy:
    """`strokect.phantom.anatomy.build_anatomy` with the brain taken from the MNI152 templates.

    ``params`` is the subject from `sample_subject`; its cavity half-axes scale the template, its
    skull, scalp, fat and foramen values shape the procedural head around it. The returned
    ``Anatomy.params`` carries ``params["mni"]`` (the mapping, JSON-serialisable).
    """
    templates = load_templates()
    grid = HeadGrid.covering(half_extent_mm=anat.HALF_EXTENT_MM, spacing_mm=spacing_mm)
    z, y, x = grid.axes_mm()
    Z, Y, X = z[:, None, None], y[None, :, None], x[None, None, :]
    ax, ay, az = params["cavity_half_axes_mm"]
    prob = _sample(templates, grid, rng, (ax, ay, az))
    cavity = ndimage.binary_fill_holes(prob["mask"] >= 0.5)
    anat.check_version(version)
    if version >= 2:
        cavity &= ~anat.skullbase.petrous_ridges(grid, params)
    d_in, d_out = anat._distances(cavity, grid.spacing_mm)
    sig = 1.0 / (1.0 + np.exp(-(Y - 5.0) / 10.0))
    floor = -az * (0.38 + 0.6 * sig)  # only bounds the neck below the skull base
    tissue = np.zeros(grid.shape, np.uint8)
    bone_depth = anat._extracranial(tissue, rng, grid, cavity, d_out, (X, Y, Z), floor, params)
    if version >= 2:
        anat.paint_face(tissue, bone_depth, grid, cavity, d_out, params)
    tissue[cavity] = anat.CSF
    parenchyma = cavity & (prob["gm"] + prob["wm"] >= 0.5)
    tissue[parenchyma & (prob["gm"] >= prob["wm"])] = anat.GM
    tissue[parenchyma & (prob["wm"] > prob["gm"])] = anat.WM
    # deep grey nuclei (basal ganglia, thalami): template GM far from the cavity surface
    tissue[(tissue == anat.GM) & (d_in > DEEP_GM_DEPTH_MM)] = anat.DEEP_GM
    mid = np.zeros((1, 1, 1))
    anat._vessels(tissue, grid, cavity, d_in, X, Y, Z, mid, az, extra_arteries)
    texture = smooth_field(rng, grid, wavelength_mm=10.0)
    territory = anat._territories(tissue, rng, grid, X, Y, Z, mid, ax, ay, az)
    out_params = {**params, "mni": prob["mapping"]}
    return anat.Anatomy(grid, tissue, texture, territory, bone_depth, cavity, out_params)
