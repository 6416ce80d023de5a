"""What an image of each role must look like, checked before any prediction.

A wrong file in a role (the CT given as a CBF map, an all-zero map, a 3D image where a 4D
perfusion series is needed) would otherwise give a confident wrong answer. `check_input`
refuses what cannot be the role (one line naming the role and what is wrong) and warns about
what is only unusual (e.g. perfusion maps in other units). Rules (also in ``docs/reliability.md``;
every case of ``../shared/data`` and of the phantom passes them):

=============  =====================================================================  ======
role           check                                                                  action
=============  =====================================================================  ======
every role     finite values (the readers refuse NaN/inf), not constant                refuse
ct, ncct       unsigned raw CT numbers are converted to HU (`strokect.io.ensure_hu`)   warn
ct, ncct       >= 5 % of voxels in the brain window 0-100 HU                           refuse
ct, ncct       air (< -200 HU) or bone (> 300 HU) present (a head CT in HU)            refuse
cbf/cbv/...    no more than 1 % of voxels below -1 (HU-like negative values)           refuse
cbf/cbv/...    non-zero support of 1-99 % of the volume (brain-shaped)                 refuse
cbf/cbv/...    median of the support in the usual range of the map                     warn
ctp            4D, and the mean of the 0-100 HU voxels rises >= 1 HU (a bolus)         refuse
=============  =====================================================================  ======

Usual medians inside the support: CBF 5-150 mL/100 g/min, CBV 0.5-15 mL/100 g, MTT 1-30 s,
Tmax 0-30 s. Vendor maps can use other scales (the ISLES 2018 CBF maps have medians of 150-213):
that is a warning, recorded, not a refusal.
"""

from __future__ import annotations

import numpy as np

from strokect.errors import InputError, warn
from strokect.io.checks import ensure_hu
from strokect.io.volume import Volume

__all__ = ["MAP_RANGES", "check_input"]

CT_ROLES = ("ct", "ncct")
#: Usual median inside the non-zero support of each perfusion map (low, high, unit).
MAP_RANGES: dict[str, tuple[float, float, str]] = {
    "cbf": (5.0, 150.0, "mL/100 g/min"),
    "cbv": (0.5, 15.0, "mL/100 g"),
    "mtt": (1.0, 30.0, "s"),
    "tmax": (0.0, 30.0, "s"),
}


def _sample(array: np.ndarray) -> np.ndarray:
    """Every voxel of small volumes, every second in-plane voxel of large ones."""
    return np.asarray(array[..., ::2, ::2] if array.size > 4_000_000 else array, dtype=np.float32)


def _base_role(role: str) -> str:
    """``cbf_ncct`` (a map resampled to the NCCT grid) checks as ``cbf``."""
    return role.split("_", 1)[0]


def check_input(role: str, volume: Volume) -> tuple[Volume, list[dict]]:
    """Check one input image against what its role must look like (rules in the module docstring).

    Parameters
    ----------
    role : str
        The image role (``ct``, ``ncct``, ``cbf``, ``cbv``, ``mtt``, ``tmax``, ``ctp``...); roles
        without rules only get the generic check.
    volume : Volume

    Returns
    -------
    volume : Volume
        The same volume, or a CT converted to HU.
    checks : list of dict
        ``{"role", "check", "result": "ok" | "warning", "detail"}`` for the provenance.

    Raises
    ------
    InputError
        ``input <role>: ...`` naming what is wrong.
    """
    base = _base_role(role)
    checks: list[dict] = []

    def record(check: str, ok: bool, measured: str, problem: str, *, refuse: bool = True) -> None:
        if not ok and refuse:
            raise InputError(f"input {role}: {measured}: {problem}")
        if not ok:
            warn(f"input {role}: {measured}: {problem}")
        result = "ok" if ok else "warning"
        checks.append({"role": role, "check": check, "result": result, "measured": measured})

    if base == "ctp":
        _check_ctp(volume, record)
        return volume, checks
    if volume.is_4d:
        raise InputError(
            f"input {role}: a 4D series ({volume.n_frames} frames) where a 3D image is needed"
        )
    a = _sample(volume.array)
    lo, hi = float(a.min()), float(a.max())
    record("not_constant", hi > lo, f"values {lo:g} to {hi:g}", "a constant image")
    if base in CT_ROLES:
        converted = ensure_hu(volume, name=f"input {role}")
        if converted is not volume:
            checks.append(
                {"role": role, "check": "hu_offset", "result": "warning",
                 "measured": "raw unsigned CT numbers, converted with -1024 HU"}
            )  # fmt: skip
            volume, a = converted, _sample(converted.array)
        _check_ct(a, record)
    elif base in MAP_RANGES:
        _check_map(base, a, record)
    return volume, checks


def _check_ct(a: np.ndarray, record) -> None:
    brain = float(np.mean((a >= 0) & (a <= 100)))
    record(
        "brain_window_fraction",
        brain >= 0.05,
        f"{100 * brain:.1f} % of voxels in 0-100 HU",
        ">= 5 % expected of a head CT in HU (is this a perfusion map or another image?)",
    )
    air, bone = float(np.mean(a < -200)), float(np.mean(a > 300))
    record(
        "air_or_bone",
        air > 0 or bone > 0,
        f"{100 * air:.1f} % of voxels below -200 HU, {100 * bone:.1f} % above 300 HU",
        "no air and no bone: not a head CT in HU",
    )


def _check_map(base: str, a: np.ndarray, record) -> None:
    negative = float(np.mean(a < -1.0))
    record(
        "non_negative",
        negative <= 0.01,
        f"{100 * negative:.1f} % of voxels below -1 (minimum {a.min():g})",
        f"a {base.upper()} map is not negative (is this a CT in HU?)",
    )
    support = a != 0
    fraction = float(np.mean(support))
    record(
        "support",
        0.01 <= fraction <= 0.99,
        f"non-zero in {100 * fraction:.1f} % of the volume",
        "1-99 % expected (a brain-shaped region on a zero background)",
    )
    low, high, unit = MAP_RANGES[base]
    median = float(np.median(a[support]))
    record(
        "usual_range",
        low <= median <= high,
        f"median {median:.3g} in the non-zero region",
        f"usual {low:g}-{high:g} {unit} (maps in other units or scaling?)",
        refuse=False,
    )


def _check_ctp(volume: Volume, record) -> None:
    record(
        "is_4d",
        volume.is_4d,
        f"{volume.n_frames} frame(s)",
        "a 4D perfusion series is needed, not a 3D image",
    )
    frames = volume.array.reshape(volume.n_frames, -1)
    first = frames[0]
    tissue = (first >= 0) & (first <= 100)
    record(
        "brain_window",
        bool(tissue.any()),
        f"{int(tissue.sum())} voxels in 0-100 HU in the first frame",
        "soft tissue expected",
    )
    curve = frames[:, tissue].mean(axis=1)
    rise = float(curve.max() - curve[:2].mean())  # over the first two frames (the baseline)
    record(
        "bolus",
        rise >= 1.0,
        f"the mean of the 0-100 HU voxels rises {rise:.2f} HU",
        ">= 1 HU expected (no contrast bolus?)",
    )
