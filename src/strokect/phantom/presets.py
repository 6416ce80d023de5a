"""Acquisition presets of the phantom cohort: grid sizes, slice thickness, CTP timing.

A preset fixes *how* a subject is imaged; the subject itself (anatomy, lesion, physiology) depends
only on the seed, so ``synth_case(seed=3, preset="tiny")`` and ``preset="isles"`` show the same head
at two resolutions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Preset:
    """Imaging protocol of one preset (all lengths in mm, times in s).

    Attributes
    ----------
    ctp_shape_yx, ctp_spacing_yx_mm
        In-plane matrix and pixel size of the CT perfusion slab (acute NCCT, CTP, maps, DWI, masks).
    ctp_slices
        ``(min, max)`` number of slab slices, sampled per case (inclusive).
    ctp_thickness_mm
        Slab slice thicknesses to choose from (slice spacing = thickness, contiguous slices).
    ctp_frames
        ``(min, max)`` number of CTP frames, sampled per case (inclusive).
    ctp_dt_s
        Frame intervals to choose from; a case uses one value for all frames.
    ctp_min_duration_s
        Only (frames, interval) pairs covering at least this long are drawn.
    ncct_shape_yx, ncct_spacing_yx_mm, ncct_slices, ncct_thickness_mm
        Follow-up (and baseline) whole-head NCCT grid.
    min_lesion_volume_ml
        Lower bound applied to the drawn infarct / haematoma volume (the tiny preset's 0.19 mL
        follow-up voxels would otherwise lose small lesions).
    anatomy_spacing_mm
        ``(z, y, x)`` spacing of the head-frame grid on which the anatomy is built before it is
        resampled into every acquisition grid.
    ctp_noise_sd_hu
        ``(min, max)`` of the CTP frames' noise standard deviation (HU), drawn uniformly per case;
        equal bounds fix it (the perfusion validation sweeps it this way).
    core_cbf_fraction, core_cbv_fraction
        ``(min, max)`` of the core's CBF and CBV as fractions of normal tissue, drawn per subject
        (lesion conspicuity on the maps).
    realistic
        Vendor-like acute inputs (`strokect.phantom.realism.make_realistic`).
    """

    name: str
    ctp_shape_yx: tuple[int, int]
    ctp_spacing_yx_mm: tuple[float, float]
    ctp_slices: tuple[int, int]
    ctp_thickness_mm: tuple[float, ...]
    ctp_frames: tuple[int, int]
    ctp_dt_s: tuple[float, ...]
    ctp_min_duration_s: float
    ncct_shape_yx: tuple[int, int]
    ncct_spacing_yx_mm: tuple[float, float]
    ncct_slices: int
    ncct_thickness_mm: float
    anatomy_spacing_mm: tuple[float, float, float]
    min_lesion_volume_ml: float = 0.0
    ctp_noise_sd_hu: tuple[float, float] = (6.0, 12.0)
    core_cbf_fraction: tuple[float, float] = (0.08, 0.25)
    core_cbv_fraction: tuple[float, float] = (0.3, 0.6)
    realistic: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        name="tiny",
        ctp_shape_yx=(64, 64),
        ctp_spacing_yx_mm=(3.9, 3.9),
        ctp_slices=(8, 8),
        ctp_thickness_mm=(5.0,),
        ctp_frames=(40, 40),
        ctp_dt_s=(2.0,),
        ctp_min_duration_s=55.0,
        ncct_shape_yx=(64, 64),
        ncct_spacing_yx_mm=(3.9, 3.9),
        ncct_slices=12,
        ncct_thickness_mm=12.5,
        anatomy_spacing_mm=(3.0, 3.0, 3.0),
        min_lesion_volume_ml=20.0,
    ),
    "isles": Preset(
        name="isles",
        ctp_shape_yx=(256, 256),
        ctp_spacing_yx_mm=(0.977, 0.977),
        ctp_slices=(2, 22),
        ctp_thickness_mm=(5.0, 5.0, 5.0, 8.0, 10.0),
        ctp_frames=(40, 60),
        ctp_dt_s=(1.0, 1.5, 2.0),
        ctp_min_duration_s=60.0,
        ncct_shape_yx=(256, 256),
        ncct_spacing_yx_mm=(0.977, 0.977),
        ncct_slices=30,
        ncct_thickness_mm=5.0,
        anatomy_spacing_mm=(2.0, 1.25, 1.25),
    ),
    "full": Preset(
        name="full",
        ctp_shape_yx=(256, 256),
        ctp_spacing_yx_mm=(0.977, 0.977),
        ctp_slices=(8, 22),
        ctp_thickness_mm=(5.0,),
        ctp_frames=(40, 60),
        ctp_dt_s=(1.0, 1.5, 2.0),
        ctp_min_duration_s=60.0,
        ncct_shape_yx=(512, 512),
        ncct_spacing_yx_mm=(0.45, 0.45),
        ncct_slices=30,
        ncct_thickness_mm=5.0,
        anatomy_spacing_mm=(2.0, 0.9, 0.9),
    ),
}


#: the ``isles`` protocol with vendor-like maps, labels and CT (issue 16; docs/phantom.md): lesion
#: CBF down to what the real ISLES cases show (lesion / contralateral median 0.74-0.77)
PRESETS["realistic"] = replace(
    PRESETS["isles"],
    name="realistic",
    core_cbf_fraction=(0.08, 0.8),
    core_cbv_fraction=(0.3, 1.0),
    realistic=True,
)


def get_preset(name: str | Preset) -> Preset:
    """The `Preset` called ``name`` (a `Preset` passes through); `ValueError` when unknown."""
    if isinstance(name, Preset):
        return name
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}; got {name!r}")
    return PRESETS[name]


def ctp_protocol(
    preset: str | Preset, *, dt_s: float, duration_s: float, noise_sd_hu: float | None = None
) -> Preset:
    """``preset`` with one CTP frame interval, an acquisition of ``duration_s`` (``duration_s /
    dt_s + 1`` frames) and, when given, a fixed CTP noise SD; the perfusion validation sweeps
    frame intervals and noise with it (``benchmarks/validate_readout.py``)."""
    base = get_preset(preset)
    if dt_s <= 0 or duration_s < dt_s:
        raise ValueError(f"need 0 < dt_s <= duration_s; got {dt_s} and {duration_s}")
    n = round(duration_s / dt_s) + 1
    noise = base.ctp_noise_sd_hu if noise_sd_hu is None else (noise_sd_hu, noise_sd_hu)
    return replace(
        base,
        name=f"{base.name}-dt{dt_s:g}-{duration_s:g}s"
        + ("" if noise_sd_hu is None else f"-sd{noise_sd_hu:g}"),
        ctp_frames=(n, n),
        ctp_dt_s=(float(dt_s),),
        ctp_min_duration_s=float(duration_s),
        ctp_noise_sd_hu=noise,
    )
