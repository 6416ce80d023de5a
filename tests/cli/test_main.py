"""The `strokect` entry point: version, help, user errors as one line, --debug tracebacks."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

from strokect.cli.main import SUBCOMMANDS, main
from strokect.version import __version__


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"strokect, version {__version__}"


def test_help_lists_subcommands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in SUBCOMMANDS)


def test_unknown_subcommand_is_a_usage_error(capsys):
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_user_error_is_one_line_without_traceback(tmp_path, capsys):
    assert main(["info", str(tmp_path / "absent.nii.gz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: input not found:")
    assert "Traceback" not in err


def test_debug_shows_the_exception(tmp_path):
    with pytest.raises(FileNotFoundError, match="input not found"):
        main(["--debug", "info", str(tmp_path / "absent.nii.gz")])


def test_main_restores_warning_state(tmp_path):
    before = warnings.showwarning
    main(["info", str(tmp_path / "absent.nii.gz")])
    assert warnings.showwarning is before


def test_console_script_traceback_only_with_debug(tmp_path):
    bad = tmp_path / "x.nii"
    bad.write_text("not an image")
    cmd = [sys.executable, "-c", "from strokect.cli.main import entry; entry()"]
    plain = subprocess.run([*cmd, "info", str(bad)], capture_output=True, text=True)
    assert plain.returncode == 2 and plain.stderr.count("\n") == 1
    assert plain.stderr.startswith("error: ") and "not a readable NIfTI" in plain.stderr
    debug = subprocess.run([*cmd, "--debug", "info", str(bad)], capture_output=True, text=True)
    assert debug.returncode != 0 and "Traceback" in debug.stderr
