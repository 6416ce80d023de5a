"""`evaluate_folders`: the function behind ``strokect evaluate``."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from strokect.io.atomic import atomic_output, staged_output_dir
from strokect.io.records import write_json
from strokect.metrics import METRIC_COLUMNS
from strokect.report.cases import CaseFiles, match_cases
from strokect.report.evaluation import (
    EvaluationOutputs,
    evaluate_case,
    read_case_image,
    read_case_masks,
    write_case_csv,
)
from strokect.report.figures import (
    bland_altman_figure,
    dice_figure,
    figure_to_png_base64,
    overlay_mosaic,
    volume_scatter_figure,
)
from strokect.report.html import render_html
from strokect.stats import BlandAltmanResult, summarize_evaluation
from strokect.version import __version__

logger = logging.getLogger(__name__)

#: Columns shown in the HTML per-case table (names and order as in ``per_case.csv``).
HTML_CASE_COLUMNS = (
    "dice", "precision", "recall", "hausdorff_mm", "hd95_mm", "assd_mm", "pred_volume_ml",
    "ref_volume_ml", "lesion_f1",
)  # fmt: skip
#: what the report says of the methods and weights when the predictions carry no provenance
NOT_RECORDED = "not recorded"


def _has_reference_lesion(record: Mapping) -> bool:
    ref_ml = float(record.get("ref_volume_ml", float("nan")))
    return math.isfinite(ref_ml) and ref_ml > 0


def mean_dice_nonempty_reference(records: Sequence[dict]) -> dict:
    """Mean Dice of the evaluated cases whose reference is not empty.

    A case with an empty reference has Dice 1 (both masks empty, by convention) or 0 (any
    predicted voxel): either says nothing of how well lesions are outlined, so both are left
    out and counted: ``n_both_empty_excluded`` and ``n_empty_reference_excluded`` (an empty
    reference with a non-empty prediction). ``mean`` is None when no case is left.
    """
    ok = [r for r in records if r["status"] == "ok"]
    used = [float(r["dice"]) for r in ok if _has_reference_lesion(r)]
    both = sum(1 for r in ok if not _has_reference_lesion(r) and r.get("both_empty"))
    return {
        "mean": sum(used) / len(used) if used else None,
        "n_cases": len(used),
        "n_both_empty_excluded": both,
        "n_empty_reference_excluded": len(ok) - len(used) - both,
    }


def ranked_cases(records: Sequence[dict]) -> list[dict]:
    """The evaluated cases the overlays are picked from, by decreasing Dice (ties: case id).

    Those of `mean_dice_nonempty_reference` (a non-empty reference); only when there is none,
    the others (both-empty cases last: their overlay shows no outline at all).
    """
    ok = [r for r in records if r["status"] == "ok"]
    ranked = [r for r in ok if _has_reference_lesion(r)]
    ranked = ranked or [r for r in ok if not r["both_empty"]] or ok
    return sorted(ranked, key=lambda r: (-r["dice"], r["case_id"]))


def pick_best_median_worst(records: Sequence[dict]) -> list[tuple[str, dict]]:
    """(label, record) of the `ranked_cases` with the highest, median and lowest Dice.

    The same cases are marked as ranked in the report's table, so "best" has the highest Dice
    there and "worst" the lowest. Ties go to the lower case id for "best", the higher for
    "worst"; "median" is the upper median.
    """
    ranked = ranked_cases(records)
    if not ranked:
        return []
    picks = [("best", ranked[0]), ("median", ranked[(len(ranked) - 1) // 2]),
             ("worst", ranked[-1])]  # fmt: skip
    seen, out = set(), []
    for label, r in picks:
        if r["case_id"] not in seen:
            seen.add(r["case_id"])
            out.append((label, r))
    return out


def _figures(ok: Sequence[dict], agreement: dict) -> dict[str, str]:
    """Report figures; Bland-Altman and R² come from the summary's ``volume_agreement``."""
    pred = [r["pred_volume_ml"] for r in ok]
    ref = [r["ref_volume_ml"] for r in ok]
    figs = {
        "dice": figure_to_png_base64(
            dice_figure([r["case_id"] for r in ok], [r["dice"] for r in ok])
        )
    }
    ba = agreement["bland_altman"]
    if "not_computed" in ba:
        logger.info("no Bland-Altman plot: %s", ba["not_computed"])
    else:
        figs["bland_altman"] = figure_to_png_base64(
            bland_altman_figure(pred, ref, BlandAltmanResult(**ba))
        )
    r2 = agreement["correlation"].get("r_squared")
    figs["volume_scatter"] = figure_to_png_base64(volume_scatter_figure(pred, ref, r_squared=r2))
    return figs


def _overlays(picks, cases: dict[str, CaseFiles]) -> list[tuple[str, str, str]]:
    out = []
    for label, r in picks:
        case = cases[r["case_id"]]
        pred, ref, ref_vol = read_case_masks(case)
        image, _ = read_case_image(case, ref_vol)
        fig = overlay_mosaic(pred, ref, spacing_mm=ref_vol.spacing_mm, image=image,
                             direction=ref_vol.direction,
                             title=f"{label} Dice {r['dice']:.3f}: {case.case_id}")  # fmt: skip
        out.append((f"{label} Dice ({r['dice']:.3f})", case.case_id, figure_to_png_base64(fig)))
    return out


def evaluate_folders(
    pred_dir: str | Path,
    ref_dir: str | Path,
    *,
    out_dir: str | Path,
    image_dir: str | Path | None = None,
    groups_ml: Sequence[float] = (10.0, 50.0),
    large_lesion_ml: float = 10.0,
    overwrite: bool = False,
) -> EvaluationOutputs:
    """Evaluate folders of mask files, matched by case id (rules in :mod:`strokect.report.cases`).

    See `evaluate_cases` for the outputs; ``image_dir`` is an optional folder of CT images (HU)
    for the overlays, matched by the same rules.
    """
    cases = match_cases(pred_dir, ref_dir, image_dir=image_dir)
    settings = {"pred": str(pred_dir), "ref": str(ref_dir), "image": str(image_dir or "none")}
    return evaluate_cases(
        cases,
        out_dir=out_dir,
        settings=settings,
        groups_ml=groups_ml,
        large_lesion_ml=large_lesion_ml,
        overwrite=overwrite,
    )


def evaluate_cases(
    cases: Sequence[CaseFiles],
    *,
    out_dir: str | Path,
    settings: dict[str, str],
    groups_ml: Sequence[float] = (10.0, 50.0),
    large_lesion_ml: float = 10.0,
    overwrite: bool = False,
    models: Sequence[Mapping] | None = None,
) -> EvaluationOutputs:
    """Evaluate every case and write ``per_case.csv``, ``summary.json``, ``report.html``.

    Parameters
    ----------
    cases
        Prediction / reference (/ image) files per case; a case with a ``problem`` is reported,
        not evaluated.
    out_dir
        Output folder (created; refused when not empty unless ``overwrite``).
    settings
        What was compared (shown in the report and ``summary.json``).
    groups_ml
        Reference-volume group edges in mL (default 10, 50).
    large_lesion_ml
        Threshold of the "reference > X mL" subgroup.
    models
        The methods and weights that made the predictions, one mapping per combination:
        ``method``, ``weights`` (``[{"file", "sha256"}]``) and ``n_cases``, as the segment
        provenance records them; None (plain mask folders) = `NOT_RECORDED`.

    Besides the settings, ``summary.json`` and the page hold the strokect version, the time the
    report was made, the models and `mean_dice_nonempty_reference`.
    """
    names = ("per_case.csv", "summary.json", "report.html")
    with staged_output_dir(out_dir, overwrite=overwrite) as tmp:  # checked before any work
        records = []
        for i, case in enumerate(cases, 1):
            logger.info("[%d/%d] %s", i, len(cases), case.case_id)
            records.append(evaluate_case(case))
        ok = [r for r in records if r["status"] == "ok"]
        summary = summarize_evaluation(ok, groups_ml=groups_ml, large_lesion_ml=large_lesion_ml)
        settings = {**settings, "groups_ml": ", ".join(f"{g:g}" for g in groups_ml)}
        problems = [
            {"case_id": r["case_id"], "message": r["message"]}
            for r in records
            if r["status"] != "ok"
        ]
        about = {
            "strokect_version": __version__,
            "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        mean_dice = mean_dice_nonempty_reference(records)
        picks = pick_best_median_worst(records)
        document = {
            **about,
            "settings": settings,
            "models": [dict(m) for m in models] if models is not None else NOT_RECORDED,
            "n_cases": len(records),
            "n_evaluated": len(ok),
            "n_failed": len(problems),
            "problems": problems,
            "metric_columns": list(METRIC_COLUMNS),
            "mean_dice_nonempty_reference": mean_dice,
            "overlays": {label: r["case_id"] for label, r in picks},
            "summary": summary,
        }
        by_id = {c.case_id: c for c in cases}
        page = render_html(
            summary=summary,
            records=records,
            figures=_figures(ok, summary["overall"]["volume_agreement"]) if ok else {},
            overlays=_overlays(picks, by_id),
            settings=settings,
            case_columns=HTML_CASE_COLUMNS,
            about=about,
            models=models,
            mean_dice=mean_dice,
            ranked={r["case_id"] for r in ranked_cases(records)},
            picks={r["case_id"]: label for label, r in picks},
        )
        write_case_csv(records, tmp / names[0])
        write_json(document, tmp / names[1])
        with atomic_output(tmp / names[2]) as html_tmp:
            html_tmp.write_text(page, encoding="utf-8")
    csv_path, json_path, html_path = (Path(out_dir) / n for n in names)
    return EvaluationOutputs(csv_path, json_path, html_path, len(records), len(ok), len(problems))
