"""``strokect perfusion``: CBF/CBV/MTT/Tmax/TTP maps and the core/penumbra readout from 4D CTP."""

from __future__ import annotations

import click


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
    type=click.Choice(["peak", "onset", "calibrated"]),
    default="peak",
    show_default=True,
    help="Tmax: the residue maximum (the definition the 6 s threshold was set with), its "
    "half-maximum rise, or the rise corrected for its truncation bias.",
)
@click.option("--motion-correction", is_flag=True, help="Rigid registration of frames to frame 0.")
@click.option(
    "--no-report", "no_report", is_flag=True, help="Skip report.html / report.png (maps only)."
)
@click.option("--overwrite", is_flag=True, help="Allow writing into a non-empty output folder.")
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
):
    """Perfusion maps and readout from a 4D CTP (NIfTI file or DICOM folder)."""
    from strokect.perfusion import PerfusionConfig, run_perfusion

    cfg = PerfusionConfig(
        method=method,
        vof_scaling=vof_scaling,
        smoothing_sigma_mm=smoothing_mm,
        temporal_rank=temporal_rank,  # parsed (and refused if bad) by PerfusionConfig
        tmax_estimator=tmax_estimator,
        motion_correction=motion_correction,
    )
    summary = run_perfusion(
        input4d,
        out_dir,
        config=cfg,
        aif_mask_path=aif_mask,
        overwrite=overwrite,
        report=not no_report,
    )
    r = summary["readout"]
    click.echo(
        f"core {r['core_ml']} mL, hypoperfusion (Tmax>6s) {r['hypoperfusion_ml']} mL, "
        f"mismatch {r['mismatch_ml']} mL; maps in {out_dir}"
        + ("" if no_report else f"; report {out_dir}/report.html")
    )
