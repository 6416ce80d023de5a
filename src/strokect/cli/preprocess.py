"""``strokect preprocess INPUT -o DIR --steps ...``: a thin shell over
`strokect.preprocess.pipeline.run_preprocess`."""

from __future__ import annotations

from pathlib import Path

import click

from strokect.preprocess.pipeline import STEPS

_STEP_HELP = "; ".join(f"{k}: {v}" for k, v in STEPS.items())


def _parse_maps(values: tuple[str, ...]) -> dict[str, str]:
    maps = {}
    for item in values:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise click.BadParameter(f"expected NAME=PATH; got {item!r}", param_hint="--map")
        maps[name] = path
    return maps


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "output_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Output folder (created; refused when not empty unless --overwrite).",
)
@click.option(
    "--steps",
    default="brain,intracranial,csf",
    show_default=True,
    help=f"Comma-separated steps. {_STEP_HELP}.",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="NAME=PATH",
    help="A perfusion map on the CT grid (repeatable), for symmetric / perfusion_brain.",
)
@click.option(
    "--brain-method",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "threecnn", "threshold"]),
)
@click.option("--series", default=None, help="DICOM series to read: index, SeriesNumber or UID.")
@click.option("--overwrite", is_flag=True, help="Allow writing into a non-empty output folder.")
def preprocess(input_path, output_dir, steps, maps, brain_method, series, overwrite):
    """Brain / intracranial / CSF masks, symmetric modalities and HU channels of one CT.

    Every output has the input's geometry; OUTPUT/preprocess.json records what ran with which
    parameters.
    """
    from strokect.preprocess.pipeline import run_preprocess

    record = run_preprocess(
        input_path,
        output_dir,
        steps=steps,
        maps=_parse_maps(maps),
        brain_method=brain_method,
        series=series,
        overwrite=overwrite,
    )
    for step in record["steps"]:
        click.echo(f"{step['step']}: {', '.join(step['outputs'])} ({step['seconds']:.2f} s)")
    click.echo(f"record: {Path(output_dir) / 'preprocess.json'}")
