"""``strokect synth``: write a digital head phantom cohort."""

from __future__ import annotations

import click


@click.command("synth")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(file_okay=False),
    help="Cohort folder to create (must be new or empty unless --overwrite).",
)
@click.option(
    "--cases", default=10, show_default=True, type=click.IntRange(min=1), help="Number of cases."
)
@click.option(
    "--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Cohort seed."
)
@click.option(
    "--preset",
    default="isles",
    show_default=True,
    type=click.Choice(["tiny", "isles", "full", "realistic"]),
    help="Acquisition preset.",
)
@click.option(
    "--layout",
    default="isles2018",
    show_default=True,
    type=click.Choice(["isles2018", "isles2024", "csv"]),
    help="Folder layout.",
)
@click.option(
    "--anatomy",
    default="procedural",
    show_default=True,
    type=click.Choice(["procedural", "mni"]),
    help="Brain tissue map: procedural, or the MNI152 templates of the optional nilearn package.",
)
@click.option(
    "--kind",
    default=None,
    type=click.Choice(["ischemic", "ischemic_ht", "hemorrhage", "none"]),
    help="Force the lesion kind of every case (default: drawn per case).",
)
@click.option(
    "--phantom-version",
    "version",
    default=2,
    show_default=True,
    type=click.IntRange(1, 2),
    help="Phantom version: 2 has a face, orbits, sinuses and petrous bone; 1 is the earlier head "
    "(the version the shipped weights were trained on).",
)
@click.option("--preview", is_flag=True, help="Also write a PNG mosaic per case under preview/.")
@click.option("--overwrite", is_flag=True, help="Replace an existing phantom cohort in the folder.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Parallel processes (files are identical for any value).",
)
def synth(
    output, cases, seed, preset, layout, anatomy, kind, version, preview, overwrite, workers
) -> None:
    """Generate a synthetic stroke CT cohort (NCCT pairs, 4D CTP, maps, DWI, masks)."""
    from strokect.phantom import write_cohort

    manifest = write_cohort(
        output,
        n_cases=cases,
        seed=seed,
        preset=preset,
        layout=layout,
        preview=preview,
        overwrite=overwrite,
        workers=workers,
        anatomy=anatomy,
        kind=kind,
        version=version,
    )
    click.echo(
        f"wrote {cases} {preset} cases ({layout}, {anatomy} anatomy, phantom version {version}) "
        f"to {output}; "
        f"manifest {manifest}"
    )
