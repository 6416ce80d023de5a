"""Input pipeline of ``threecnn``: 5 mm network grid, intracranial minus CSF, HU scaling, patches.

Barros et al., JNIS 2020, "Preprocessing": trivial voxels (outside the intracranial region, in
the CSF) are neither used for training nor segmented. Both masks are computed on the network's
5 mm grid (the paper's scans) with `strokect.preprocess.intracranial_mask` and
`strokect.preprocess.csf_mask`, then taken back to the input grid, where the outputs are
thresholded and the volumes measured.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from strokect.errors import InputError
from strokect.inference.prepared import Prepared
from strokect.io.checks import require_3d
from strokect.io.volume import Volume
from strokect.methods.threecnn.config import ThreeCnnConfig, lesion_class_of
from strokect.methods.threecnn.hemorrhage import detect_hemorrhage_hu
from strokect.methods.threecnn.network import CENTRE, PATCH_SIZE
from strokect.preprocess.masks import csf_mask, intracranial_mask
from strokect.preprocess.resample import resample_onto, reslice_to_spacing

__all__ = [
    "CROP_MARGIN",
    "extract_patches",
    "infarct_mean_hu",
    "prepare_ncct",
    "to_network_grid",
    "to_output_grid",
]

#: In-plane margin (pixels) kept round the region of interest when the slices are cropped: every
#: ROI voxel's 19x19 patch lies inside the crop, so cropping never changes a probability.
CROP_MARGIN = CENTRE + 1


def _scaled(hu: np.ndarray, cfg: ThreeCnnConfig) -> np.ndarray:
    lo, hi = cfg.window_hu
    return ((np.clip(hu, lo, hi) - cfg.center_hu) / cfg.scale_hu).astype(np.float32)


def pad_value(cfg: ThreeCnnConfig) -> float:
    """The scaled value of the window's low end: what lies beyond the image (air)."""
    return float(_scaled(np.array([cfg.window_hu[0]]), cfg)[0])


def _crop(volume: Volume, box: tuple[slice, slice, slice]) -> Volume:
    """``volume[box]`` as a Volume with the matching origin."""
    start_xyz = np.array([box[2].start, box[1].start, box[0].start], float)
    origin = np.asarray(volume.origin) + volume.direction @ (start_xyz * volume.spacing_mm[::-1])
    return Volume(
        np.ascontiguousarray(volume.array[box]),
        volume.spacing_mm,
        tuple(float(v) for v in origin),
        volume.direction.copy(),
    )


def to_network_grid(volume: Volume, cfg: ThreeCnnConfig) -> Volume:
    """``volume`` on the network grid (5 mm slices, ``inplane_mm``; `reslice_to_spacing`)."""
    spacing = (cfg.slice_mm, cfg.inplane_mm, cfg.inplane_mm)
    return reslice_to_spacing(volume, spacing, tolerance=cfg.grid_tolerance)


def _same_grid(a: Volume, b: Volume) -> bool:
    return a.spatial_shape == b.spatial_shape and a.same_geometry(b)


def to_output_grid(prepared: Prepared, array: np.ndarray) -> np.ndarray:
    """An array on the (cropped) network grid taken onto the output grid (linear, 0 outside)."""
    box = prepared.data["crop"]
    if prepared.data["resliced"]:
        vol = prepared.grid.with_array(np.asarray(array, np.float32))
        return resample_onto(vol, prepared.target, interpolation="linear", fill_value=0.0).array
    out = np.zeros(prepared.target.spatial_shape, np.float32)
    out[box] = array
    return out


def infarct_mean_hu(ct: Volume, infarct: np.ndarray, hemorrhage: np.ndarray | None) -> float | None:
    """Mean HU of the infarct without its hemorrhage (the paper's class criterion)."""
    region = np.asarray(infarct, bool)
    if hemorrhage is not None:
        region = region & ~np.asarray(hemorrhage, bool)
    return float(ct.array[region].mean()) if region.any() else None


def prepare_ncct(ct: Volume, cfg: ThreeCnnConfig) -> Prepared:
    """One follow-up NCCT (HU) as network input.

    Returns a `Prepared` whose ``grid`` is the network grid cropped to the region of interest
    (intracranial minus CSF) with `CROP_MARGIN`, ``image`` the three adjacent slices of the
    scaled CT as channels ``(3, Z, Y, X)``, ``roi`` the region of interest there,
    ``output_grid`` the input and ``output_roi`` the region on it; ``data`` holds the crop, the
    intracranial mask and the HU detector's hemorrhage mask on the output grid.
    """
    require_3d(ct, name="ncct_followup")
    if not np.isfinite(ct.array).all():
        raise InputError("ncct_followup: the CT holds NaN or infinite values")
    net = to_network_grid(ct, cfg)
    resliced = not _same_grid(net, ct)
    intracranial = intracranial_mask(net)
    csf = csf_mask(net, intracranial)
    roi_full = (intracranial.array > 0) & (csf.array == 0)
    if not roi_full.any():
        raise InputError("ncct_followup: no brain tissue found (intracranial minus CSF is empty)")
    zs, ys, xs = (np.flatnonzero(roi_full.any(axis=a)) for a in ((1, 2), (0, 2), (0, 1)))
    box = (
        slice(int(zs[0]), int(zs[-1]) + 1),
        slice(
            max(int(ys[0]) - CROP_MARGIN, 0),
            min(int(ys[-1]) + CROP_MARGIN + 1, net.spatial_shape[1]),
        ),
        slice(
            max(int(xs[0]) - CROP_MARGIN, 0),
            min(int(xs[-1]) + CROP_MARGIN + 1, net.spatial_shape[2]),
        ),
    )
    grid = _crop(net, box)
    pad = pad_value(cfg)
    shift = 0.0
    if cfg.normalize == "median":  # the region's median HU onto center_hu
        shift = cfg.center_hu - float(np.median(net.array[roi_full]))
    # z context: the slices above and below the crop come from the full volume (or air)
    z0, z1 = box[0].start, box[0].stop
    full = np.pad(_scaled(net.array + shift, cfg), ((1, 1), (0, 0), (0, 0)), constant_values=pad)
    stack = full[z0 : z1 + 2, box[1], box[2]]
    image = np.stack([stack[:-2], stack[1:-1], stack[2:]])
    if resliced:

        def back(mask: np.ndarray) -> np.ndarray:
            vol = net.with_array(mask.astype(np.float32))
            return resample_onto(vol, ct, interpolation="linear", fill_value=0.0).array >= 0.5

        output_roi, icm_out = back(roi_full), back(intracranial.array > 0)
    else:
        output_roi, icm_out = roi_full, intracranial.array > 0
    hemorrhage_hu = detect_hemorrhage_hu(
        ct,
        icm_out,
        window_hu=cfg.hu_window_hemorrhage,
        seed_hu=cfg.hu_seed_hemorrhage,
        skull_margin_mm=cfg.hu_skull_margin_mm,
        min_volume_ml=cfg.hu_min_volume_ml,
    )
    history = [
        {
            "step": "network_grid",
            "spacing_mm": list(net.spacing_mm),
            "resliced": resliced,
            "rule": "thick-slice averaging (reslice_to_spacing)",
        },
        {
            "step": "intracranial_minus_csf",
            "intracranial_ml": round(float(intracranial.array.sum()) * net.voxel_volume_ml, 2),
            "csf_ml": round(float(csf.array.sum()) * net.voxel_volume_ml, 2),
            "foramen_magnum_slice": intracranial.metadata.get("foramen_magnum_slice"),
        },
        {"step": "hu_scaling", "normalize": cfg.normalize, "shift_hu": round(shift, 2),
         "window_hu": list(cfg.window_hu), "center_hu": cfg.center_hu, "scale_hu": cfg.scale_hu},
        {"step": "adjacent_slices", "channels": ["z-1", "z", "z+1"]},
    ]  # fmt: skip
    return Prepared(
        image=image,
        grid=grid,
        channels=["slice_below", "slice", "slice_above"],
        roi=roi_full[box],
        history=history,
        data={
            "crop": box,
            "resliced": resliced,
            "pad_value": pad,
            "intracranial": icm_out,
            "hemorrhage_hu": hemorrhage_hu,
            "network_spacing_mm": net.spacing_mm,
        },
        output_grid=ct,
        output_roi=output_roi,
    )


def add_references(
    prepared: Prepared, ct: Volume, infarct: Volume | None, hemorrhage: Volume | None
) -> Prepared:
    """Reference masks of a training/validation case: ``label`` (infarct incl. hemorrhage, output
    grid), ``data["infarct_nonhem"]``, ``data["hemorrhage_label"]`` (output grid),
    ``data["lesion_class"]`` and ``data["train_masks"]`` (foreground masks on the cropped network
    grid for patch sampling)."""
    shape = ct.spatial_shape
    inf = np.zeros(shape, bool) if infarct is None else infarct.array > 0
    hem = np.zeros(shape, bool) if hemorrhage is None else hemorrhage.array > 0
    box = prepared.data["crop"]
    spacing = prepared.data["network_spacing_mm"]

    def on_net(mask: np.ndarray) -> np.ndarray:
        if not prepared.data["resliced"]:
            return mask[box]
        # the network grid's axes are the input's or the target spacing: tolerance 0 rebuilds it
        vol = reslice_to_spacing(ct.with_array(mask.astype(np.float32)), spacing, tolerance=0.0)
        return vol.array[box] >= 0.5

    mean_hu = infarct_mean_hu(ct, inf, hem)
    prepared.label = (inf | hem).astype(np.uint8) if infarct is not None else None
    prepared.data.update(
        infarct_nonhem=(inf & ~hem).astype(np.uint8),
        hemorrhage_label=hem.astype(np.uint8) if hemorrhage is not None else None,
        infarct_mean_hu=mean_hu,
        lesion_class=lesion_class_of(mean_hu),
        train_masks={
            "infarct": on_net(inf & ~hem),
            "hemorrhage": on_net(hem),
            "any": on_net(inf | hem),
        },
    )
    return prepared


def extract_patches(image: np.ndarray, centres: np.ndarray, pad: float) -> np.ndarray:
    """``(n, 3, 19, 19)`` patches of the prepared ``image`` ``(3, Z, Y, X)`` at ``centres``
    ``(n, 3)`` (z, y, x), padded with ``pad`` beyond the slice: exactly what the dense network
    reads for those voxels."""
    p = np.pad(image, ((0, 0), (0, 0), (CENTRE, CENTRE), (CENTRE, CENTRE)), constant_values=pad)
    windows = np.lib.stride_tricks.sliding_window_view(p, (PATCH_SIZE, PATCH_SIZE), axis=(2, 3))
    z, y, x = (np.asarray(centres)[:, i] for i in range(3))
    return np.ascontiguousarray(windows[:, z, y, x].transpose(1, 0, 2, 3))


def sample_centres(
    roi: np.ndarray,
    foreground: np.ndarray,
    background: np.ndarray,
    n: int,
    rng: np.random.Generator,
    *,
    near: np.ndarray | None = None,
    near_fraction: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` patch centres of one case, half on ``foreground & roi`` (with replacement when
    fewer), the rest on ``background & roi``, of which ``near_fraction`` inside ``near`` (e.g.
    round the lesion); all background (``n // 2``) when there is no foreground.
    Returns centres ``(m, 3)`` and labels ``(m,)`` (uint8)."""
    fg = np.argwhere(foreground & roi)
    n_fg = n // 2 if len(fg) else 0
    n_bg = n - n_fg if len(fg) else n // 2
    pools = [(fg, n_fg, 1)]
    bg_all = background & roi
    n_near = round(near_fraction * n_bg) if near is not None and len(fg) else 0
    if n_near:
        pools.append((np.argwhere(bg_all & near), n_near, 0))
    pools.append((np.argwhere(bg_all), n_bg - n_near, 0))
    parts, labels = [], []
    for pool, count, label in pools:
        if len(pool) and count:
            parts.append(pool[rng.integers(0, len(pool), count)])
            labels.append(np.full(count, label, np.uint8))
    if not parts:
        return np.zeros((0, 3), int), np.zeros(0, np.uint8)
    return np.concatenate(parts), np.concatenate(labels)


def cases_of(network: str, prepared: Sequence[Prepared]) -> list[Prepared]:
    """The training cases of one network: its class's patients (the paper), every case with an
    infarct (``single``), every case (``hemorrhage``)."""
    if network == "hemorrhage":
        return list(prepared)
    if network == "single":
        return [p for p in prepared if p.data["train_masks"]["infarct"].any()]
    return [p for p in prepared if p.data.get("lesion_class") == network]
