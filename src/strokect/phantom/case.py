"""`synth_case`: one phantom subject imaged acutely (NCCT + CTP slab + DWI) and at follow-up."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from strokect.io import Volume
from strokect.phantom import acquisition as acqm
from strokect.phantom.anatomy import (
    PHANTOM_VERSION,
    TERRITORIES,
    build_anatomy,
    check_version,
    sample_subject,
)
from strokect.phantom.geometry import Grid
from strokect.phantom.lesions import (
    KIND_PROBABILITIES,
    KINDS,
    LESION_CLASS_OPTIONS,
    LESION_CLASSES,
    lesion_masks,
    paper_infarct_volume,
    sample_lesion,
)
from strokect.phantom.perfusion import KH, RHO_G_PER_ML, aif_curve, sample_aif
from strokect.phantom.presets import get_preset
from strokect.phantom.render import render_acute, render_followup, render_pair_scans
from strokect.phantom.tissues import sample_tissue_values

STREAMS = (
    "subject",
    "lesion",
    "acquisition",
    "anatomy",
    "lesion_shape",
    "noise_acute",
    "noise_followup",
    "aif",
    "realism",
    "followup",  # the follow-up options of issue 17 (new streams go last: older ones keep their seed)
    "pairs",  # pairs="realistic" and the lesion-kind shares (fu2bl)
)
ANATOMIES = ("procedural", "mni")
INFARCT_VOLUMES = ("default", "paper")
FOLLOWUP_SLICES = ("thick", "thin")
PAIRS = ("default", "realistic")
#: case-id suffixes of the two follow-ups of ``pairs="realistic"`` in the pair manifest
PAIR_FOLLOWUPS = {"24h": "_fu24h", "1w": "_fu1w"}
#: with a lesion-kind share but no ``hemorrhage_share``: the chance that an ischemic case has a
#: hematoma, the ratio of the default kind draw (18 / (72 + 18))
DEFAULT_HEMATOMA_SHARE = KIND_PROBABILITIES[KINDS.index("ischemic_ht")] / (
    KIND_PROBABILITIES[KINDS.index("ischemic")] + KIND_PROBABILITIES[KINDS.index("ischemic_ht")]
)
#: a requested class out of reach brightens the subject's parenchyma by at most this (HU)
MAX_BRIGHTENING_HU = 8.0
_PARENCHYMA_HU = ("gm", "wm", "deep_gm", "cerebellum", "brainstem")
LABELS = {
    "background": 0,
    "gm": 1,
    "wm": 2,
    "csf": 3,
    "penumbra": 4,
    "core": 5,
    "vessel": 6,
    "skull_other": 7,
}


@dataclass
class PhantomCase:
    """One synthetic case. See the package docstring for the keys and conventions."""

    case_id: str
    acute: dict[str, Volume] = field(default_factory=dict)
    followup: dict[str, Volume] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    #: ``pairs="realistic"`` only: the 24 h follow-up (the keys of ``followup`` but
    #: ``ncct_baseline``, on its own grid); ``followup`` is then the 1-week one
    followup_24h: dict[str, Volume] = field(default_factory=dict)


def _streams(seed: int) -> dict[str, np.random.Generator]:
    children = np.random.SeedSequence(int(seed)).spawn(len(STREAMS))
    return {name: np.random.Generator(np.random.PCG64(c)) for name, c in zip(STREAMS, children)}


def _aif_vessel(acq: dict, grid: Grid, pose: np.ndarray, side: str) -> dict:
    """A vertical artery through a CTP voxel centre, contralateral to the lesion, spanning the slab.

    Its radius (>= the in-plane voxel diagonal) makes that voxel pure arterial blood.
    """
    head_target = np.array([(-35.0 if side == "L" else 35.0), -2.0, 0.0, 1.0])
    world = pose @ head_target
    ox, oy, _ = grid.origin_lps
    sz, sy, sx = grid.spacing_mm
    i = int(np.rint((world[0] - ox) / sx))
    j = int(np.rint((world[1] - oy) / sy))
    centre_world = np.array([ox + i * sx, oy + j * sy, world[2], 1.0])
    head = np.linalg.inv(pose) @ centre_world
    z0 = acq["slab_centre_head_z_mm"] - grid.shape[0] * sz / 2 - 12.0
    z1 = acq["slab_centre_head_z_mm"] + grid.shape[0] * sz / 2 + 12.0
    radius = max(2.2, 1.05 * float(np.hypot(sy, sx)))
    return {
        "p0_head_mm": [head[0], head[1], z0],
        "p1_head_mm": [head[0], head[1], z1],
        "radius_mm": radius,
        "voxel_yx": [j, i],
    }


def synth_case(
    seed: int,
    preset: str = "tiny",
    *,
    kind: str | None = None,
    case_id: str | None = None,
    anatomy: str = "procedural",
    version: int = PHANTOM_VERSION,
    lesion_class: str | None = None,
    infarct_volumes: str = "default",
    hemorrhage_share: float | None = None,
    followup_slices: str | float = "thick",
    scanner_variation: bool = False,
    pairs: str = "default",
    none_share: float | None = None,
    primary_hemorrhage_share: float | None = None,
) -> PhantomCase:
    """Generate one phantom case, deterministically from ``seed``.

    Parameters
    ----------
    seed
        Non-negative integer; the subject (anatomy, lesion, physiology) depends only on it.
    preset
        ``"tiny"``, ``"isles"`` or ``"full"`` (see `PRESETS`), or a `Preset`.
    kind
        Force the lesion kind (``"ischemic"``, ``"ischemic_ht"``, ``"hemorrhage"``, ``"none"``);
        ``None`` draws it (72 / 18 / 10 / 0 %).
    case_id
        Defaults to ``f"phantom_{seed:04d}"``.
    anatomy
        ``"procedural"`` (default, no data files) or ``"mni"``: the brain's tissue map from the
        MNI152 templates bundled with the optional ``nilearn`` package (`strokect.phantom.mni`;
        `strokect.errors.InputError` when nilearn is missing). Only with ``"mni"`` does the
        metadata hold an ``"anatomy"`` entry (the template mapping).
    version
        Phantom version (`strokect.phantom.anatomy.PHANTOM_VERSIONS`): 2 (default) has a face,
        orbits, paranasal sinuses and petrous bone; 1 reproduces the earlier head exactly (the
        version the shipped weights were trained on). Recorded as ``metadata["phantom_version"]``.

    Follow-up options (issue 17, for training ``threecnn``; docs/phantom.md). All off by default,
    where the images are those of earlier releases; any option on adds
    ``metadata["followup_protocol"]`` (the options and the draws of the ``"followup"`` stream,
    which leaves every other draw unchanged).

    lesion_class
        ``"severe"``, ``"intermediate"``, ``"subtle"`` (mean follow-up infarct HU in [14, 22),
        [22, 32), [32, 44), hemorrhage excluded) or ``"mixed"`` (one of the three, equal chances;
        `write_cohort` cycles through them instead). The infarct's mean hypodensity may then be as
        small as 1 HU, and a subject too dark for the class gets brighter parenchyma (at most
        `MAX_BRIGHTENING_HU`). Cases without infarct (primary hemorrhage, ``"none"``) have no class.
    infarct_volumes
        ``"default"`` (log-normal, median 15 mL) or ``"paper"``: median 48 mL, IQR 15-125 mL, or
        with a requested class that class's quartiles in the paper (subtle 29 [11-86], intermediate
        46 [18-101], severe 89 [35-210] mL; `strokect.phantom.lesions.paper_infarct_volume`); a
        preset's minimum volume still applies.
    hemorrhage_share
        Probability in [0, 1] that the case has a parenchymal hematoma inside its infarct (kind
        ``"ischemic_ht"``, else ``"ischemic"``: no primary hemorrhage); not with ``kind``.
    followup_slices
        ``"thick"`` (the preset's NCCT slices), ``"thin"`` (1, 1.25, 1.5 or 2 mm, drawn) or a
        thickness in mm; the NCCT pair keeps the preset's z extent (more slices).
    scanner_variation
        Follow-up NCCT noise SD 2.5-8 HU (instead of 3-6), an extra HU offset of -3..3 and a
        beam-hardening-like cupping of 1.5-5 HU (either sign) decaying over 6-15 mm from the inner
        table (`strokect.phantom.acquisition.cupping`).

    Realistic pairs (for ``fu2bl``; docs/phantom.md, "Realistic pairs (fu2bl)"). Every draw comes
    from the ``"pairs"`` stream (`strokect.phantom.acquisition.sample_pairs_protocol`), so the other
    draws keep their values; ``metadata["followup_protocol"]["pairs_draws"]`` holds them.

    pairs
        ``"default"`` (baseline and follow-up on one grid, as in earlier releases) or
        ``"realistic"``: ``followup["ncct_baseline"]`` on its own grid (half the cases thin slices
        of 1-2.5 mm, the others the follow-up's thickness with the slice positions moved by 0.2-0.8
        of a slice and 1-3 slices more or fewer) with its own scanner (noise SD, HU offset -3..3,
        soft-tissue contrast gain 0.92-1.08, with ``scanner_variation`` a cupping); ``followup``
        is the 1-week follow-up (the default follow-up image of the seed) and ``followup_24h`` a
        24 h follow-up on its own grid (drawn like the follow-up grid, slice positions moved by a
        drawn fraction of a slice), head pose (rigid +-3 deg, +-4 mm from the baseline) and
        scanner, whose infarct hypodensity is 40-70 % of the 1-week one (same lesion, so the same
        masks on each grid; a hematoma has the same HU at both). The ``baseline_*`` masks are the
        baseline pose on each follow-up's grid, as before. ``metadata["pairs"]`` records grids,
        scanners, rigid transforms and the 24 h hypodensity.
    none_share, primary_hemorrhage_share
        Probabilities (sum at most 1) that the case is lesion-free (kind ``"none"``: empty infarct,
        hemorrhage, core and penumbra masks) or a primary hemorrhage (kind ``"hemorrhage"``: a
        hematoma in ``hemorrhage``, an empty ``infarct``, no acute core); the other cases are
        ischemic, with a hematoma at the chance ``hemorrhage_share`` when given, else
        `DEFAULT_HEMATOMA_SHARE`. Not with ``kind``.
    """
    if int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed}")
    if anatomy not in ANATOMIES:
        raise ValueError(f"anatomy must be one of {ANATOMIES}; got {anatomy!r}")
    check_version(version)
    preset = get_preset(preset)
    options = _followup_options(
        kind,
        lesion_class,
        infarct_volumes,
        hemorrhage_share,
        followup_slices,
        scanner_variation,
        pairs=pairs,
        none_share=none_share,
        primary_hemorrhage_share=primary_hemorrhage_share,
    )
    rng = _streams(seed)
    ctx = _draw(rng, preset, kind, options)
    acq, lesion_p = ctx["acquisition"], ctx["lesion"]
    protocol = ctx.get("followup_protocol")
    pairs_ctx = ctx.get("pairs")
    vessel = ctx["aif_vessel"]
    build = build_anatomy
    if anatomy == "mni":
        from strokect.phantom.mni import build_mni_anatomy as build
    head = build(
        rng["anatomy"],
        ctx["subject"],
        spacing_mm=preset.anatomy_spacing_mm,
        extra_arteries=[(vessel["p0_head_mm"], vessel["p1_head_mm"], vessel["radius_mm"])],
        version=version,
    )
    half = acq["ctp_slices"] * acq["ctp_thickness_mm"] / 2 - 2.0
    zc = acq["slab_centre_head_z_mm"]
    lesion = lesion_masks(
        head, lesion_p, rng["lesion_shape"], z_range_head_mm=(zc - half, zc + half)
    )
    common = {"lesion_p": lesion_p, "pose": ctx["pose"]}
    fu_state = rng["noise_followup"].bit_generator.state
    fu_extra = {} if pairs_ctx is None else {"baseline": False}
    followup, fu_info = _render_followup(head, lesion, ctx, rng, protocol, common, **fu_extra)
    delta = min(fu_info.pop("brightening_needed_hu", 0.0), MAX_BRIGHTENING_HU)
    if delta > 0:  # a requested class out of reach: brighter parenchyma, the same noise again
        hu = dict(ctx["tissue_values"]["hu"])
        for key in _PARENCHYMA_HU:
            hu[key] += delta
        ctx["tissue_values"] = {**ctx["tissue_values"], "hu": hu}
        protocol["tissue_brightening_hu"] = delta
        rng["noise_followup"].bit_generator.state = fu_state
        followup, fu_info = _render_followup(head, lesion, ctx, rng, protocol, common, **fu_extra)
        fu_info.pop("brightening_needed_hu", None)
    followup_24h = {}
    if pairs_ctx is not None:
        base, followup_24h, info_24h = render_pair_scans(
            head,
            lesion,
            ctx["tissue_values"],
            acq,
            pose=ctx["pose"],
            pairs=pairs_ctx,
            shift_hu=fu_info["infarct_shift_hu"],
            rng=rng["pairs"],
            lesion_p=lesion_p,
        )
        followup = {**base, **followup}
    acute, acute_info = render_acute(
        head,
        lesion,
        ctx["tissue_values"],
        acq,
        ctx["aif"],
        grid=ctx["ctp_grid"],
        times=ctx["time_s"],
        rng=rng["noise_acute"],
        **common,
    )
    realism = None
    if preset.realistic:
        from strokect.phantom.realism import make_realistic

        acute, realism = make_realistic(acute, rng["realism"])
    case_id = case_id or f"phantom_{int(seed):04d}"
    metadata = _metadata(seed, preset, ctx, acute, followup, {**acute_info, **fu_info})
    if realism is not None:
        metadata["realism"] = _jsonable(realism)
    metadata["phantom_version"] = int(version)
    if protocol is not None:
        metadata["followup_protocol"] = _jsonable(protocol)
    if "mni" in head.params:
        metadata["anatomy"] = _jsonable({"source": "mni", **head.params["mni"]})
    if pairs_ctx is not None:
        _pairs_metadata(metadata, case_id, ctx, fu_info, followup, followup_24h, info_24h)
    for vols in (acute, followup, followup_24h):
        for name, vol in vols.items():
            vol.metadata.update(
                {"case_id": case_id, "source": "strokect.phantom", "series_description": name}
            )
    return PhantomCase(
        case_id=case_id,
        acute=acute,
        followup=followup,
        metadata=metadata,
        followup_24h=followup_24h,
    )


def _pairs_metadata(metadata, case_id, ctx, fu_info, followup, followup_24h, info_24h) -> None:
    """``metadata["pairs"]`` (and the baseline / 24 h grids and volumes) of ``pairs="realistic"``."""
    p, acq = ctx["pairs"], ctx["acquisition"]
    protocol = ctx["followup_protocol"]
    draws = p["draws"]
    scanner_1w = {
        "noise_sd_hu": acq["followup_noise_sd_hu"],
        "offset_hu": acq["followup_offset_hu"],
        "contrast_gain": acq["followup_contrast_gain"],
        "cupping_amplitude_hu": 0.0,
        "cupping_length_mm": None,
    }
    if protocol["scanner"]:
        sc = protocol["scanner"]
        scanner_1w.update(
            noise_sd_hu=sc["noise_sd_hu"],
            offset_hu=scanner_1w["offset_hu"] + sc["offset_hu"],
            cupping_amplitude_hu=sc["cupping_amplitude_hu"],
            cupping_length_mm=sc["cupping_length_mm"],
        )
    pose24 = p["fu24h_rigid"] @ ctx["pose"]
    rigid24 = _rigid_meta(
        acq,
        p["fu24h_rigid"],
        angles=draws["fu24h_rigid_angles_deg"],
        translation=draws["fu24h_rigid_translation_mm"],
    )
    rigid24["convention"] = rigid24["convention"].replace("p_followup", "p_followup_24h")
    metadata["grids"]["baseline"] = _grid_meta(p["baseline_grid"])
    metadata["grids"]["followup_24h"] = _grid_meta(p["fu24h_grid"])
    metadata["volumes_ml"]["followup_24h"] = _volumes_ml(followup_24h)
    metadata["pairs"] = _jsonable(
        {
            "mode": "realistic",
            "case_ids": {k: f"{case_id}{suffix}" for k, suffix in PAIR_FOLLOWUPS.items()},
            "baseline": {
                "grid": _grid_meta(p["baseline_grid"]),
                "thin_slices": p["baseline_thin"],
                "slice_shift_fraction": draws["baseline_shift_fraction"],
                "extra_slices": 0 if p["baseline_thin"] else draws["baseline_extra_slices"],
                "scanner": p["baseline_scanner"],
                "pose": "the acute pose (head_pose.head_to_world_acute), no lesion",
            },
            "followup_24h": {
                "grid": _grid_meta(p["fu24h_grid"]),
                "slice_shift_fraction": draws["fu24h_shift_fraction"],
                "scanner": p["fu24h_scanner"],
                "rigid": rigid24,
                "head_to_world": pose24,
                "midsagittal_plane": _plane(pose24),
                "hypodensity_fraction": p["fu24h_hypodensity_fraction"],
                **info_24h,
                "volumes_ml": _volumes_ml(followup_24h),
            },
            "followup_1w": {
                "grid": _grid_meta(ctx["ncct_grid"]),
                "scanner": scanner_1w,
                "rigid": "metadata['rigid'] (baseline world -> 1-week world)",
                "lesion_class": fu_info["lesion_class"],
                "infarct_mean_hu": fu_info["infarct_mean_hu"],
                "infarct_shift_hu": fu_info["infarct_shift_hu"],
                "infarct_hypodensity_hu": fu_info.get("infarct_hypodensity_hu", 0.0),
                "volumes_ml": _volumes_ml(followup),
            },
        }
    )


def _followup_options(
    kind,
    lesion_class,
    volumes,
    hemorrhage_share,
    slices,
    scanner,
    *,
    pairs="default",
    none_share=None,
    primary_hemorrhage_share=None,
) -> dict:
    """The follow-up options checked; ``{}`` when all are at their defaults (the realistic-pairs
    options ``pairs``, ``none_share``, ``primary_hemorrhage_share`` are in it only when set)."""
    if pairs not in PAIRS:
        raise ValueError(f"pairs must be one of {PAIRS}; got {pairs!r}")
    shares = {"none_share": none_share, "primary_hemorrhage_share": primary_hemorrhage_share}
    for name, value in shares.items():
        if value is not None and not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must be in [0, 1]; got {value}")
    if sum(float(v) for v in shares.values() if v is not None) > 1.0 + 1e-9:
        raise ValueError(
            f"none_share + primary_hemorrhage_share must be at most 1; got {none_share} + "
            f"{primary_hemorrhage_share}"
        )
    if kind is not None and any(v is not None for v in shares.values()):
        raise ValueError("give the lesion kind or the lesion-kind shares, not both")
    if lesion_class is not None and lesion_class not in LESION_CLASS_OPTIONS:
        raise ValueError(
            f"lesion_class must be one of {LESION_CLASS_OPTIONS}; got {lesion_class!r}"
        )
    if volumes not in INFARCT_VOLUMES:
        raise ValueError(f"infarct_volumes must be one of {INFARCT_VOLUMES}; got {volumes!r}")
    if hemorrhage_share is not None:
        if not 0.0 <= float(hemorrhage_share) <= 1.0:
            raise ValueError(f"hemorrhage_share must be in [0, 1]; got {hemorrhage_share}")
        if kind is not None:
            raise ValueError("give the lesion kind or hemorrhage_share, not both")
    if slices not in FOLLOWUP_SLICES:
        try:
            mm = float(slices)
        except (TypeError, ValueError):
            mm = -1.0
        if not 0.5 <= mm <= 20.0:
            raise ValueError(
                f"followup_slices must be 'thick', 'thin' or a thickness in mm (0.5-20); "
                f"got {slices!r}"
            )
        slices = mm
    options = {
        "lesion_class": lesion_class,
        "infarct_volumes": volumes,
        "hemorrhage_share": None if hemorrhage_share is None else float(hemorrhage_share),
        "followup_slices": slices,
        "scanner_variation": bool(scanner),
    }
    defaults = (None, "default", None, "thick", False)
    extra = {k: float(v) for k, v in shares.items() if v is not None}
    if pairs != "default":
        extra["pairs"] = pairs
    if not extra and tuple(options.values()) == defaults:
        return {}
    return {**options, **extra}


def _protocol(draws: dict, options: dict) -> dict:
    """What the follow-up options make of the ``followup`` stream's draws (see `synth_case`)."""
    cls = options["lesion_class"]
    if cls == "mixed":
        cls = list(LESION_CLASSES)[draws["class_index"]]
    slices = options["followup_slices"]
    thickness = {"thick": None, "thin": draws["thin_slice_mm"]}.get(slices, slices)
    scanner = None
    if options["scanner_variation"]:
        keys = ("noise_sd_hu", "offset_hu", "cupping_amplitude_hu", "cupping_length_mm")
        scanner = {k: draws[k] for k in keys}
    return {
        "options": options,
        "draws": draws,
        "explicit_class": cls,
        "slice_thickness_mm": thickness,
        "scanner": scanner,
        "tissue_brightening_hu": 0.0,
    }


def _draw(rng: dict, preset, kind: str | None, options: dict | None = None) -> dict:
    """Every random parameter of a case (except shapes and noise) plus the derived geometry."""
    lesion_p = sample_lesion(rng["lesion"], kind=kind)
    protocol = None
    if options:
        protocol = _protocol(acqm.sample_followup_protocol(rng["followup"]), options)
        draws = protocol["draws"]
        if options["hemorrhage_share"] is not None:
            ht = draws["hemorrhage_u"] < options["hemorrhage_share"]
            lesion_p["kind"] = "ischemic_ht" if ht else "ischemic"
        if protocol["explicit_class"] is not None:
            lesion_p["lesion_class_requested"] = protocol["explicit_class"]
        if options["infarct_volumes"] == "paper":
            lesion_p["target_infarct_volume_ml"] = paper_infarct_volume(
                draws["volume_z"], protocol["explicit_class"]
            )
    pairs_draws = None
    if options and any(k in options for k in ("pairs", "none_share", "primary_hemorrhage_share")):
        pairs_draws = acqm.sample_pairs_protocol(rng["pairs"])
        protocol["pairs_draws"] = pairs_draws
        _kind_shares(lesion_p, pairs_draws, options)
    for key in ("target_infarct_volume_ml", "hemorrhage_volume_ml"):
        lesion_p[key] = max(lesion_p[key], preset.min_lesion_volume_ml)
    acq = acqm.sample_acquisition(rng["acquisition"], preset)
    ctx = {
        "subject": sample_subject(rng["subject"]),
        "tissue_values": sample_tissue_values(
            rng["subject"],
            core_cbf_fraction=preset.core_cbf_fraction,
            core_cbv_fraction=preset.core_cbv_fraction,
        ),
        "lesion": lesion_p,
        "acquisition": acq,
        "time_s": acqm.ctp_times(acq),
        "aif": sample_aif(
            rng["aif"],
            first_frame_s=0.0,
            prebolus_frames=acq["ctp_prebolus_frames"],
            dt_s=acq["ctp_dt_s"],
        ),
        "pose": acqm.acute_pose(acq),
        "rigid": acqm.followup_rigid(acq),
        "ctp_grid": acqm.ctp_grid(acq, preset),
        "ncct_grid": acqm.ncct_grid(
            acq, preset, thickness_mm=protocol and protocol["slice_thickness_mm"]
        ),
    }
    if protocol is not None:
        ctx["followup_protocol"] = protocol
    if options and options.get("pairs") == "realistic":
        ctx["pairs"] = _pairs_context(pairs_draws, acq, preset, options, ctx["ncct_grid"])
    vessel = _aif_vessel(acq, ctx["ctp_grid"], ctx["pose"], lesion_p["territory"][-1])
    vessel["voxel_zyx"] = [int(ctx["ctp_grid"].shape[0] // 2), *vessel.pop("voxel_yx")]
    ctx["aif_vessel"] = vessel
    return ctx


def _kind_shares(lesion_p: dict, draws: dict, options: dict) -> None:
    """The lesion kind under ``none_share`` / ``primary_hemorrhage_share`` (see `synth_case`)."""
    none, primary = options.get("none_share"), options.get("primary_hemorrhage_share")
    if none is None and primary is None:
        return
    none, primary = none or 0.0, primary or 0.0
    u = draws["kind_u"]
    if u < none:
        lesion_p["kind"] = "none"
    elif u < none + primary:
        lesion_p["kind"] = "hemorrhage"
    elif options["hemorrhage_share"] is None:  # else the share has chosen among the ischemic kinds
        ht = draws["hematoma_u"] < DEFAULT_HEMATOMA_SHARE
        lesion_p["kind"] = "ischemic_ht" if ht else "ischemic"


def _pairs_context(draws: dict, acq: dict, preset, options: dict, fu_grid: Grid) -> dict:
    """Grids, scanners and head pose of the ``pairs="realistic"`` baseline and 24 h scans."""
    variation = options["scanner_variation"]
    thin = draws["baseline_thin_u"] < acqm.PAIRS_THIN_BASELINE_SHARE
    if thin:
        bgrid = acqm.ncct_grid(
            acq,
            preset,
            thickness_mm=draws["baseline_thin_mm"],
            shift_fraction=draws["baseline_shift_fraction"],
        )
    else:  # the follow-up's thickness, slice positions moved, a few slices more or fewer
        bgrid = acqm.ncct_grid(
            acq,
            preset,
            thickness_mm=fu_grid.spacing_mm[0],
            shift_fraction=draws["baseline_shift_fraction"],
            extra_slices=draws["baseline_extra_slices"],
        )
    slices = options["followup_slices"]
    thickness = {"thick": None, "thin": draws["fu24h_thin_slice_mm"]}.get(slices, slices)
    return {
        "draws": draws,
        "baseline_thin": bool(thin),
        "baseline_grid": bgrid,
        "baseline_scanner": acqm.pair_scanner(draws, "baseline", variation=variation),
        "fu24h_grid": acqm.ncct_grid(
            acq, preset, thickness_mm=thickness, shift_fraction=draws["fu24h_shift_fraction"]
        ),
        "fu24h_scanner": acqm.pair_scanner(draws, "fu24h", variation=variation),
        "fu24h_rigid": acqm.pairs_rigid(acq, draws),
        "fu24h_hypodensity_fraction": draws["fu24h_hypodensity_fraction"],
    }


def _render_followup(head, lesion, ctx, rng, protocol, common, **extra) -> tuple[dict, dict]:
    return render_followup(
        head,
        lesion,
        ctx["tissue_values"],
        ctx["acquisition"],
        grid=ctx["ncct_grid"],
        rigid=ctx["rigid"],
        rng=rng["noise_followup"],
        protocol=protocol,
        **common,
        **extra,
    )


def _plane(pose: np.ndarray) -> dict:
    return {
        "point_lps_mm": [float(v) for v in pose[:3, 3]],
        "normal_lps": [float(v) for v in pose[:3, 0]],
    }


def _volumes_ml(vols: dict) -> dict:
    return {
        k: float(np.count_nonzero(v.array) * v.voxel_volume_ml)
        for k, v in vols.items()
        if v.array.dtype == np.uint8 and k != "labels"
    }


def _rigid_meta(acq: dict, rigid: np.ndarray, *, angles=None, translation=None) -> dict:
    alpha, beta, gamma = acq["rigid_angles_deg"] if angles is None else angles
    return {
        "matrix_lps": rigid,
        "convention": "p_followup_world = matrix_lps @ [p_baseline_world, 1] (LPS mm); "
        "matrix = T(c + t) Rz(gamma) Ry(beta) Rx(alpha) T(-c), c = centre_lps_mm",
        "inverse_matrix_lps": np.linalg.inv(rigid),
        "angles_deg": {"alpha_about_x": alpha, "beta_about_y": beta, "gamma_about_z": gamma},
        "translation_mm": acq["rigid_translation_mm"] if translation is None else translation,
        "centre_lps_mm": acq["head_centre_lps_mm"],
    }


def _pose_meta(acq: dict, pose: np.ndarray, rigid: np.ndarray) -> dict:
    return {
        "yaw_deg": acq["yaw_deg"],
        "yaw_convention": "rotation about LPS +z (superior); positive turns the nose towards "
        "patient left (+x)",
        "head_to_world_acute": pose,
        "head_to_world_followup": rigid @ pose,
        "midsagittal_plane": {
            "acute": _plane(pose),
            "baseline": _plane(pose),
            "followup": _plane(rigid @ pose),
        },
        "head_centre_lps_mm": acq["head_centre_lps_mm"],
    }


def _grid_meta(grid: Grid) -> dict:
    return {
        "shape_zyx": grid.shape,
        "spacing_mm_zyx": grid.spacing_mm,
        "origin_lps": grid.origin_lps,
    }


def _metadata(seed, preset, ctx, acute, followup, info) -> dict:
    aif, times = ctx["aif"], ctx["time_s"]
    return _jsonable(
        {
            "generator": "strokect.phantom",
            "seed": int(seed),
            "preset": preset.to_dict(),
            "subject": ctx["subject"],
            "tissue_values": ctx["tissue_values"],
            "lesion": ctx["lesion"],
            "acquisition": ctx["acquisition"],
            "lesion_class": info["lesion_class"],
            "infarct_mean_hu": info["infarct_mean_hu"],
            "infarct_shift_hu": info["infarct_shift_hu"],
            "volumes_ml": {"acute": _volumes_ml(acute), "followup": _volumes_ml(followup)},
            "labels": LABELS,
            "territories": TERRITORIES,
            "constants": {
                "kH": KH,
                "rho_g_per_ml": RHO_G_PER_ML,
                "cbv_relation": "CBV[mL/100g] = 100*kH/rho * AUC(tissue enhancement)/AUC(AIF)",
                "mtt_relation": "MTT[s] = 60 * CBV / CBF",
                "tmax_relation": "Tmax[s] = delay of the tissue curve relative to the AIF",
            },
            "aif": {
                **aif,
                "location_voxel_zyx": ctx["aif_vessel"]["voxel_zyx"],
                "vessel": ctx["aif_vessel"],
                "curve_hu": aif_curve(times, aif),
                "time_s": times,
                "pre_contrast_hu": ctx["tissue_values"]["hu"]["blood"],
            },
            "vof": info["vof"],
            "rigid": _rigid_meta(ctx["acquisition"], ctx["rigid"]),
            "head_pose": _pose_meta(ctx["acquisition"], ctx["pose"], ctx["rigid"]),
            "grids": {
                "acute": _grid_meta(ctx["ctp_grid"]),
                "followup": _grid_meta(ctx["ncct_grid"]),
            },
        }
    )


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        return float(obj)
    if isinstance(obj, (np.integer, int)) and not isinstance(obj, bool):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


__all__ = ["LABELS", "PhantomCase", "synth_case"]
