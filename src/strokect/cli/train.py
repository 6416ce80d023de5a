"""``strokect train``: train a method with patient-level k-fold cross-validation."""

from __future__ import annotations

import click


@click.command("train")
@click.option("--method", "method_name", required=True, help="Method name (e.g. clerigues).")
@click.option(
    "--data",
    "data_root",
    required=True,
    type=click.Path(exists=True, path_type=str),
    help="Dataset root in any layout strokect reads (ISLES 2018/2024, CSV manifest).",
)
@click.option(
    "-o",
    "--output",
    "run_dir",
    required=True,
    type=click.Path(path_type=str),
    help="New run folder.",
)
@click.option(
    "--folds", default=5, show_default=True, help="Patient-level folds (1: no validation)."
)
@click.option("--fold", type=int, default=None, help="Train only this fold (0-based).")
@click.option(
    "--config", "config_file", type=click.Path(path_type=str), help="YAML/JSON config overrides."
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override one config value (repeatable).",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted run in the same folder.")
@click.option("--seed", default=0, show_default=True, help="Random seed.")
@click.option("--deterministic", is_flag=True, help="Use only deterministic torch algorithms.")
@click.option(
    "--device", type=click.Choice(["cpu", "cuda"]), default=None, help="Default: cuda when present."
)
@click.option(
    "--init-from",
    "init_from",
    default=None,
    metavar="WEIGHTS",
    help="Fine-tune: start from a checkpoint, a run folder, 'shipped' or a shipped model name "
    "(its architecture and inputs become the config's defaults).",
)
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
def train(
    method_name,
    data_root,
    run_dir,
    folds,
    fold,
    config_file,
    overrides,
    resume,
    seed,
    deterministic,
    device,
    init_from,
    no_progress,
):
    """Train METHOD on the cases of --data; one model per fold in the run folder.

    Multi-GPU / multi-node: launch with ``torchrun --nproc_per_node N $(which strokect) train ...``.
    """
    from strokect.pipelines.train import train as run_train  # torch: only when training

    result = run_train(
        method_name,
        data_root,
        run_dir,
        folds=folds,
        fold=fold,
        config_file=config_file,
        overrides=list(overrides),
        resume=resume,
        seed=seed,
        deterministic=deterministic,
        device=device,
        progress=not no_progress,
        init_from=init_from,
    )
    for i, fit_result in sorted(result.crossval.folds.items()):
        best = "n/a" if fit_result.best_value is None else f"{fit_result.best_value:.4g}"
        click.echo(
            f"fold {i}: {fit_result.epochs_run} epochs, best {best} -> {fit_result.model_path}"
        )
    if result.calibration is not None:
        chosen = ", ".join(f"{k} = {v}" for k, v in result.calibration["calibration"].items())
        click.echo(f"calibration ({result.calibration['chosen_by']}): {chosen}")
        click.echo(f"  stored in every fold model; details in {run_dir}/calibration.json")
