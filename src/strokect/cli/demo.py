"""``strokect demo``: a thin shell over `strokect.pipelines.demo.run_demo`."""

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
    from strokect.pipelines.demo import run_demo

    result = run_demo(out_dir, seed=seed, overwrite=overwrite)
    s = result.summary
    click.echo(f"strokect demo: phantom case {s['case']} (seed {s['seed']}) in {out_dir}/phantom")
    for name, m in s["methods"].items():
        primary = m["primary_output"]
        line = f"  {name} (shipped weights): {primary} {_fmt(m['volumes_ml'].get(primary), ' mL')}"
        if "vs_truth" in m:
            t = m["vs_truth"]
            line += (
                f", truth ({m['reference_role']}) {_fmt(t['ref_volume_ml'], ' mL')}"
                f", Dice {_fmt(t['dice'])}, HD95 {_fmt(t['hd95_mm'], ' mm')}"
            )
        click.echo(line)
        click.echo(
            f"    outputs, volumes.csv, provenance.json, overlay: {out_dir}/segmentation/{name}"
        )
    pf = s["perfusion_threshold"]
    click.echo(
        f"  perfusion threshold (maps computed from the raw 4D CTP): core {_fmt(pf['core_ml'], ' mL')}"
        f", Dice vs truth {_fmt(pf['vs_truth']['dice'])}; hypoperfusion {_fmt(pf['hypoperfusion_ml'], ' mL')}"
    )
    click.echo(f"  CBF/CBV/MTT/Tmax/TTP maps and readout masks: {out_dir}/perfusion")
    click.echo(f"  perfusion report: {out_dir}/perfusion/report.html (and report.png)")
    click.echo(f"  summary: {out_dir}/demo_summary.json (phantom data; not for clinical use)")
