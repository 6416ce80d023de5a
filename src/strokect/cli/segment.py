"""``strokect segment``: a thin shell over `strokect.pipelines.segment.segment`."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click


@click.command("segment")
@click.argument("input_path", metavar="[INPUT]", required=False, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Output folder (refused when it exists and is not empty, unless --overwrite).",
)
@click.option("--method", default="clerigues", show_default=True, help="Registered method name.")
@click.option(
    "--weights",
    help="Checkpoint file, training run folder (fold_*/model.pt = ensemble) or shipped model "
    "name. Default: the method's shipped model with the most inputs that are all given.",
)
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="ROLE=PATH",
    help="An image by role (repeatable): file or DICOM folder; PATH::SERIES picks one series "
    "of a folder holding several (UID, number or index from `strokect info`).",
)
@click.option("--case", "case_id", help="Which case of a dataset root given as INPUT.")
@click.option(
    "--set",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A method option (repeatable), e.g. threshold=0.3, mc_passes=0, tile_size=64.",
)
@click.option(
    "--device", default="auto", show_default=True, help="auto, cpu or cuda (auto: cuda if present)."
)
@click.option(
    "--threads",
    type=int,
    help="CPU threads for torch (default: measured per method, see benchmarks/RESULTS.md).",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the MC-dropout draws.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option(
    "--allow-slice-gaps",
    is_flag=True,
    help="DICOM: interpolate across a missing slice instead of refusing the series.",
)
@click.option("--overwrite", is_flag=True, help="Allow writing into a non-empty output folder.")
def segment(
    input_path, out_dir, method, weights, inputs, case_id, options, device, threads, seed, quiet,
    allow_slice_gaps, overwrite,
):  # fmt: skip
    """Segment one case with a method: INPUT is a case folder (ISLES 2018 case, ISLES 2024
    rawdata/sub-* folder, <role>.nii.gz files), a dataset root or manifest (with --case), and/or
    images given with --input ROLE=PATH.

    Writes every output of the method on the input's exact grid (mask, probability,
    uncertainty...), volumes.csv/.json (mL, one row per mask), provenance.json and overlay.png.
    Research software, not for clinical use.
    """
    from strokect.pipelines.segment import segment as run_segment

    if input_path is None and not inputs:
        raise click.UsageError("give INPUT (a case folder) or the images with --input ROLE=PATH")
    result = run_segment(
        input_path,
        out_dir,
        method=method,
        weights=weights,
        case_id=case_id,
        extra_inputs=inputs,
        options=options,
        device=device,
        threads=threads,
        seed=seed,
        overwrite=overwrite,
        quiet=quiet,
        allow_slice_gaps=allow_slice_gaps,
        command=shlex.join(["strokect", *sys.argv[1:]]),
    )
    for name, ml in result.volumes_ml.items():
        click.echo(f"{name}: {ml:.2f} mL ({result.n_voxels[name]} voxels)")
    click.echo(f"outputs in {result.out_dir}")
