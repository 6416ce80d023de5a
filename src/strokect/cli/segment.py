"""``strokect segment``: a thin shell over `strokect.inference.segment.segment`."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("segment")
@click.argument("input_path", metavar="INPUT", required=False, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Output folder (refused when it exists and is not empty, unless --overwrite).",
)
@click.option("--method", default="clerigues", show_default=True, help="Segmentation method.")
@click.option(
    "--weights",
    type=click.Path(path_type=Path),
    help="Checkpoint file or training run folder (fold_*/model.pt = ensemble). "
    "Default: the shipped model matching the inputs.",
)
@click.option("--ct", type=click.Path(path_type=Path), help="NCCT image (file or DICOM folder).")
@click.option("--cbf", type=click.Path(path_type=Path), help="CBF map.")
@click.option("--cbv", type=click.Path(path_type=Path), help="CBV map.")
@click.option("--mtt", type=click.Path(path_type=Path), help="MTT map.")
@click.option("--tmax", type=click.Path(path_type=Path), help="Tmax map.")
@click.option("--threshold", type=float, help="Probability threshold T (default: the model's).")
@click.option(
    "--min-size",
    "min_size_vox",
    type=int,
    help="Remove components smaller than this many voxels (default: the model's S_min).",
)
@click.option("--mc-passes", type=int, help="Monte-Carlo dropout passes per model (default 3).")
@click.option(
    "--tiles",
    is_flag=True,
    help="Predict 64x64 tiles with overlap 0.5 (the paper) instead of whole slices.",
)
@click.option("--overwrite", is_flag=True, help="Allow writing into a non-empty output folder.")
def segment(
    input_path,
    out_dir,
    method,
    weights,
    threshold,
    min_size_vox,
    mc_passes,
    tiles,
    overwrite,
    **role_paths,
):
    """Segment the lesion of one case: INPUT is a case folder (ISLES 2018 layout or
    <role>.nii.gz files); --ct/--cbf/... give or replace single images (files or DICOM folders).

    Writes mask, probability and uncertainty maps (input geometry), volumes.json/.csv in mL and
    overlay.png. Research software, not for clinical use.
    """
    from strokect.inference.segment import resolve_inputs
    from strokect.inference.segment import segment as run_segment

    explicit = {r: p for r, p in role_paths.items() if p is not None}
    if input_path is None and not explicit:
        raise click.UsageError("give INPUT (a case folder) or the images with --ct/--cbf/...")
    inputs = {**(resolve_inputs(input_path) if input_path is not None else {}), **explicit}
    result = run_segment(
        inputs,
        out_dir,
        method=method,
        weights=weights,
        overwrite=overwrite,
        threshold=threshold,
        min_size_vox=min_size_vox,
        mc_passes=mc_passes,
        tile_size=64 if tiles else None,
    )
    click.echo(f"lesion volume: {result.volume_ml:.2f} mL ({result.n_voxels} voxels)")
    click.echo(f"outputs in {result.out_dir}")
