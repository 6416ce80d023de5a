"""``strokect merge``: assemble the parts of a cohort run made as an array job."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("merge")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
def merge(out_dir: Path) -> None:
    """Merge the part tables (cohort.part-<i>-of-<n>.json...) of OUT_DIR, written by
    ``strokect segment/perfusion ROOT -o OUT_DIR --num-parts N --part-id I``, into the cohort
    tables (volumes.csv or readout.csv, cohort_cases.csv, cohort.json)."""
    from strokect.pipelines.cohort_tables import merge_cohort, summary_line

    result = merge_cohort(out_dir)
    click.echo(summary_line(result))
