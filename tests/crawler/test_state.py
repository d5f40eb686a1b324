"""Resume state (state.json) and the crawl summary, without a browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.state import CrawlState, load_state, save_state
from crawler.store import PostStore
from crawler.summary import CrawlSummary
from runtime.errors import UsageError
from runtime.records import make_record


def _store_posts(path: Path, source: str, codes: list[str]) -> None:
    PostStore(path).add(make_record(code, f"#{code}", None, source) for code in codes)


def test_state_round_trips_and_counts_come_from_posts_jsonl(tmp_path: Path) -> None:
    state_path, posts_path = tmp_path / "state.json", tmp_path / "posts.jsonl"
    state = CrawlState()
    state.target("tag:cats").cursor = "48"
    state.target("tag:cats").posts = 5  # stale: the file is the truth
    state.target("tag:dogs").done = True
    state.stop_reason = "limit reached"
    save_state(state, state_path)
    _store_posts(posts_path, "tag:cats", ["a", "b", "c"])
    _store_posts(posts_path, "tag:dogs", ["d"])

    loaded = load_state(state_path, posts_path)

    assert loaded.target("tag:cats").cursor == "48"
    assert loaded.target("tag:cats").posts == 3
    assert loaded.target("tag:dogs").done and loaded.target("tag:dogs").posts == 1
    assert loaded.stop_reason == "limit reached"


def test_missing_state_starts_empty_but_counts_existing_posts(tmp_path: Path) -> None:
    posts_path = tmp_path / "posts.jsonl"
    _store_posts(posts_path, "profile:ana", ["x", "y"])
    loaded = load_state(tmp_path / "state.json", posts_path)
    assert loaded.target("profile:ana").posts == 2
    assert loaded.target("profile:ana").cursor is None


def test_a_corrupt_state_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json", "utf-8")
    with pytest.raises(UsageError, match="cannot read .*state.json"):
        load_state(tmp_path / "state.json", tmp_path / "posts.jsonl")


def test_summary_reports_requests_per_thousand_posts() -> None:
    summary = CrawlSummary({"tag:a": 600, "tag:b": 400}, requests=45, stop_reason="limit reached")
    text = "\n".join(summary.lines())
    assert summary.requests_per_1000_posts == pytest.approx(45.0)
    assert "tag:a: 600 new posts" in text
    assert "requests per 1,000 posts: 45.0" in text
    assert "stop reason: limit reached" in text
    assert CrawlSummary().requests_per_1000_posts is None
