"""Cohort summary of per-case evaluation records: metric summaries, volume agreement, subgroups."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict

import numpy as np

from strokect.stats.agreement import bland_altman, correlation
from strokect.stats.hypothesis import paired_t_test, wilcoxon_signed_rank
from strokect.stats.icc import icc
from strokect.stats.summary import summarize_metrics, volume_group, volume_group_labels

#: Metrics summarized by default (keys of `strokect.metrics.evaluate_masks` records).
SUMMARY_METRICS: tuple[str, ...] = (
    "dice",
    "jaccard",
    "precision",
    "recall",
    "hausdorff_mm",
    "hd95_mm",
    "assd_mm",
    "pred_volume_ml",
    "ref_volume_ml",
    "volume_difference_ml",
    "abs_volume_error_ml",
    "relative_volume_error",
    "lesion_f1",
    "lesion_count_difference",
)


def volume_agreement(pred_ml: Sequence[float], ref_ml: Sequence[float]) -> dict:
    """ICC(3,1), ICC(2,1), Bland-Altman, correlation, signed-rank and paired t of two volume lists.

    Each entry is a dict of its result, or ``{"not_computed": reason}`` when the data cannot
    support it (fewer than 3 cases, no variance...).
    """
    steps = {
        "icc_3_1": lambda: asdict(icc(np.column_stack([pred_ml, ref_ml]), kind="3,1")),
        "icc_2_1": lambda: asdict(icc(np.column_stack([pred_ml, ref_ml]), kind="2,1")),
        "bland_altman": lambda: asdict(bland_altman(pred_ml, ref_ml)),
        "correlation": lambda: asdict(correlation(pred_ml, ref_ml)),
        "wilcoxon_signed_rank": lambda: asdict(wilcoxon_signed_rank(pred_ml, ref_ml)),
        "paired_t": lambda: asdict(paired_t_test(pred_ml, ref_ml)),
    }
    if len(pred_ml) < 3:
        reason = {"not_computed": f"needs at least 3 cases, got {len(pred_ml)}"}
        return {name: dict(reason) for name in steps}
    out: dict[str, dict] = {}
    for name, step in steps.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            try:
                out[name] = step()
            except (ValueError, RuntimeWarning, ZeroDivisionError) as exc:
                out[name] = {"not_computed": str(exc).splitlines()[0]}
    return out


def _group_summary(records: Sequence[Mapping], metrics: Sequence[str]) -> dict:
    pred = [float(r["pred_volume_ml"]) for r in records]
    ref = [float(r["ref_volume_ml"]) for r in records]
    return {
        "n_cases": len(records),
        "n_both_empty": int(sum(bool(r.get("both_empty")) for r in records)),
        "n_one_empty": int(sum(bool(r.get("one_empty")) for r in records)),
        "metrics": summarize_metrics(records, metrics),
        "volume_agreement": volume_agreement(pred, ref),
    }


def summarize_evaluation(
    records: Sequence[Mapping],
    *,
    groups_ml: Sequence[float] = (10.0, 50.0),
    large_lesion_ml: float = 10.0,
    metrics: Sequence[str] = SUMMARY_METRICS,
) -> dict:
    """Summary of per-case records (``evaluate_masks`` output): overall and per subgroup.

    Parameters
    ----------
    records
        One mapping per successfully evaluated case, with at least the `SUMMARY_METRICS` keys.
    groups_ml
        Edges of the reference-volume groups (default < 10, 10-50, > 50 mL; Wang et al. 2020).
    large_lesion_ml
        The "reference lesion > X mL" subgroup (van Voorst et al. 2022 use 10 mL).

    Returns
    -------
    dict
        JSON-serializable: ``overall``, ``reference_gt_<X>_ml`` and ``volume_groups`` (one entry
        per group label, empty groups included with ``n_cases = 0``).
    """
    labels = volume_group_labels(groups_ml)
    by_group: dict[str, list] = {label: [] for label in labels}
    for r in records:
        by_group[volume_group(float(r["ref_volume_ml"]), groups_ml)].append(r)
    large = [r for r in records if float(r["ref_volume_ml"]) > large_lesion_ml]
    return {
        "overall": _group_summary(records, metrics),
        f"reference_gt_{large_lesion_ml:g}_ml": _group_summary(large, metrics),
        "volume_groups": {label: _group_summary(rs, metrics) for label, rs in by_group.items()},
    }
