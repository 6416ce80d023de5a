"""The self-contained HTML report: inline CSS, images embedded as base64 PNG, no external files."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

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


def _cases_table(records: Sequence[Mapping], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ("case_id", "status", *columns, "message"))
    rows = []
    for r in records:
        cls = " class='err'" if r["status"] != "ok" else ""
        cells = "".join(f"<td>{_num(r.get(c))}</td>" for c in columns)
        rows.append(
            f"<tr{cls}><td>{html.escape(r['case_id'])}</td><td>{html.escape(r['status'])}</td>{cells}"
            f"<td style='text-align:left'>{html.escape(r.get('message', ''))}</td></tr>"
        )
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


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
) -> str:
    """The report page. ``figures``: name -> base64 PNG; ``overlays``: (label, case id, base64 PNG)."""
    overall = summary["overall"]
    problems = [r for r in records if r["status"] != "ok"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>strokect evaluation</title><style>{_CSS}</style></head><body>",
        "<h1>strokect evaluation report</h1>",
        "<p class='muted'>" + " · ".join(f"{html.escape(k)}: {html.escape(str(v))}" for k, v in settings.items()) + "</p>",
        f"<p>{len(records)} cases: {overall['n_cases']} evaluated, {len(problems)} with problems; "
        f"{overall['n_both_empty']} with both masks empty (distances 0), {overall['n_one_empty']} with "
        "exactly one empty mask (distances undefined, counted as missing).</p>",
        "<h2>Summary</h2>", _metrics_table(overall["metrics"]),
        "<h2>Volume agreement</h2>", _agreement_table(overall["volume_agreement"]),
        "<div class='figs'>",
        *(_img(figures[k], k) for k in ("bland_altman", "volume_scatter") if k in figures),
        "</div>",
        "<h2>Per-case Dice</h2>", _img(figures["dice"], "dice", "wide") if "dice" in figures else "",
        "<h2>Subgroups (reference volume)</h2>",
        _subgroup_table(_subgroups(summary)),
        "<h2>Overlays: best, median and worst Dice</h2>",
        *(f"<h3>{html.escape(label)}: {html.escape(cid)}</h3>{_img(b64, cid, 'wide')}" for label, cid, b64 in overlays),
    ]  # fmt: skip
    if problems:
        items = "".join(
            f"<li><b>{html.escape(r['case_id'])}</b>: {html.escape(r['message'])}</li>"
            for r in problems
        )
        parts += ["<h2 class='err'>Cases not evaluated</h2>", f"<ul class='err'>{items}</ul>"]
    parts += ["<h2>All cases</h2>", _cases_table(records, case_columns), "</body></html>"]
    return "\n".join(parts)
