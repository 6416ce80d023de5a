"""Arterial input function (AIF) and venous output function (VOF) selection.

Automatic AIF: among voxels of the search mask with a high peak (top percentile), rank by a
combined score of early arrival (time to peak), high peak and narrow bolus (effective width =
area / peak), and average the best few curves (in the spirit of Mouridsen et al., MRM 2006 and
the criteria of Calamante, Prog NMR Spectrosc 2013). The VOF is the average of the late-peaking
voxels with the largest area; scaling the AIF so its area equals the VOF's corrects the arterial
partial-volume effect (the VOF, in a large sinus, is assumed free of it), an optional step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from strokect.errors import InputError
from strokect.io.volume import Volume


@dataclass(frozen=True)
class InputFunction:
    """An averaged vascular curve and where it came from.

    Attributes
    ----------
    curve : (G,) float64
        Concentration (HU enhancement) on the uniform grid ``time_s``.
    time_s : (G,) float64
    voxels_zyx : (n, 3) int
        Array indices of the voxels averaged.
    location_zyx : (3,) float
        Their centroid (array index), ``location_world_lps`` the same in LPS world mm.
    source : str
        ``"auto"`` or ``"mask"``.
    """

    curve: np.ndarray
    time_s: np.ndarray
    voxels_zyx: np.ndarray
    location_zyx: np.ndarray
    location_world_lps: np.ndarray
    source: str
    extra: dict = field(default_factory=dict)

    @property
    def peak(self) -> float:
        return float(np.max(self.curve))

    @property
    def ttp_s(self) -> float:
        return float(self.time_s[int(np.argmax(self.curve))] - self.time_s[0])

    def area(self) -> float:
        dt = float(self.time_s[1] - self.time_s[0]) if self.time_s.size > 1 else 1.0
        return float(np.sum(self.curve) * dt)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "location_zyx": [round(float(v), 2) for v in self.location_zyx],
            "location_world_lps_mm": [round(float(v), 2) for v in self.location_world_lps],
            "n_voxels": len(self.voxels_zyx),
            "voxels_zyx": self.voxels_zyx.astype(int).tolist(),
            "peak_hu": round(self.peak, 3),
            "ttp_s": round(self.ttp_s, 3),
            "time_s": [round(float(t), 4) for t in self.time_s],
            "curve_hu": [round(float(c), 4) for c in self.curve],
            **self.extra,
        }


def _make(curves, flat_idx, chosen, grid_s, ref: Volume, source, **extra) -> InputFunction:
    zyx = np.stack(np.unravel_index(flat_idx[chosen], ref.spatial_shape), axis=1)
    centroid = zyx.mean(axis=0)
    return InputFunction(
        curve=curves[:, chosen].mean(axis=1).astype(np.float64),
        time_s=np.asarray(grid_s, dtype=np.float64),
        voxels_zyx=zyx,
        location_zyx=centroid,
        location_world_lps=ref.index_to_world(centroid),
        source=source,
        extra=extra,
    )


def _ranks(values: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(values)).astype(np.float64)


def select_aif(
    curves: np.ndarray,
    flat_idx: np.ndarray,
    grid_s: np.ndarray,
    ref: Volume,
    *,
    n_voxels: int = 5,
    candidate_percentile: float = 95.0,
) -> InputFunction:
    """Automatic AIF from ``(G, M)`` concentration curves of the voxels ``flat_idx`` of ``ref``.

    Candidates: peak above the ``candidate_percentile`` of all peaks and above half the highest
    peak, and not on the last frame.
    Score: sum of ranks of peak height (high), time to peak (early) and first-pass width (narrow:
    area above half the peak, so that tail noise does not bias the selection). The best
    ``n_voxels`` are averaged, leaving out any whose peak is below half the highest chosen peak.
    """
    peak = curves.max(axis=0)
    ttp = curves.argmax(axis=0)
    dt = float(grid_s[1] - grid_s[0])
    # width of the first pass: area above half the peak / peak. Not the whole area / peak: that
    # ranks voxels with negative noise in the long tail as "narrow", and their mean AIF then has
    # a too-small area (0.74-0.92 of the truth on the phantom: CBF and CBV overestimated).
    half = 0.5 * np.maximum(peak, 1e-6)
    width_s = np.maximum(curves - half, 0).sum(axis=0) * dt / half
    cand = np.flatnonzero(
        (peak >= np.percentile(peak, candidate_percentile))
        & (peak >= 0.5 * peak.max())  # arterial peaks, not tissue noise spikes
        & (ttp < curves.shape[0] - 1)
        & (peak > 0)
    )
    if cand.size == 0:
        raise InputError("automatic AIF selection found no enhancing voxel; give an AIF mask")
    score = _ranks(peak[cand]) + _ranks(-ttp[cand].astype(float)) + _ranks(-width_s[cand])
    best = cand[np.argsort(-score, kind="stable")[:n_voxels]]
    best = best[peak[best] >= 0.5 * peak[best].max()]  # never average in a much weaker curve
    return _make(curves, flat_idx, best, grid_s, ref, "auto", score_rank_sum=float(score.max()))


def aif_from_mask(
    curves: np.ndarray, flat_idx: np.ndarray, grid_s: np.ndarray, ref: Volume, mask: np.ndarray
) -> InputFunction:
    """AIF = mean curve of the voxels inside a user mask (must overlap the analysed voxels)."""
    inside = np.flatnonzero(np.asarray(mask, dtype=bool).ravel()[flat_idx])
    if inside.size == 0:
        raise InputError("the AIF mask selects no voxel inside the analysed head region")
    return _make(curves, flat_idx, inside, grid_s, ref, "mask")


def select_vof(
    curves: np.ndarray,
    flat_idx: np.ndarray,
    grid_s: np.ndarray,
    ref: Volume,
    aif: InputFunction,
    *,
    n_voxels: int = 5,
) -> InputFunction:
    """VOF: among voxels peaking after the AIF, the ``n_voxels`` with the largest curve area."""
    ttp = curves.argmax(axis=0)
    aif_ttp = int(np.argmax(aif.curve))
    area = np.maximum(curves, 0).sum(axis=0)
    late = np.flatnonzero((ttp > aif_ttp) & (ttp < curves.shape[0] - 1))
    if late.size == 0:
        raise InputError("no voxel peaks after the AIF: cannot select a venous output function")
    best = late[np.argsort(-area[late], kind="stable")[:n_voxels]]
    return _make(curves, flat_idx, best, grid_s, ref, "auto")
