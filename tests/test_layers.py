"""The import layers of strokect, checked on the AST of every module (function-level imports too).

Rule (also in ``docs/architecture.md``): imports only run down

    cli -> pipelines -> engine -> methods
        -> {inference, nn, losses, preprocess, data, perfusion, phantom, metrics, stats, report}
        -> io -> {config, errors, version}

A package may import any package of a lower layer. Packages of one layer may import each other
as long as no two of them import each other, directly or round a loop; the same holds for the
modules inside ``io``. The package root ``strokect/__init__.py`` (the Python API) and
``strokect/__main__.py`` sit on top with the CLI; nothing imports them.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "strokect"

LAYERS: list[set[str]] = [
    {"__main__", "__init__", "cli"},
    {"pipelines"},
    {"engine"},
    {"methods"},
    {"inference", "nn", "losses", "preprocess", "data", "perfusion", "phantom", "metrics", "stats", "report"},
    {"io"},
    {"config", "errors", "version"},
]  # fmt: skip
RANK = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _unit(module: str) -> str:
    """Top-level unit of a dotted module name: ``strokect.io.nifti`` -> ``io``."""
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def _imports(path: Path, module: str) -> set[str]:
    """Every strokect module imported by ``path``, at any depth of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "strokect")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "strokect":
                continue
            out.add(target)
            out.update(f"{target}.{a.name}" for a in node.names)  # `from pkg import module`
    return out


def _graph():
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    edges = {m: {t for t in _imports(p, m) if t in modules} for m, p in modules.items()}
    return modules, edges


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def test_every_unit_has_a_layer():
    modules, _ = _graph()
    units = {_unit(m) for m in modules}
    assert units - set(RANK) == set(), "new package: give it a layer in LAYERS and the docs"


def test_imports_only_run_down():
    _, edges = _graph()
    bad = []
    for src, targets in edges.items():
        for dst in targets:
            a, b = _unit(src), _unit(dst)
            if a != b and RANK[b] < RANK[a]:
                bad.append(f"{src} imports {dst} ({a} is below {b})")
            if b in ("__init__", "__main__") and src != dst:
                bad.append(f"{src} imports the package root {dst} (use strokect.version)")
    assert not bad, "\n".join(sorted(bad))


def test_no_loops_between_packages_of_one_layer():
    _, edges = _graph()
    units: dict[str, set[str]] = defaultdict(set)
    for src, targets in edges.items():
        for dst in targets:
            a, b = _unit(src), _unit(dst)
            if a != b and RANK[a] == RANK[b]:
                units[a].add(b)
    assert _cycle(units) is None, f"package loop: {' -> '.join(_cycle(units))}"


def test_no_loops_between_io_modules():
    _, edges = _graph()
    io = {m: {t for t in ts if _unit(t) == "io" and t != m} for m, ts in edges.items()}
    io = {m: ts for m, ts in io.items() if _unit(m) == "io"}
    assert _cycle(io) is None, f"io module loop: {' -> '.join(_cycle(io))}"


def test_the_checker_sees_a_violation(tmp_path):
    """The rule checker itself: a lower layer importing a higher one, and a loop, are found."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    path = tmp_path / "strokect" / "io" / "x.py"
    path.parent.mkdir(parents=True)
    path.write_text("def f():\n    from strokect.pipelines.segment import segment\n")
    assert "strokect.pipelines.segment" in _imports(path, "strokect.io.x")
    assert RANK[_unit("strokect.pipelines.segment")] < RANK[_unit("strokect.io.x")]
