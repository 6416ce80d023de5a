"""``strokect info PATH``: geometry and values of an image, the series of a DICOM folder, or the
cases of a dataset root. A thin shell over `strokect.data.describe.describe_path`."""

from __future__ import annotations

import json
from pathlib import Path

import click


def _role_label(role: str, native: dict) -> str:
    return f"{role} ({native[role]})" if role in native and native[role] != role else role


def format_dataset(summary: dict) -> list[str]:
    lines = [
        f"dataset: {summary['path']}",
        f"layout: {summary['layout']}",
        f"cases: {summary['n_cases']} from {summary['n_patients']} patient(s)",
    ]
    for case in summary["cases"]:
        native = case["native_names"]
        extra = "".join(f", {k} {case[k]}" for k in ("slab", "split") if case[k])
        lines.append(f"- {case['case_id']}: patient {case['patient_id']}{extra}")
        images = ", ".join(_role_label(r, native) for r in case["images"]) or "none"
        lines.append(f"    images: {images}")
        masks = ", ".join(_role_label(r, native) for r in case["masks"]) or "none"
        lines.append(f"    masks: {masks}")
        if case["missing"]:
            missing = ", ".join(_role_label(r, native) for r in case["missing"])
            lines.append(f"    missing: {missing}")
        if "geometry" in case:
            lines.append(f"    geometry: {case['geometry']}")
    return lines


def format_series(summary: dict) -> list[str]:
    lines = [f"DICOM folder: {summary['path']}", f"{len(summary['series'])} series:"]
    for s in summary["series"]:
        size = f"{s['rows']}x{s['cols']}" if s.get("rows") else "?"
        lines.append(
            f"  [{s['index']}] number {s['number']}, {s['modality'] or '?'}, "
            f"'{s['description'] or ''}', {s['n_files']} files, {size}"
        )
    lines.append("read one with: strokect info PATH --series <index, number or UID>")
    return lines


def format_image(summary: dict) -> list[str]:
    from strokect.io.describe import format_summary

    return [f"image: {summary['path']}", *format_summary(summary)]


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--series", default=None, help="DICOM series to read: index, SeriesNumber or UID.")
@click.option(
    "--allow-slice-gaps",
    is_flag=True,
    help="DICOM: interpolate across a missing slice instead of refusing the series.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON.")
@click.option(
    "--check", is_flag=True, help="Dataset: read every case and check that its grids agree."
)
def info(
    path: Path, series: str | None, allow_slice_gaps: bool, as_json: bool, check: bool
) -> None:
    """Describe an image file, a DICOM folder or a dataset root."""
    from strokect.data.describe import describe_path
    from strokect.errors import InputError

    summary = describe_path(path, series=series, check=check, allow_slice_gaps=allow_slice_gaps)
    if as_json:
        click.echo(json.dumps(summary, indent=1))
    else:
        formatter = {"dataset": format_dataset, "dicom_series": format_series}.get(
            summary["kind"], format_image
        )
        click.echo("\n".join(formatter(summary)))
    if summary.get("n_geometry_errors"):
        first = next(c["geometry"] for c in summary["cases"] if c["geometry"] != "ok")
        raise InputError(f"{summary['n_geometry_errors']} case(s) with disagreeing grids; {first}")
