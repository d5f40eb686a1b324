"""The crawler's fixtures: run ``hashtag-crawl crawl`` in-process and read what it stored."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crawler.cli import main
from runtime.files import iter_jsonl


@pytest.fixture
def run_crawl(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``run_crawl(out, *args)``: ``hashtag-crawl crawl --no-delay --quiet --out OUT ARGS``;
    returns the exit code, stdout and stderr."""

    def crawl(out: Path, *args: str) -> tuple[int, str, str]:
        code = main(["crawl", "--no-delay", "--quiet", "--out", str(out), *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return crawl


@pytest.fixture(scope="session")
def read_posts() -> Callable[[Path], list[dict[str, Any]]]:
    """``read_posts(out)``: the records of OUT/posts.jsonl, asserting none is torn or bad."""

    def records(out: Path) -> list[dict[str, Any]]:
        rows = list(iter_jsonl(out / "posts.jsonl"))
        assert all(record is not None for _, record, _ in rows), "a torn or bad line"
        return [record for _, record, _ in rows]

    return records
