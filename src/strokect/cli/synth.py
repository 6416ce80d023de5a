"""``strokect synth``: write a digital head phantom cohort."""

from __future__ import annotations

import click


def _slices(ctx, param, value: str) -> str | float:
    if value in ("thick", "thin"):
        return value
    try:
        mm = float(value)
    except ValueError:
        mm = -1.0
    if not 0.5 <= mm <= 20.0:
        raise click.BadParameter(
            f"'thick', 'thin' or a slice thickness in mm (0.5-20); got {value!r}"
        )
    return mm


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
@click.option(
    "--lesion-class",
    default=None,
    type=click.Choice(["severe", "intermediate", "subtle", "mixed"]),
    help="Follow-up infarct hypodensity class (mean HU [14, 22), [22, 32), [32, 44)); mixed: the "
    "three in turn (equal shares). Default: drawn (35/40/25 %, subtle often out of reach).",
)
@click.option(
    "--infarct-volumes",
    default="default",
    show_default=True,
    type=click.Choice(["default", "paper"]),
    help="Infarct volume law: default (median 15 mL) or paper (median 48 mL, IQR 15-125 mL, "
    "Barros et al. 2020; with --lesion-class, that class's quartiles in the paper).",
)
@click.option(
    "--hemorrhage-share",
    default=None,
    type=click.FloatRange(0.0, 1.0),
    help="Share of cases with a parenchymal hematoma in the infarct (the others: infarct only, "
    "no primary hemorrhage). Default: kinds drawn 72/18/10 % (ischemic/+hematoma/primary).",
)
@click.option(
    "--followup-slices",
    default="thick",
    show_default=True,
    callback=_slices,
    help="NCCT pair slices: thick (the preset's, 5 mm for isles), thin (1-2 mm, drawn per case) "
    "or a thickness in mm.",
)
@click.option(
    "--scanner-variation",
    is_flag=True,
    help="Follow-up NCCT noise 2.5-8 HU, an HU offset of -3..3 and beam-hardening-like cupping "
    "(1.5-5 HU) near the skull, drawn per case.",
)
@click.option(
    "--pairs",
    default="default",
    show_default=True,
    type=click.Choice(["default", "realistic"]),
    help="NCCT pairs: default (baseline and follow-up on one grid) or realistic (for fu2bl): "
    "the baseline on its own grid with its own scanner, and two follow-ups per patient (24 h, "
    "1 week; more hypodense at 1 week), cases <id>_fu24h and <id>_fu1w in "
    "manifest_ncct_pairs.csv (layouts csv and isles2018).",
)
@click.option(
    "--lesion-free-share",
    "none_share",
    default=None,
    type=click.FloatRange(0.0, 1.0),
    help="Share of lesion-free cases (kind none: empty infarct and hemorrhage masks).",
)
@click.option(
    "--primary-hemorrhage-share",
    default=None,
    type=click.FloatRange(0.0, 1.0),
    help="Share of primary hemorrhages (kind hemorrhage: a hematoma, no infarct). With either "
    "share the other cases are ischemic (--hemorrhage-share then applies to them).",
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
    output,
    cases,
    seed,
    preset,
    layout,
    anatomy,
    kind,
    version,
    lesion_class,
    infarct_volumes,
    hemorrhage_share,
    followup_slices,
    scanner_variation,
    pairs,
    none_share,
    primary_hemorrhage_share,
    preview,
    overwrite,
    workers,
) -> None:
    """Generate a synthetic stroke CT cohort (NCCT pairs, 4D CTP, maps, DWI, masks)."""
    from strokect.phantom import write_cohort

    if kind is not None and hemorrhage_share is not None:
        raise click.UsageError("give --kind or --hemorrhage-share, not both")
    if kind is not None and (none_share is not None or primary_hemorrhage_share is not None):
        raise click.UsageError(
            "give --kind or --lesion-free-share / --primary-hemorrhage-share, not both"
        )
    if (none_share or 0.0) + (primary_hemorrhage_share or 0.0) > 1.0:
        raise click.UsageError("--lesion-free-share + --primary-hemorrhage-share must be at most 1")
    if pairs == "realistic" and layout == "isles2024":
        raise click.UsageError("--pairs realistic writes the layouts csv and isles2018")

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
        lesion_class=lesion_class,
        infarct_volumes=infarct_volumes,
        hemorrhage_share=hemorrhage_share,
        followup_slices=followup_slices,
        scanner_variation=scanner_variation,
        pairs=pairs,
        none_share=none_share,
        primary_hemorrhage_share=primary_hemorrhage_share,
    )
    click.echo(
        f"wrote {cases} {preset} cases ({layout}, {anatomy} anatomy, phantom version {version}) "
        f"to {output}; "
        f"manifest {manifest}"
    )
