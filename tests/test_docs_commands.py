"""The commands the docs show, run, so README.md and docs/*.md cannot drift from the code.

A fenced block whose info string is ``bash runnable`` or ``python runnable`` (``... runnable
slow`` for one that takes more than a few seconds) is runnable (docs/architecture.md, "Runnable
docs"). Each document is one test: its runnable blocks run in order, bash ones with ``bash -euo
pipefail`` and Python ones with this interpreter, in one fresh temporary folder (so a block may
use what an earlier one wrote) that also holds ``configs/`` and ``scripts/`` of this checkout,
offline, with the installed commands on PATH. Every block must exit 0; printed figures are not
compared (they move with the model).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w+) runnable( slow)?\s*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
RUNNERS = {"bash": ["bash", "-euo", "pipefail", "-c"], "python": [sys.executable, "-c"]}


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int
    slow: bool


def runnable_blocks(text: str) -> list[Block]:
    return [
        Block(match[1], match[3], text.count("\n", 0, match.start()) + 1, bool(match[2]))
        for match in FENCE.finditer(text)
    ]


def _documents() -> list[pytest.param]:
    params = []
    for path in DOCUMENTS:
        blocks = runnable_blocks(path.read_text("utf-8"))
        if blocks:
            marks = [pytest.mark.slow] if any(block.slow for block in blocks) else []
            params.append(pytest.param(path, blocks, marks=marks, id=path.name))
    return params


def test_the_marker_is_found() -> None:
    """A typo in the marker would silently run nothing: the parser must see these."""
    text = (
        "```bash runnable\necho a\n```\n\n"
        "```python runnable slow\nprint(1)\n```\n"
        "```bash\nnot marked\n```\n"
    )
    assert runnable_blocks(text) == [
        Block("bash", "echo a\n", 1, False),
        Block("python", "print(1)\n", 5, True),
    ]


def test_every_runnable_block_has_a_runner() -> None:
    for path in DOCUMENTS:
        for block in runnable_blocks(path.read_text("utf-8")):
            assert block.language in RUNNERS, f"{path.name}:{block.line}: {block.language}"


@pytest.mark.parametrize(("path", "blocks"), _documents())
def test_runnable_blocks_of_the_docs_run(path: Path, blocks: list[Block], tmp_path: Path) -> None:
    for name in ("configs", "scripts"):
        (tmp_path / name).symlink_to(REPO / name)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "HF_HUB_OFFLINE": "1",
        "XDG_CACHE_HOME": str(tmp_path / ".cache"),
    }
    for block in blocks:
        done = subprocess.run(
            [*RUNNERS[block.language], block.code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        where = f"{path.relative_to(REPO)}:{block.line}"
        assert done.returncode == 0, f"{where} exited {done.returncode}:\n{done.stderr[-3000:]}"
