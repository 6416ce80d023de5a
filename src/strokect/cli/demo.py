"""``strokect demo``: a thin shell over `strokect.inference.demo.run_demo`."""

from __future__ import annotations

from pathlib import Path

import click


def _fmt(value, unit=""):
    return "n/a" if value is None else f"{value:.2f}{unit}"


@click.command("demo")
@click.option(
    "-o",
    "--output",
    "out_dir",
    default="demo_out",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Output folder.",
)
@click.option("--seed", default=7, show_default=True, help="Phantom seed.")
@click.option("--overwrite", is_flag=True, help="Replace the outputs of an earlier demo run.")
def demo(out_dir: Path, seed: int, overwrite: bool) -> None:
    """Run strokect end to end on a built-in phantom case (no patient data, no network)."""
    from strokect.inference.demo import run_demo

    result = run_demo(out_dir, seed=seed, overwrite=overwrite)
    s = result.summary
    cl, pf = s["clerigues"], s["perfusion_threshold"]
    click.echo(f"strokect demo: phantom case {s['case']} (seed {s['seed']}) in {out_dir}/phantom")
    click.echo(
        f"  clerigues (CT + perfusion maps, shipped ensemble): lesion {_fmt(cl['lesion_volume_ml'], ' mL')}"
        f", truth {_fmt(cl['vs_truth']['ref_volume_ml'], ' mL')}, Dice {_fmt(cl['vs_truth']['dice'])}"
        f", HD95 {_fmt(cl['vs_truth']['hd95_mm'], ' mm')}"
    )
    click.echo(
        f"  perfusion threshold (maps computed from the raw 4D CTP): core {_fmt(pf['core_ml'], ' mL')}"
        f", Dice vs truth {_fmt(pf['vs_truth']['dice'])}; hypoperfusion {_fmt(pf['hypoperfusion_ml'], ' mL')}"
    )
    click.echo(
        f"  mask, probability, uncertainty, volumes.csv/json, overlay: {out_dir}/segmentation"
    )
    click.echo(f"  CBF/CBV/MTT/Tmax/TTP maps and readout masks: {out_dir}/perfusion")
    click.echo(f"  summary: {out_dir}/demo_summary.json (phantom data; not for clinical use)")
