"""``python -m strokect``: the ``strokect`` command."""

from strokect.cli.main import entry

if __name__ == "__main__":
    entry()
