"""No module of `strokect.io` takes part in an import loop (imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

IO_DIR = Path(__file__).resolve().parents[2] / "src" / "strokect" / "io"
PACKAGE = "strokect.io"


def _module_name(path: Path) -> str:
    return PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}"


def _imported(tree: ast.AST, modules: set[str], current: str) -> set[str]:
    """The `strokect.io` modules that ``tree`` imports anywhere (module level or in functions)."""
    package = current if current == PACKAGE else current.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import: resolve against the package
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            # "strokect.io.volume.Volume" -> the longest prefix that is a module of the package
            parts = name.split(".")
            for k in range(len(parts), 1, -1):
                if ".".join(parts[:k]) in modules:
                    out.add(".".join(parts[:k]))
                    break
    out.discard(current)
    return out


def import_graph() -> dict[str, set[str]]:
    paths = sorted(IO_DIR.glob("*.py"))
    modules = {_module_name(p) for p in paths}
    return {
        _module_name(p): _imported(
            ast.parse(p.read_text(encoding="utf-8")), modules, _module_name(p)
        )
        for p in paths
    }


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that returns to its start) per loop found by depth-first search."""
    cycles, state = [], dict.fromkeys(graph, 0)  # 0 new, 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif state.get(nxt) == 0:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state[node] == 0:
            visit(node)
    return cycles


def test_no_import_loop_inside_strokect_io():
    graph = import_graph()
    assert "strokect.io.volume" in graph and "strokect.io.records" in graph
    cycles = find_cycles(graph)
    assert not cycles, "import loops in strokect.io: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_graph_sees_function_level_imports():
    graph = import_graph()
    # readwrite imports the NIfTI and DICOM readers only inside its functions
    assert {"strokect.io.nifti", "strokect.io.dicom"} <= graph["strokect.io.readwrite"]
    assert graph["strokect.io.volume"] == set()  # the Volume depends on no other io module


def test_the_cycle_finder_finds_a_loop_through_a_function_level_import():
    modules = {"strokect.io.a", "strokect.io.b", "strokect.io.c"}
    trees = {
        "strokect.io.a": "from strokect.io.b import x\n",
        "strokect.io.b": "def f():\n    from strokect.io import c\n",
        "strokect.io.c": "def g():\n    import strokect.io.a.thing\n",
    }
    graph = {m: _imported(ast.parse(src), modules, m) for m, src in trees.items()}
    assert graph == {
        "strokect.io.a": {"strokect.io.b"},
        "strokect.io.b": {"strokect.io.c"},
        "strokect.io.c": {"strokect.io.a"},
    }
    assert len(find_cycles(graph)) == 1
