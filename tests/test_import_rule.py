"""The import rule of docs/architecture.md, checked from the source rather than trusted.

Every ``import`` statement counts, those inside functions too: a lazy import still ties the
stages together, it only hides the tie until the line runs.
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
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[module] = names
    return graph


def test_train_imports_no_preprocess() -> None:
    """What train shares with the dataset build (model text, report pictures) is in runtime/."""
    offending = {
        module: sorted(name for name in names if name.split(".")[0] == "preprocess")
        for module, names in imported_modules("train").items()
    }
    assert {module: names for module, names in offending.items() if names} == {}
