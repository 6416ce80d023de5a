"""``strokect heldout`` and ``strokect release``: test a trained ensemble, export its weights."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("heldout")
@click.argument("run", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--data",
    "test_root",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Dataset of cases no fold model saw (any layout), with reference masks.",
)
@click.option("--set", "options", multiple=True, metavar="KEY=VALUE", help="Segment option.")
def heldout(run: Path, test_root: Path, options) -> None:
    """Test the ensemble of a training RUN on held-out cases; writes RUN/heldout.json."""
    from strokect.pipelines.release import evaluate_heldout

    result = evaluate_heldout(run, test_root, options=options)
    click.echo(
        f"{len(result['test_cases'])} held-out cases: mean Dice {result['test_mean_dice']:.3f}, "
        f"median {result['test_median_dice']:.3f} -> {run / 'heldout.json'}"
    )


@click.command("release")
@click.argument("run", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    "dest",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for the weight files (e.g. src/strokect/weights).",
)
@click.option(
    "--name", required=True, help="File stem: <method>_<role>-<role>..., e.g. clerigues_ct-cbf-cbv."
)
@click.option(
    "--set",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="An inference option stored as the released weights' default (recorded in the card).",
)
def release(run: Path, dest: Path, name: str, options) -> None:
    """Export a calibrated training RUN as float16 weights + a JSON card (NAME_fold<i>.pt, NAME.json)."""
    from strokect.pipelines.release import export_weights

    for path in export_weights(run, dest, name, options=list(options)):
        click.echo(path)


@click.command("domain")
@click.argument("weights", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--data",
    "data_root",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="The dataset the weights were trained on (any layout).",
)
@click.option("--scope", default=None, help="Scope statement of the model card.")
def domain(weights: tuple[Path, ...], data_root: Path, scope: str | None) -> None:
    """Record in WEIGHTS (checkpoints or run folders) the statistics of the training inputs of
    --data, so that segment flags inputs out of that domain."""
    from strokect.pipelines.domain import record_domain

    found, written = record_domain(weights, data_root, scope=scope)
    for role, stats in found["roles"].items():
        low, high = stats["median_range"]
        click.echo(
            f"{role}: case medians {low:.4g}-{high:.4g}, pooled IQR {stats['pooled_iqr']:.4g}"
        )
    for path in written:
        click.echo(path)
