"""The self-contained HTML report: inline CSS, images embedded as base64 PNG, no external files."""

from __future__ import annotations

import html
import math
from collections.abc import Collection, Mapping, Sequence

from strokect.stats.summary import format_mean_sd, format_median_iqr

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;max-width:1180px;
color:#1d1d1f;background:#fff;padding:0 16px}
h1{font-size:1.6em;margin-bottom:4px}h2{font-size:1.2em;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0;font-size:.88em}
th,td{border:1px solid #d0d0d0;padding:4px 8px;text-align:right}th{background:#f2f4f8}
td:first-child,th:first-child{text-align:left}.err{color:#b00020}.muted{color:#666;font-size:.85em}
.figs{display:flex;flex-wrap:wrap;gap:12px}.figs img{border:1px solid #e0e0e0;max-width:100%}
img.wide{max-width:100%;display:block;margin:6px 0 14px}
table.models td,table.models th{text-align:left}
.scroll{overflow-x:auto}table.cases{font-size:.8em}table.cases th{vertical-align:bottom}
table.cases td:last-child,table.cases th:last-child{text-align:left;min-width:16em}
"""

METRIC_LABELS: dict[str, str] = {
    "dice": "Dice",
    "jaccard": "Jaccard",
    "precision": "Precision (PPV)",
    "recall": "Recall (sensitivity)",
    "hausdorff_mm": "Hausdorff (mm)",
    "hd95_mm": "HD95 (mm)",
    "assd_mm": "ASSD (mm)",
    "pred_volume_ml": "Predicted volume (mL)",
    "ref_volume_ml": "Reference volume (mL)",
    "volume_difference_ml": "Volume difference pred - ref (mL)",
    "abs_volume_error_ml": "Absolute volume error (mL)",
    "relative_volume_error": "Relative volume error",
    "lesion_f1": "Lesion-wise F1",
    "lesion_count_difference": "Lesion-count difference",
}


def _num(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _metrics_table(metrics: Mapping[str, Mapping]) -> str:
    rows = [
        "<tr><th>metric</th><th>median [IQR]</th><th>mean ± SD</th><th>n</th><th>n missing</th></tr>"
    ]
    for key, st in metrics.items():
        ok = st["n"] > 0
        rows.append(
            f"<tr><td>{html.escape(METRIC_LABELS.get(key, key))}</td>"
            f"<td>{format_median_iqr(st) if ok else '–'}</td>"
            f"<td>{format_mean_sd(st) if st['n'] > 1 else '–'}</td>"
            f"<td>{st['n']}</td><td>{st['n_missing']}</td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _ci(d: Mapping, value: str, low: str, high: str) -> str:
    if "not_computed" in d:
        return f"<span class='muted'>not computed: {html.escape(d['not_computed'])}</span>"
    return f"{_num(d[value])} [{_num(d[low])}, {_num(d[high])}]"


def _agreement_table(agr: Mapping[str, Mapping]) -> str:
    ba, corr = agr["bland_altman"], agr["correlation"]
    rows = [
        ("ICC(3,1) consistency [95% CI]", _ci(agr["icc_3_1"], "value", "ci_low", "ci_high")),
        ("ICC(2,1) absolute agreement [95% CI]", _ci(agr["icc_2_1"], "value", "ci_low", "ci_high")),
    ]
    if "not_computed" in ba:
        rows.append(("Bland-Altman", _ci(ba, "", "", "")))
    else:
        rows += [
            ("Bland-Altman bias (mL) [95% CI]", f"{_num(ba['bias'])} [{_num(ba['bias_ci'][0])}, {_num(ba['bias_ci'][1])}]"),
            ("Lower limit of agreement (mL) [95% CI]", f"{_num(ba['loa_low'])} [{_num(ba['loa_low_ci'][0])}, {_num(ba['loa_low_ci'][1])}]"),
            ("Upper limit of agreement (mL) [95% CI]", f"{_num(ba['loa_high'])} [{_num(ba['loa_high_ci'][0])}, {_num(ba['loa_high_ci'][1])}]"),
        ]  # fmt: skip
    if "not_computed" not in corr:
        rows += [
            ("R² (Pearson r²)", _num(corr["r_squared"])),
            ("Pearson r (p)", f"{_num(corr['pearson_r'])} ({corr['pearson_p']:.3g})"),
            ("Spearman ρ (p)", f"{_num(corr['spearman_rho'])} ({corr['spearman_p']:.3g})"),
        ]
    for key, label in (
        ("wilcoxon_signed_rank", "Wilcoxon signed-rank p"),
        ("paired_t", "Paired t-test p"),
    ):
        d = agr[key]
        rows.append((label, f"{d['p_value']:.3g}" if "p_value" in d else _ci(d, "", "", "")))
    body = "".join(f"<tr><td>{html.escape(a)}</td><td>{b}</td></tr>" for a, b in rows)
    return f"<table><tr><th>volume agreement (predicted vs reference)</th><th>value</th></tr>{body}</table>"


def _subgroup_table(groups: Mapping[str, Mapping]) -> str:
    rows = ["<tr><th>group</th><th>cases</th><th>Dice median [IQR]</th><th>HD95 median [IQR] (mm)</th>"
            "<th>relative volume error median [IQR]</th><th>ICC(3,1)</th></tr>"]  # fmt: skip
    for label, g in groups.items():
        m = g["metrics"]
        cells = [format_median_iqr(m[k]) if k in m and m[k]["n"] else "–"
                 for k in ("dice", "hd95_mm", "relative_volume_error")]  # fmt: skip
        icc3 = g["volume_agreement"]["icc_3_1"]
        rows.append(
            f"<tr><td>{html.escape(label)}</td><td>{g['n_cases']}</td>"
            + "".join(f"<td>{c}</td>" for c in cells)
            + f"<td>{_num(icc3.get('value'))}</td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _subgroups(summary: Mapping) -> dict[str, Mapping]:
    """The "reference > X mL" subgroup(s) then the volume groups, with readable labels."""
    groups = {}
    for key, value in summary.items():
        if key.startswith("reference_gt_") and key.endswith("_ml"):
            groups[f"reference > {key[len('reference_gt_') : -len('_ml')]} mL"] = value
    return groups | dict(summary["volume_groups"])


def _cases_table(
    records: Sequence[Mapping],
    columns: Sequence[str],
    ranked: Collection[str] | None = None,
    picks: Mapping[str, str] | None = None,
) -> str:
    """Per-case rows; a ``*`` marks the Dice of an evaluated case outside ``ranked``."""
    picks = picks or {}
    head = "".join(  # CSV column names, allowed to wrap after each "_"
        f"<th>{html.escape(c).replace('_', '_<wbr>')}</th>"
        for c in ("case_id", "status", *columns, "overlay", "message")
    )
    rows = []
    for r in records:
        cls = " class='err'" if r["status"] != "ok" else ""
        star = r["status"] == "ok" and ranked is not None and r["case_id"] not in ranked
        cells = "".join(
            f"<td>{_num(r.get(c))}{'*' if star and c == 'dice' else ''}</td>" for c in columns
        )
        rows.append(
            f"<tr{cls}><td>{html.escape(r['case_id'])}</td><td>{html.escape(r['status'])}</td>{cells}"
            f"<td>{html.escape(picks.get(r['case_id'], ''))}</td>"
            f"<td>{html.escape(r.get('message', ''))}</td></tr>"
        )
    return f"<div class='scroll'><table class='cases'><tr>{head}</tr>{''.join(rows)}</table></div>"


def _about(about: Mapping[str, str]) -> str:
    if not about:
        return ""
    return (
        f"<p class='muted'>strokect {html.escape(str(about.get('strokect_version', '?')))} · "
        f"report made {html.escape(str(about.get('created', '?')))}</p>"
    )


def _models(models: Sequence[Mapping] | None) -> str:
    """The methods and weights (file, short SHA-256) behind the predictions."""
    if models is None:
        return (
            "<p>Methods and weights: <b>not recorded</b> (the predictions are mask files without "
            "a strokect segment provenance).</p>"
        )
    rows = []
    for m in models:
        weights = list(m.get("weights") or []) or [{"file": "not recorded", "sha256": ""}]
        for i, w in enumerate(weights):
            first = (f"<td rowspan='{len(weights)}'>{html.escape(str(m.get('method') or 'not recorded'))}</td>"
                     if i == 0 else "")  # fmt: skip
            count = f"<td rowspan='{len(weights)}'>{m.get('n_cases', '')}</td>" if i == 0 else ""
            sha = str(w.get("sha256") or "")
            rows.append(
                f"<tr>{first}<td>{html.escape(str(w.get('file', '')))}</td>"
                f"<td title='{html.escape(sha)}'><code>{html.escape(sha[:12] or '–')}</code></td>"
                f"{count}</tr>"
            )
    head = "<tr><th>method</th><th>weights file</th><th>SHA-256 (first 12)</th><th>cases</th></tr>"
    return f"<table class='models'>{head}{''.join(rows)}</table>"


def _mean_dice(mean_dice: Mapping | None) -> str:
    if not mean_dice:
        return ""
    excluded = [f"{mean_dice['n_both_empty_excluded']} with both masks empty excluded"]
    if mean_dice.get("n_empty_reference_excluded"):
        excluded.append(
            f"{mean_dice['n_empty_reference_excluded']} with an empty reference and a "
            "predicted lesion excluded"
        )
    return (
        f"<p class='meandice'><b>Mean Dice {_num(mean_dice['mean'])}</b> over the "
        f"{mean_dice['n_cases']} cases with a non-empty reference ({'; '.join(excluded)}).</p>"
    )


def _img(b64: str, alt: str, cls: str = "") -> str:
    return f"<img class='{cls}' alt='{html.escape(alt)}' src='data:image/png;base64,{b64}'>"


def render_html(
    *,
    summary: Mapping,
    records: Sequence[Mapping],
    figures: Mapping[str, str],
    overlays: Sequence[tuple[str, str, str]],
    settings: Mapping[str, str],
    case_columns: Sequence[str],
    about: Mapping[str, str] | None = None,
    models: Sequence[Mapping] | None = None,
    mean_dice: Mapping | None = None,
    ranked: Collection[str] | None = None,
    picks: Mapping[str, str] | None = None,
) -> str:
    """The report page.

    ``figures``: name -> base64 PNG; ``overlays``: (label, case id, base64 PNG); ``about``:
    ``strokect_version`` and ``created``; ``models``: methods and weights (None = not
    recorded); ``mean_dice``: `strokect.report.pipeline.mean_dice_nonempty_reference`;
    ``ranked``: ids of the cases the overlays were picked from (the others' Dice gets a ``*``);
    ``picks``: case id -> "best" / "median" / "worst".
    """
    overall = summary["overall"]
    problems = [r for r in records if r["status"] != "ok"]
    unranked = ranked is not None and any(
        r["status"] == "ok" and r["case_id"] not in ranked for r in records
    )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>strokect evaluation</title><style>{_CSS}</style></head><body>",
        "<h1>strokect evaluation report</h1>", _about(about or {}),
        "<p class='muted'>" + " · ".join(f"{html.escape(k)}: {html.escape(str(v))}" for k, v in settings.items()) + "</p>",
        f"<p>{len(records)} cases: {overall['n_cases']} evaluated, {len(problems)} with problems; "
        f"{overall['n_both_empty']} with both masks empty (distances 0), {overall['n_one_empty']} with "
        "exactly one empty mask (distances undefined, counted as missing).</p>",
        _mean_dice(mean_dice),
        "<h2>Methods and weights</h2>", _models(models),
        "<h2>Summary</h2>", _metrics_table(overall["metrics"]),
        "<h2>Volume agreement</h2>", _agreement_table(overall["volume_agreement"]),
        "<div class='figs'>",
        *(_img(figures[k], k) for k in ("bland_altman", "volume_scatter") if k in figures),
        "</div>",
        "<h2>Per-case Dice</h2>", _img(figures["dice"], "dice", "wide") if "dice" in figures else "",
        "<h2>Subgroups (reference volume)</h2>",
        _subgroup_table(_subgroups(summary)),
        "<h2>Overlays: best, median and worst Dice</h2>",
        "<p class='muted'>Cropped around both masks; L/R: the patient's side; bar: scale in mm.</p>",
        *(f"<h3>{html.escape(label)}: {html.escape(cid)}</h3>{_img(b64, cid, 'wide')}" for label, cid, b64 in overlays),
    ]  # fmt: skip
    if problems:
        items = "".join(
            f"<li><b>{html.escape(r['case_id'])}</b>: {html.escape(r['message'])}</li>"
            for r in problems
        )
        parts += ["<h2 class='err'>Cases not evaluated</h2>", f"<ul class='err'>{items}</ul>"]
    parts += ["<h2>All cases</h2>", _cases_table(records, case_columns, ranked, picks)]
    if unranked:
        parts.append(
            "<p class='muted'>* empty reference (Dice 1 when both masks are empty, 0 with any "
            "predicted voxel): left out of the mean Dice and of the best/median/worst overlays.</p>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)
