"""Fixtures of the dataset-stage tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_langid() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``python -m preprocess langid ARGS`` in a child process, fed ``stdin``: the command as a
    pipe sees it (module entry point, real stdin/stdout, exit code)."""

    def run(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "preprocess", "langid", *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=180,
            check=False,
        )

    return run
