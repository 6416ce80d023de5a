"""``strokect segment``: a thin shell over `strokect.pipelines.segment.segment`."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from strokect.cli.cohort import cohort_options, refuse_cohort_options, run_cohort_command


@click.command("segment")
@click.argument("input_path", metavar="[INPUT]", required=False, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Output folder (refused when it exists and is not empty, unless --overwrite; a "
    "cohort refuses only the cases already there, unless --resume or --overwrite).",
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
@click.option(
    "--output-format",
    type=click.Choice(["nifti", "dicom-seg", "both"]),
    default="nifti",
    show_default=True,
    help="Masks as NIfTI, as one DICOM-SEG referencing the DICOM input, or both.",
)
@click.option(
    "--anonymize", is_flag=True, help="DICOM-SEG: blank the patient and study identifiers."
)
@click.option("--no-report", is_flag=True, help="Skip report.html / report.png.")
@cohort_options
@click.option(
    "--ct-role",
    default="ct",
    show_default=True,
    help="DICOM study folder(s) as INPUT: the role of a study's 3D CT series (ct = acute "
    "NCCT; ncct_followup for follow-up scans).",
)
def segment(
    input_path, out_dir, method, weights, inputs, case_id, options, device, threads, seed, quiet,
    allow_slice_gaps, overwrite, output_format, anonymize, no_report, workers, scheduler,
    num_parts, part_id, resume, ct_role,
):  # fmt: skip
    """Segment one case, or every case of a cohort, with a method.

    INPUT is a case folder (ISLES 2018 case, ISLES 2024 rawdata/sub-* folder, <role>.nii.gz
    files, a DICOM study folder), a dataset root or manifest (with --case: that case), and/or
    images given with --input ROLE=PATH. A dataset root or a folder of DICOM study folders without --case is a
    cohort: one folder per case in OUTPUT, plus volumes.csv, cohort_cases.csv and cohort.json
    (docs/cohorts.md).

    Writes every output of the method on the input's exact grid (mask, probability,
    uncertainty...), volumes.csv/.json (mL, one row per mask), provenance.json, overlay.png and
    report.html/.png. Research software, not for clinical use.
    """
    from strokect.pipelines.cohort_cases import is_cohort_root

    if input_path is None and not inputs:
        raise click.UsageError("give INPUT (a case folder) or the images with --input ROLE=PATH")
    command = private_command(sys.argv[1:])
    cohort = (
        input_path is not None and case_id is None and not inputs and is_cohort_root(input_path)
    )
    run = {"workers": workers, "scheduler": scheduler, "num_parts": num_parts,
           "part_id": part_id, "resume": resume}  # fmt: skip
    if cohort:
        _segment_cohort(
            input_path, out_dir, method=method, weights=weights, options=options, device=device,
            threads=threads, seed=seed, quiet=quiet, allow_slice_gaps=allow_slice_gaps,
            overwrite=overwrite, output_format=output_format, anonymize=anonymize,
            command=command, ct_role=ct_role, run=run,
        )  # fmt: skip
        return
    refuse_cohort_options(
        run, "a dataset root or a folder of DICOM studies, without --case or --input"
    )
    from strokect.pipelines.segment import segment as run_segment

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
        command=command,
        output_format=output_format,
        anonymize=anonymize,
        report=not no_report,
        ct_role=ct_role,
    )
    for name, ml in result.volumes_ml.items():
        click.echo(f"{name}: {ml:.2f} mL ({result.n_voxels[name]} voxels)")
    click.echo(f"outputs in {result.out_dir}")


def _segment_cohort(root, out_dir, *, quiet, overwrite, ct_role, run, **settings):
    from strokect.pipelines.cohort_cases import find_cohort
    from strokect.pipelines.segment_cohort import SegmentTask

    cases, problems = find_cohort(root, ct_role=ct_role, exclude=out_dir)
    run_cohort_command(
        cases, problems, SegmentTask(**settings), out_dir=out_dir, quiet=quiet,
        overwrite=overwrite, **run,
    )  # fmt: skip


def private_command(argv: list[str]) -> str:
    """The command line with every existing path replaced by ``<path>`` (recorded in outputs:
    a folder name may identify a patient)."""
    out: list[str] = []
    for token in argv:
        key, sep, value = token.partition("=")
        if out and out[-1] in ("-o", "--output"):
            token = "<output>"
        elif Path(token.partition("::")[0]).exists():
            token = "<path>"
        elif sep and not key.startswith("-") and Path(value.partition("::")[0]).exists():
            token = f"{key}=<path>"
        out.append(token)
    return shlex.join(["strokect", *out])
