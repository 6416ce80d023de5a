"""Training-domain statistics of a model, and the out-of-domain check of a new input.

Weights trained on one kind of image (the shipped ones: synthetic phantoms) can fail silently on
another (real scans: Dice 0 on every real ISLES case). Every checkpoint can carry the statistics of
its training inputs (`training_domain`); ``strokect segment`` compares each input with them
(`assess_domain`) and prints and records an out-of-domain warning.

Statistics per input role, inside the method's region of interest (e.g. the brain):

* the median of every training case (a 4D series: of its first frame, the unenhanced
  baseline of a perfusion series), giving the range ``[lowest, highest]`` of case medians;
* the pooled inter-quartile range (IQR) of all training voxels;
* in-plane spacing and slice spacing ranges over the cases, of the grid the network works on
  (the input's, or the grid a method reslices it to: `Prepared.grid`).

Out of domain (rules, documented in ``docs/reliability.md``):

* intensity: the input's median inside the ROI lies more than half a pooled IQR outside the range
  of training-case medians (measure: distance outside that range in IQRs; cut-off 0.5);
* spacing: an in-plane or slice spacing more than 25 % outside the training range.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from strokect.io.volume import Volume

__all__ = ["IQR_CUTOFF", "SPACING_TOLERANCE", "assess_domain", "training_domain"]

#: Cut-off of the intensity measure (IQRs outside the range of training-case medians).
IQR_CUTOFF = 0.5
#: Relative tolerance on the spacing range.
SPACING_TOLERANCE = 0.25
_SAMPLE = 50_000


def _roi_values(volume: Volume, roi: np.ndarray | None) -> np.ndarray:
    array = volume.array[0] if volume.is_4d else volume.array  # a series: its first frame
    values = array[roi] if roi is not None else array.ravel()
    return np.asarray(values, dtype=np.float64)


def training_domain(cases: Iterable[tuple], *, scope: str = "") -> dict:
    """Statistics of training inputs: ``cases`` yields ``(volumes by role, ROI)`` per case, or
    ``(volumes, ROI, grid)`` where ``grid`` is the `Volume` whose spacing the network sees.

    Returns a JSON-able dict (stored as ``checkpoint["domain"]``).
    """
    rng = np.random.default_rng(0)
    medians: dict[str, list[float]] = {}
    pooled: dict[str, list[np.ndarray]] = {}
    inplane, slices = [], []
    n = 0
    for item in cases:
        volumes, roi = item[0], item[1]
        grid = item[2] if len(item) > 2 and item[2] is not None else None
        n += 1
        for role, volume in volumes.items():
            values = _roi_values(volume, roi)
            if values.size == 0:
                continue
            medians.setdefault(role, []).append(float(np.median(values)))
            take = rng.choice(values, size=min(_SAMPLE, values.size), replace=False)
            pooled.setdefault(role, []).append(take)
        first = grid if grid is not None else next(iter(volumes.values()))
        inplane.append(float(max(first.spacing_mm[1:])))
        slices.append(float(first.spacing_mm[0]))
    roles = {}
    for role, meds in medians.items():
        q1, q3 = np.percentile(np.concatenate(pooled[role]), [25, 75])
        roles[role] = {
            "median_range": [min(meds), max(meds)],
            "pooled_iqr": float(q3 - q1),
        }
    return {
        "n_cases": n,
        "roles": roles,
        "inplane_spacing_mm": [min(inplane), max(inplane)] if inplane else None,
        "slice_spacing_mm": [min(slices), max(slices)] if slices else None,
        "scope": scope,
        "rule": f"intensity > {IQR_CUTOFF} IQR outside the training median range, or spacing "
        f"> {100 * SPACING_TOLERANCE:.0f} % outside the training range",
    }


def _outside(value: float, low: float, high: float) -> float:
    return max(low - value, value - high, 0.0)


def assess_domain(
    volumes: Mapping[str, Volume],
    roi: np.ndarray | None,
    domain: Mapping,
    *,
    grid: Volume | None = None,
) -> list[dict]:
    """Compare one case's inputs with a training domain; one finding per measure (``grid``: the
    grid the network works on, for the spacing; default the first input's).

    Returns
    -------
    list of dict
        ``{"what", "measure", "value", "training", "cutoff", "out_of_domain"}``.
    """
    findings = []
    for role, stats in domain.get("roles", {}).items():
        if role not in volumes:
            continue
        values = _roi_values(volumes[role], roi)
        if values.size == 0:
            continue
        median = float(np.median(values))
        low, high = stats["median_range"]
        iqr = max(float(stats["pooled_iqr"]), 1e-6)
        distance = _outside(median, low, high) / iqr
        findings.append(
            {
                "what": f"{role} intensity",
                "measure": "median inside the ROI, IQRs outside the training median range",
                "value": round(median, 4),
                "training": [round(low, 4), round(high, 4)],
                "distance_iqr": round(distance, 3),
                "cutoff": IQR_CUTOFF,
                "out_of_domain": bool(distance > IQR_CUTOFF),
            }
        )
    first = grid if grid is not None else next(iter(volumes.values()))
    for what, value, key in (
        ("in-plane spacing", max(first.spacing_mm[1:]), "inplane_spacing_mm"),
        ("slice spacing", first.spacing_mm[0], "slice_spacing_mm"),
    ):
        rng = domain.get(key)
        if not rng:
            continue
        low, high = rng[0] * (1 - SPACING_TOLERANCE), rng[1] * (1 + SPACING_TOLERANCE)
        findings.append(
            {
                "what": what,
                "measure": f"mm, training range +-{100 * SPACING_TOLERANCE:.0f} %",
                "value": round(float(value), 4),
                "training": [round(rng[0], 4), round(rng[1], 4)],
                "cutoff": SPACING_TOLERANCE,
                "out_of_domain": bool(not low <= value <= high),
            }
        )
    return findings
