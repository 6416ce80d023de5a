"""``strokect perfusion``: CBF/CBV/MTT/Tmax/TTP maps and the core/penumbra readout from 4D CTP."""

from __future__ import annotations

import click

from strokect.cli.cohort import cohort_options, refuse_cohort_options, run_cohort_command


@click.command("perfusion")
@click.argument("input4d", type=click.Path(exists=True))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(), help="Output folder.")
@click.option(
    "--method", type=click.Choice(["ssvd", "bcsvd", "osvd"]), default="osvd", show_default=True
)
@click.option("--aif-mask", type=click.Path(exists=True), default=None, help="AIF voxel mask.")
@click.option(
    "--vof-scaling", is_flag=True, help="Scale the AIF area to the VOF's (partial volume)."
)
@click.option(
    "--smoothing-mm",
    type=float,
    default=4.0,
    show_default=True,
    help="In-plane Gaussian sigma (mm) of the smoothing within tissue; 0: off.",
)
@click.option(
    "--temporal-rank",
    default="auto",
    show_default=True,
    help="Temporal-subspace denoising: 'auto' (noise-floor rank), a rank N, or 0 (off).",
)
@click.option(
    "--tmax",
    "tmax_estimator",
    type=click.Choice(["peak", "onset", "calibrated", "peak_calibrated"]),
    default="peak",
    show_default=True,
    help="Tmax: the residue maximum (the definition the 6 s threshold was set with), its "
    "half-maximum rise, or the rise or the maximum corrected for its truncation bias.",
)
@click.option("--motion-correction", is_flag=True, help="Rigid registration of frames to frame 0.")
@click.option(
    "--no-report", "no_report", is_flag=True, help="Skip report.html / report.png (maps only)."
)
@click.option("--overwrite", is_flag=True, help="Allow writing into a non-empty output folder.")
@cohort_options
@click.option("--quiet", is_flag=True, help="No progress bar.")
def perfusion(
    input4d,
    out_dir,
    method,
    aif_mask,
    vof_scaling,
    smoothing_mm,
    temporal_rank,
    tmax_estimator,
    motion_correction,
    no_report,
    overwrite,
    workers,
    scheduler,
    num_parts,
    part_id,
    resume,
    quiet,
):
    """Perfusion maps and readout from a 4D CTP (NIfTI file or DICOM folder), or from every
    study of a cohort: a dataset root (ctp role), a folder of 4D image files or a folder of
    DICOM study folders (one folder per study in OUTPUT, plus readout.csv, cohort.json)."""
    from strokect.perfusion import PerfusionConfig, run_perfusion
    from strokect.pipelines.cohort_cases import is_perfusion_cohort

    cfg = PerfusionConfig(
        method=method,
        vof_scaling=vof_scaling,
        smoothing_sigma_mm=smoothing_mm,
        temporal_rank=temporal_rank,  # parsed (and refused if bad) by PerfusionConfig
        tmax_estimator=tmax_estimator,
        motion_correction=motion_correction,
    )
    run = {"workers": workers, "scheduler": scheduler, "num_parts": num_parts,
           "part_id": part_id, "resume": resume}  # fmt: skip
    if is_perfusion_cohort(input4d):
        if aif_mask is not None:
            raise click.UsageError("--aif-mask is per study: not for a cohort")
        _perfusion_cohort(input4d, out_dir, cfg, report=not no_report, overwrite=overwrite,
                          quiet=quiet, **run)  # fmt: skip
        return
    refuse_cohort_options(run, "a dataset root, a folder of 4D files or of DICOM study folders")
    summary = run_perfusion(
        input4d,
        out_dir,
        config=cfg,
        aif_mask_path=aif_mask,
        overwrite=overwrite,
        report=not no_report,
        series=_study_ctp_series(input4d),
    )
    r = summary["readout"]
    click.echo(
        f"core {r['core_ml']} mL, hypoperfusion (Tmax>6s) {r['hypoperfusion_ml']} mL, "
        f"mismatch {r['mismatch_ml']} mL; maps in {out_dir}"
        + ("" if no_report else f"; report {out_dir}/report.html")
    )


def _perfusion_cohort(root, out_dir, cfg, *, report, **run):
    from strokect.pipelines.cohort_cases import find_cohort
    from strokect.pipelines.perfusion_cohort import PerfusionTask

    cases, problems = find_cohort(root, files_are_cases=True, exclude=out_dir)
    run_cohort_command(cases, problems, PerfusionTask(cfg, report=report), out_dir=out_dir, **run)


def _study_ctp_series(path) -> str | None:
    """The 4D CT series of a DICOM study folder holding several series (the study rule of
    `strokect.pipelines.inputs.dicom_study_roles`); None for a file or a one-series folder."""
    from pathlib import Path

    from strokect.errors import InputError
    from strokect.io.dicom import list_dicom_series
    from strokect.pipelines.inputs import dicom_study_roles, is_study_folder

    path = Path(path)
    if not path.is_dir() or not is_study_folder(path) or len(list_dicom_series(path)) < 2:
        return None
    images, series = dicom_study_roles(path)
    if "ctp" not in images:
        raise InputError(f"{path}: the study holds no 4D CT (perfusion) series")
    return series["ctp"]
