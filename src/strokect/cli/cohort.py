"""What ``strokect segment`` and ``strokect perfusion`` share for cohorts: the options that
choose where the cases run, and the run itself (`strokect.pipelines.cohort.run_cohort`)."""

from __future__ import annotations

import click

#: The cohort-only options (name, value meaning "not given").
COHORT_DEFAULTS = {
    "workers": None,
    "scheduler": None,
    "num_parts": 1,
    "part_id": 0,
    "resume": False,
}


def cohort_options(func):
    """Add ``--workers``, ``--scheduler``, ``--num-parts``, ``--part-id``, ``--resume``."""
    options = [
        click.option(
            "--workers", type=int, help="Cohort: a local Dask cluster of N worker processes."
        ),
        click.option(
            "--scheduler", metavar="ADDRESS", help="Cohort: an existing Dask cluster (tcp://...)."
        ),
        click.option(
            "--num-parts", type=int, default=1, show_default=True, help="Cohort: array job parts."
        ),
        click.option(
            "--part-id", type=int, default=0, show_default=True, help="Cohort: this part (0-based)."
        ),
        click.option(
            "--resume",
            is_flag=True,
            help="Cohort: keep finished cases made with the same settings.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def refuse_cohort_options(run: dict, what: str) -> None:
    """One usage error naming the cohort-only options given for a single case."""
    given = [f"--{k.replace('_', '-')}" for k, v in run.items() if v != COHORT_DEFAULTS[k]]
    if given:
        raise click.UsageError(f"{', '.join(given)}: only for a cohort ({what} as INPUT)")


class CohortFailures(click.ClickException):
    """Some cases of a cohort failed (the others are written): exit status 1."""

    exit_code = 1


def run_cohort_command(cases, problems, task, *, out_dir, quiet, overwrite, **run) -> None:
    """Run a cohort, print its one-line summary; exit status 1 naming the first failure."""
    from strokect.pipelines.cohort import run_cohort
    from strokect.pipelines.cohort_tables import summary_line

    result = run_cohort(
        cases, task, out_dir=out_dir, problems=problems, quiet=quiet, overwrite=overwrite, **run
    )
    click.echo(summary_line(result))
    if result.n_failed:
        first = next(r for r in result.records if r["status"] == "failed")
        raise CohortFailures(
            f"{result.n_failed} of {len(result.records)} cases failed (first: {first['case_id']}: "
            f"{first['message']}); every reason in {result.paths['summary']}"
        )
