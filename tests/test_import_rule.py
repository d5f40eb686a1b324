"""The import rule of docs/architecture.md, checked from the source rather than trusted.

Every ``import`` statement counts, those inside functions and ``if __name__ == "__main__":``
blocks too: a lazy import still ties the modules together, it only hides the tie until the line
runs. (A command's ``python -m`` entry is a module of its own: ``train/evaluate_main.py``.)
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(package: str) -> dict[str, set[str]]:
    """Each module of ``package`` (dotted name) and the modules it names in an import."""
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        names: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[module] = names
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import circle among the graph's own modules, found by depth-first search."""
    edges = {module: sorted(names & graph.keys()) for module, names in graph.items()}
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in edges[module]:
            if state.get(target) == 1:
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    return found


def test_train_has_no_import_circle() -> None:
    """checkpoint, model and encoders (and cli, evaluate and loop) import in one direction."""
    assert cycles(imported_modules("train")) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "os"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]


def test_train_imports_no_preprocess() -> None:
    """What train shares with the dataset build (model text, report pictures) is in runtime/."""
    offending = {
        module: sorted(name for name in names if name.split(".")[0] == "preprocess")
        for module, names in imported_modules("train").items()
    }
    assert {module: names for module, names in offending.items() if names} == {}
