"""Throttling and blocks end to end in headless Chromium against the demo site's fault modes:
a throttled crawl sleeps (short configured sleeps) and still gets every post, reporting its
sleeps; ``feedback_required`` stops with exit 3 and a rerun resumes and finishes; the logged-out
redirect to ``/`` stops with exit 3 and a line naming ``--cookies``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from crawler.cli import main
from demo_site.generator import DemoCorpus
from demo_site.server import DemoSite
from runtime.files import iter_jsonl

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.usefixtures("chromium_ready")]

# Short sleeps: the 60 s / window-plus-6-s defaults are for instagram.com, not for a test.
SHORT_SLEEPS = [
    *("--set", "politeness.backoff_base_s=0.2"),
    *("--set", "politeness.backoff_margin_s=0"),
    *("--set", "politeness.budget_window_s=1"),
    *("--set", "politeness.stall_pause_s=0.2"),
]
Crawl = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def corpus() -> DemoCorpus:
    return DemoCorpus(seed=5, n_posts=3_000)


@pytest.fixture(scope="module")
def tag(corpus: DemoCorpus) -> str:
    """A tag whose whole feed is four or five pages of 24."""
    return next(t for t in corpus.tags() if 75 <= len(corpus.tag_posts(t)) <= 110)


@pytest.fixture
def crawl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Crawl:
    def run(site: DemoSite, tag: str, *extra: str) -> tuple[int, str, str]:
        args = ["crawl", "--no-delay", "--quiet", "--out", str(tmp_path / "out")]
        code = main([*args, "--base-url", site.base_url, "--tag", tag, *SHORT_SLEEPS, *extra])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def _shortcodes(out: Path) -> list[str]:
    rows = list(iter_jsonl(out / "posts.jsonl"))
    assert all(record is not None for _, record, _ in rows), "a torn or bad line"
    return [record["shortcode"] for _, record, _ in rows]


def _every_post(corpus: DemoCorpus, tag: str) -> set[str]:
    return {corpus.post(i).shortcode for i in corpus.tag_posts(tag)}


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("wait_401", "HTTP 401 'Please wait a few minutes'"),
        ("graphql_errors", "GraphQL rate limit errors at HTTP 200"),
        ("http_429", "HTTP 429"),
    ],
)
def test_a_throttled_crawl_sleeps_and_finishes_with_every_post(
    corpus: DemoCorpus, tag: str, crawl: Crawl, tmp_path: Path, answer: str, reason: str
) -> None:
    config = {"rate_limit": {"every": 3, "burst": 1, "retry_after": 1, "answer": answer}}
    with DemoSite(corpus, config) as site:
        code, stdout, err = crawl(site, tag)
        refused = site.counters["status_401"] + site.counters["graphql_errors"]
        refused += site.counters["status_429"]
    assert code == 0, err
    got = _shortcodes(tmp_path / "out")
    assert len(got) == len(set(got)) and set(got) == _every_post(corpus, tag)
    slept = re.search(rf"^    {re.escape(reason)}: (\d+) x, ([\d.]+) s$", stdout, re.MULTILINE)
    assert slept, stdout
    assert int(slept[1]) == refused >= 1  # one sleep per refusal: no request while asleep
    assert float(slept[2]) >= 0.2 * refused
    assert "stop reason: targets done" in stdout


def test_feedback_required_stops_with_exit_3_and_a_rerun_finishes(
    corpus: DemoCorpus, tag: str, crawl: Crawl, tmp_path: Path
) -> None:
    with DemoSite(corpus, {"feedback_after": 3, "feedback_lasts": 1}) as site:
        code, stdout, err = crawl(site, tag)
        state = json.loads((tmp_path / "out" / "state.json").read_text("utf-8"))
        stored = _shortcodes(tmp_path / "out")
        rerun, _, rerun_err = crawl(site, tag)
    assert code == 3
    assert err.count("\n") == 1 and "feedback_required" in err and "state saved" in err
    assert "run the same command to resume" in err
    assert "feedback_required" in state["stop_reason"] and "crawl summary" in stdout
    assert 0 < len(stored) < len(_every_post(corpus, tag))
    assert state["targets"][f"tag:{tag}"]["posts"] == len(stored)
    assert rerun == 0, rerun_err
    got = _shortcodes(tmp_path / "out")
    assert got[: len(stored)] == stored
    assert len(got) == len(set(got)) and set(got) == _every_post(corpus, tag)


def test_logged_out_redirect_home_stops_with_exit_3_naming_cookies(
    corpus: DemoCorpus, tag: str, crawl: Crawl, tmp_path: Path
) -> None:
    with DemoSite(corpus, {"logged_out_home_after": 2}) as site:
        code, _, err = crawl(site, tag)
        cookies = tmp_path / "cookies.json"
        cookies.write_text(json.dumps([{"name": "sessionid", "value": "demo", "path": "/"}]))
        rerun, _, rerun_err = crawl(site, tag, "--cookies", str(cookies))
    assert code == 3
    assert err.count("\n") == 1 and "login wall" in err and "--cookies" in err
    assert rerun == 0, rerun_err
    assert set(_shortcodes(tmp_path / "out")) == _every_post(corpus, tag)


def test_throttling_that_does_not_end_stops_with_exit_3_and_saved_state(
    corpus: DemoCorpus, tag: str, crawl: Crawl, tmp_path: Path
) -> None:
    config = {"rate_limit": {"every": 2, "burst": 1000, "answer": "graphql_errors"}}
    with DemoSite(corpus, config) as site:
        code, stdout, err = crawl(site, tag, "--set", "politeness.backoff_attempts=2")
        refused = site.counters["graphql_errors"]
    assert code == 3
    last = err.splitlines()[-1]  # after the two "throttled ...; sleeping" warnings
    assert last.startswith("hashtag-crawl: error: throttled (GraphQL rate limit errors at HTTP")
    assert "still refused after 2 sleeps" in last and "state saved" in last
    assert last.endswith("run the same command to resume")
    assert refused == 3  # one refusal per attempt: nothing was asked again while asleep
    assert "GraphQL rate limit errors at HTTP 200: 2 x" in stdout
    state = json.loads((tmp_path / "out" / "state.json").read_text("utf-8"))
    stored = len(_shortcodes(tmp_path / "out"))  # the pages served before the refusals
    assert state["targets"][f"tag:{tag}"]["posts"] == stored
    assert 0 < stored < len(_every_post(corpus, tag))
