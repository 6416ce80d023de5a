"""``strokect evaluate``: metrics, statistics and an HTML report for folders of masks."""

from __future__ import annotations

import click

from strokect.errors import InputError


def _parse_groups(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise InputError(
            f"--groups-ml must be comma-separated numbers in mL; got {text!r}"
        ) from None
    if not values:
        raise InputError(f"--groups-ml needs at least one edge; got {text!r}")
    return values


@click.command("evaluate")
@click.option(
    "--pred",
    "pred_dir",
    required=True,
    type=click.Path(path_type=str),
    help="A strokect segment output folder, a folder of them, or a folder of mask files.",
)
@click.option(
    "--ref",
    "ref_dir",
    required=True,
    type=click.Path(path_type=str),
    help="A dataset root (ISLES 2018/2024, manifest) or a folder of reference mask files.",
)
@click.option(
    "--mask",
    "mask_name",
    default=None,
    help="Which segment output to score (default: the method's primary output).",
)
@click.option(
    "--image",
    "image_dir",
    default=None,
    type=click.Path(path_type=str),
    help="Optional folder of CT images (HU) for the overlay figures.",
)
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(path_type=str),
    help="Output folder for per_case.csv, summary.json and report.html.",
)
@click.option(
    "--groups-ml",
    default="10,50",
    show_default=True,
    help="Reference-volume group edges in mL, comma-separated.",
)
@click.option("--overwrite", is_flag=True, help="Allow writing into a non-empty output folder.")
def evaluate(
    pred_dir: str,
    ref_dir: str,
    mask_name: str | None,
    image_dir: str | None,
    out_dir: str,
    groups_ml: str,
    overwrite: bool,
) -> None:
    """Compare predicted and reference lesion masks, matched by case id (see docs/evaluation.md)."""
    from strokect.pipelines.evaluate import evaluate as run_evaluate

    out = run_evaluate(
        pred_dir,
        ref_dir,
        out_dir=out_dir,
        mask=mask_name,
        image_dir=image_dir,
        groups_ml=_parse_groups(groups_ml),
        overwrite=overwrite,
    )
    click.echo(
        f"{out.n_evaluated} of {out.n_cases} cases evaluated ({out.n_failed} with problems): "
        f"{out.csv_path}, {out.json_path}, {out.html_path}"
    )
    if out.n_failed:
        click.echo(
            f"warning: {out.n_failed} case(s) not evaluated; reasons in {out.csv_path}", err=True
        )
    if out.n_evaluated == 0:
        raise InputError(f"no case could be evaluated; reasons in {out.csv_path}")
