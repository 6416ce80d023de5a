"""Entry point of the ``strokect`` command.

Each subcommand lives in its own module of :mod:`strokect.cli` and is loaded only when used, so
``strokect --help`` stays fast. A user error (``ValueError``, ``TypeError``, ``FileNotFoundError``,
``OSError``) prints one line to stderr and exits with status 2; ``--debug`` shows the traceback.
Warnings print as one ``warning:`` line each.
"""

from __future__ import annotations

import importlib
import logging
import sys
import warnings

import click

from strokect.version import __version__

#: subcommand name -> (module, attribute). Add new subcommands here.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "info": ("strokect.cli.info", "info"),
    "preprocess": ("strokect.cli.preprocess", "preprocess"),
    "train": ("strokect.cli.train", "train"),
    "evaluate": ("strokect.cli.evaluate", "evaluate"),
    "perfusion": ("strokect.cli.perfusion", "perfusion"),
    "synth": ("strokect.cli.synth", "synth"),
    "segment": ("strokect.cli.segment", "segment"),
    "heldout": ("strokect.cli.release", "heldout"),
    "release": ("strokect.cli.release", "release"),
    "domain": ("strokect.cli.release", "domain"),
    "demo": ("strokect.cli.demo", "demo"),
    "merge": ("strokect.cli.merge", "merge"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx, name):
        if name not in SUBCOMMANDS:
            return None
        module, attr = SUBCOMMANDS[name]
        return getattr(importlib.import_module(module), attr)


def _showwarning(message, category, filename, lineno, file=None, line=None):
    click.echo(f"warning: {message}", err=True)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="strokect")
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logging.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """strokect: stroke lesion masks, volumes in mL and reports from head CT."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(message)s" if not debug else "%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


#: Errors shown as one ``error:`` line (OSError covers FileNotFoundError, PermissionError...).
USER_ERRORS = (ValueError, TypeError, OSError)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (used by the console script and by tests)."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        with warnings.catch_warnings():  # restores the caller's warning state afterwards
            warnings.simplefilter("default")
            warnings.showwarning = _showwarning
            cli.main(args=argv, prog_name="strokect", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except USER_ERRORS as exc:
        if debug:
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        click.echo(f"error: {message}", err=True)
        return 2
    return 0


def entry() -> None:
    sys.exit(main())
