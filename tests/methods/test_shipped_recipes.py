"""Every shipped model's card names a `strokect train` command that, run with today's defaults,
gives the configuration the weights were trained with (`<model>.json`, ``run.config``).

A default changed after training (e.g. threecnn's ``hemorrhage_detector``, clerigues'
``architecture``) silently changes what the card's command trains; this catches it. Fields the
weights predate take the class's ``LEGACY_DEFAULTS`` or today's default, as when the weights
are loaded (`strokect.config.config_from_dict`).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from strokect.config import config_from_dict, config_to_dict, resolve_config
from strokect.methods.registry import get_method_class

WEIGHTS = Path(__file__).resolve().parents[2] / "src" / "strokect" / "weights"
CARDS = sorted(WEIGHTS.glob("*.md"))


def train_commands(card_text: str) -> list[list[str]]:
    """The `strokect train` commands of the card's code blocks, as argument lists (backslash
    continuations joined, ``VAR="..."`` assignments of the same block substituted)."""
    commands = []
    for block in re.findall(r"```[^\n]*\n(.*?)```", card_text, flags=re.S):
        env: dict[str, str] = {}
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" # ")[0].strip()
            assignment = re.fullmatch(r'(\w+)="(.*)"', line)
            if assignment:
                env[assignment.group(1)] = assignment.group(2)
            elif "strokect train" in line:
                for name, value in sorted(env.items(), key=lambda kv: -len(kv[0])):
                    line = line.replace(f"${name}", value)
                args = shlex.split(line)
                commands.append(args[args.index("strokect") :])
    return commands


def recipe_config(args: list[str]) -> tuple[str, dict]:
    method = args[args.index("--method") + 1]
    sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    cls = get_method_class(method)
    return method, config_to_dict(resolve_config(cls.config_cls, None, sets))


def test_the_parser_reads_variables_and_continuations():
    text = (
        '```\nR="--set a=1 \\\n   --set b=x"\nOMP_NUM_THREADS=1 strokect train --method m $R '
        "--set c=2  # note\n```\n"
    )
    assert train_commands(text) == [
        ["strokect", "train", "--method", "m", "--set", "a=1", "--set", "b=x", "--set", "c=2"]
    ]


@pytest.mark.parametrize("card", CARDS, ids=[c.stem for c in CARDS])
def test_card_recipe_trains_the_shipped_configuration(card):
    meta = json.loads(card.with_suffix(".json").read_text(encoding="utf-8"))
    run = meta["run"]
    cls = get_method_class(run["method"])
    shipped = config_to_dict(config_from_dict(cls.config_cls, run["config"]))
    commands = train_commands(card.read_text(encoding="utf-8"))
    assert commands, f"{card.name}: no `strokect train` command in a code block"
    differences = []
    for args in commands:
        method, config = recipe_config(args)
        if method != run["method"]:
            continue
        diff = {k: (v, config[k]) for k, v in shipped.items() if config[k] != v}
        if not diff:
            return
        differences.append(diff)
    pytest.fail(f"{card.name}: no train command gives the shipped config; (shipped, command): "
                f"{differences}")  # fmt: skip
