"""Real crawls of the demo site with headless Chromium: ground truth, budget, blocks, Remote.

One demo server serves the whole module; the failure-mode tests start their own small sites
with the failure switched on. Every crawl runs with --no-delay.
"""

from __future__ import annotations

import json
import re
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from crawler.auth import load_cookies
from crawler.cli import main as crawl_main
from crawler.media import ImageDownloader
from demo_site.generator import DemoCorpus
from demo_site.server import DemoSite
from demo_site.topics import SPAM_TAGS
from runtime.records import PostRecord

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("chromium_ready")]


@pytest.fixture(scope="module")
def corpus() -> DemoCorpus:
    return DemoCorpus(seed=3, n_posts=20_000)


@pytest.fixture(scope="module")
def busy_tags(corpus: DemoCorpus) -> list[str]:
    """Three topic tags with 200+ posts whose feeds' first 200 posts do not overlap.

    A post already stored under one tag is not collected again under another, so overlapping
    feeds would cost extra feed pages; the budget is about the crawler, not the tag choice.
    """
    chosen: list[str] = []
    seen: set[int] = set()
    for tag in corpus.tags():
        head = set(corpus.tag_posts(tag)[:200])
        if tag not in SPAM_TAGS and len(head) == 200 and not head & seen:
            chosen.append(tag)
            seen |= head
    assert len(chosen) >= 3
    return chosen[:3]


@pytest.fixture(scope="module")
def site(corpus: DemoCorpus) -> Iterator[DemoSite]:
    with DemoSite(corpus) as demo:
        yield demo


def _summary_number(stdout: str, label: str) -> float:
    return float(re.search(rf"{label}: ([\d.]+)", stdout)[1])


def test_crawl_matches_the_generator_within_the_request_budget(
    expected_record: Callable[..., PostRecord],
    run_crawl,
    read_posts,
    site: DemoSite,
    corpus: DemoCorpus,
    busy_tags: list[str],
    tmp_path: Path,
) -> None:
    before = dict(site.counters)
    tag_args = [arg for tag in busy_tags for arg in ("--tag", tag)]
    code, stdout, _ = run_crawl(
        tmp_path,
        "--base-url",
        site.base_url,
        *tag_args,
        "--per-target",
        "120",
        "--limit",
        "360",
    )
    assert code == 0
    records = read_posts(tmp_path)
    assert len(records) == 360
    assert len({r["shortcode"] for r in records}) == 360
    for record in records:
        post = corpus.by_shortcode(record["shortcode"])
        tag = record["source"].removeprefix("tag:")
        assert tag in busy_tags and post.index in corpus.tag_posts(tag)
        expected = expected_record(corpus, post.index, site.base_url, record["source"])
        for key in ("caption", "hashtags", "owner", "taken_at", "url", "post_id"):
            assert record[key] == expected[key], (record["shortcode"], key)
        assert urlsplit(record["image_url"]).path == urlsplit(expected["image_url"]).path
    for tag in busy_tags:  # each feed newest first, as the site serves it
        stored = [r["shortcode"] for r in records if r["source"] == f"tag:{tag}"]
        assert stored == [corpus.post(i).shortcode for i in corpus.tag_posts(tag)[:120]]

    used = _summary_number(stdout, "requests used")
    site_saw = sum(site.counters[k] - before.get(k, 0) for k in ("pages", "xhr", "post_pages"))
    assert used == site_saw
    assert site.counters["media"] == before.get("media", 0)  # the browser fetched no media
    assert site.counters["post_pages"] == before.get("post_pages", 0)  # the feed had it all
    assert _summary_number(stdout, "requests per 1,000 posts") <= 60
    assert "stop reason: limit reached" in stdout
    assert (tmp_path / "config.yaml").exists() and (tmp_path / "crawl.log").exists()


def test_rerun_resumes_from_state_without_duplicates(
    run_crawl, read_posts, site: DemoSite, busy_tags: list[str], tmp_path: Path
) -> None:
    tag = _tag_feed(site.base_url, busy_tags[1])
    assert run_crawl(tmp_path, *tag, "--limit", "50")[0] == 0
    state = json.loads((tmp_path / "state.json").read_text("utf-8"))
    assert state["targets"][f"tag:{busy_tags[1]}"]["posts"] == 50

    code, stdout, _ = run_crawl(tmp_path, *tag, "--limit", "120")

    assert code == 0
    records = read_posts(tmp_path)
    assert len(records) == 120 == len({r["shortcode"] for r in records})
    assert f"tag:{busy_tags[1]}: 70 new posts" in stdout


def test_resumed_feed_starts_at_the_saved_cursor_instead_of_the_top(
    run_crawl, read_posts, corpus: DemoCorpus, busy_tags: list[str], tmp_path: Path
) -> None:
    with DemoSite(corpus) as fresh:
        tag = _tag_feed(fresh.base_url, busy_tags[2])
        assert run_crawl(tmp_path, *tag, "--per-target", "48")[0] == 0
        feed_calls_before = fresh.counters["xhr"]
        assert run_crawl(tmp_path, *tag, "--per-target", "96")[0] == 0
        resumed_feed_calls = fresh.counters["xhr"] - feed_calls_before
    assert len({r["shortcode"] for r in read_posts(tmp_path)}) == 96
    assert resumed_feed_calls <= 3  # pages 3 and 4 (+1 at most), not 1 to 4 again


def test_rate_limit_backs_off_honouring_retry_after_and_finishes(
    run_crawl, read_posts, corpus: DemoCorpus, busy_tags: list[str], tmp_path: Path
) -> None:
    with DemoSite(corpus, {"rate_limit": {"every": 3, "burst": 1, "retry_after": 1}}) as limited:
        code, stdout, _ = run_crawl(
            tmp_path,
            *_tag_feed(limited.base_url, busy_tags[0]),
            "--per-target",
            "100",
            *("--set", "politeness.backoff_base_s=0.2", "--set", "politeness.budget_window_s=1"),
            *("--set", "politeness.backoff_margin_s=0"),
        )
        refused = limited.counters["status_429"]
    assert code == 0
    assert refused >= 1
    assert len(read_posts(tmp_path)) == 100
    log = (tmp_path / "crawl.log").read_text("utf-8")
    assert "throttled (HTTP 429); sleeping 1.0 s" in log  # Retry-After beats the 0.2 s backoff


@pytest.mark.parametrize(
    ("failure", "message"),
    [({"login_wall_after": 4}, "login wall"), ({"challenge_after": 4}, "challenge page")],
)
def test_login_wall_and_challenge_stop_with_exit_3_and_saved_state(
    run_crawl,
    read_posts,
    corpus: DemoCorpus,
    busy_tags: list[str],
    tmp_path: Path,
    failure: dict[str, int],
    message: str,
) -> None:
    with DemoSite(corpus, failure) as walled:
        code, stdout, err = run_crawl(
            tmp_path, *_tag_feed(walled.base_url, busy_tags[2]), "--per-target", "150"
        )
    assert code == 3
    assert err.count("\n") == 1 and message in err and "state saved" in err
    stored = read_posts(tmp_path)
    assert 0 < len(stored) < 150
    state = json.loads((tmp_path / "state.json").read_text("utf-8"))
    assert message in state["stop_reason"]
    assert state["targets"][f"tag:{busy_tags[2]}"]["posts"] == len(stored)
    assert "crawl summary" in stdout


def _tag_feed(base_url: str, tag: str) -> list[str]:
    """The arguments that crawl one tag feed of the site at BASE_URL."""
    return ["--base-url", base_url, "--tag", tag]


def _free_port() -> int:
    """A port free now: connections to it are refused once the probe socket closes."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Chromium raises for a refused connection and for a name that does not resolve (.invalid
# never does, RFC 2606): no network, not throttling, so the crawl ends at once.
@pytest.mark.parametrize(
    ("base_url", "code"),
    [
        (f"http://127.0.0.1:{_free_port()}", "ERR_CONNECTION_REFUSED"),
        ("http://nonexistent.invalid", "ERR_NAME_NOT_RESOLVED"),
    ],
    ids=["refused", "unresolvable"],
)
def test_unreachable_first_page_is_one_line_exit_1_with_state_saved(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, base_url: str, code: str
) -> None:
    # --no-delay is for loopback sites only; the first page's random pause is a second or two
    exit_code = crawl_main(
        ["crawl", "--quiet", "--out", str(tmp_path), *_tag_feed(base_url, "cats")]
    )
    err = capsys.readouterr().err
    assert exit_code == 1
    assert err.count("\n") == 1, err
    assert err.startswith(
        f"hashtag-crawl: error: cannot reach {urlsplit(base_url).netloc}: net::{code} on the "
        f"first page {base_url}/explore/tags/cats/"
    )
    assert err.rstrip().endswith("then run the same command to resume")
    assert "politeness" not in err and "consecutive" not in err  # no backoff was waited out
    assert json.loads((tmp_path / "state.json").read_text("utf-8"))["targets"]["tag:cats"]


# A port Chromium refuses to use (9 is on its unsafe list) shows its error page: a failure of
# the page load, but not one that says the network is down, so it backs off.
def test_refused_page_load_counts_failures_and_stops_with_exit_3(run_crawl, tmp_path: Path) -> None:
    base_url = "http://127.0.0.1:9"
    code, stdout, err = run_crawl(
        tmp_path,
        *_tag_feed(base_url, "cats"),
        "--set",
        "politeness.max_consecutive_failures=2",
        "--set",
        "politeness.stall_pause_s=0",
    )
    assert code == 3
    assert err.splitlines()[-1].startswith(
        "hashtag-crawl: error: 2 consecutive failures, last: tag:cats: page load failed: "
        f"{base_url}/explore/tags/cats/: "
    )
    assert err.rstrip().endswith("then run the same command to resume")
    assert "stop reason: 2 consecutive failures" in stdout
    assert json.loads((tmp_path / "state.json").read_text("utf-8"))["targets"]["tag:cats"]


def test_logged_in_rerun_passes_the_login_wall_and_resumes(
    run_crawl, read_posts, corpus: DemoCorpus, busy_tags: list[str], tmp_path: Path
) -> None:
    with DemoSite(corpus, {"login_wall_after": 4}) as walled:
        args = [*_tag_feed(walled.base_url, busy_tags[2]), "--per-target", "150"]
        assert run_crawl(tmp_path, *args)[0] == 3
        cookies = tmp_path / "cookies.json"
        cookies.write_text(json.dumps([{"name": "sessionid", "value": "demo", "path": "/"}]))
        code, _, _ = run_crawl(tmp_path, *args, "--cookies", str(cookies))
    assert code == 0
    records = read_posts(tmp_path)
    assert len(records) == 150 == len({r["shortcode"] for r in records})


def test_login_from_the_environment_passes_the_login_wall(
    run_crawl,
    read_posts,
    corpus: DemoCorpus,
    busy_tags: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IG_USERNAME", "demo.user")
    monkeypatch.setenv("IG_PASSWORD", "not-on-the-command-line")
    with DemoSite(corpus, {"login_wall_after": 2}) as walled:
        code, _, _ = run_crawl(
            tmp_path, *_tag_feed(walled.base_url, busy_tags[0]), "--limit", "72", "--login"
        )
        logins = walled.counters["logins"]
    assert code == 0
    assert logins == 1
    assert len(read_posts(tmp_path)) == 72
    assert "not-on-the-command-line" not in (tmp_path / "crawl.log").read_text("utf-8")
    session = tmp_path / "session.json"
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    assert any(cookie["name"] == "sessionid" for cookie in load_cookies(session))


def test_expired_media_are_reported_with_download_images(
    run_crawl,
    read_posts,
    corpus: DemoCorpus,
    busy_tags: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fetch = ImageDownloader.fetch

    def fetch_after_expiry(self: ImageDownloader, record: dict[str, Any]) -> Any:
        time.sleep(1.1)  # outlive the site's 1-second media signatures
        return fetch(self, record)

    monkeypatch.setattr(ImageDownloader, "fetch", fetch_after_expiry)
    with DemoSite(corpus, {"media_ttl_seconds": 1}) as expiring:
        code, stdout, _ = run_crawl(
            tmp_path,
            *_tag_feed(expiring.base_url, busy_tags[0]),
            "--limit",
            "3",
            "--download-images",
        )
    assert code == 0
    assert "images saved: 0; failed: expired_signature 3" in stdout
    assert not any("image_path" in r for r in read_posts(tmp_path))


def test_download_images_saves_each_image(
    run_crawl, read_posts, site: DemoSite, busy_tags: list[str], tmp_path: Path
) -> None:
    code, stdout, _ = run_crawl(
        tmp_path, *_tag_feed(site.base_url, busy_tags[0]), "--limit", "5", "--download-images"
    )
    assert code == 0
    assert "images saved: 5" in stdout
    for record in read_posts(tmp_path):
        assert (tmp_path / record["image_path"]).stat().st_size > 0


@pytest.fixture
def chromedriver_server() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        ["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def test_remote_webdriver_harvests_like_a_local_driver(
    run_crawl,
    read_posts,
    site: DemoSite,
    busy_tags: list[str],
    chromedriver_server: str,
    tmp_path: Path,
) -> None:
    code, stdout, _ = run_crawl(
        tmp_path,
        *_tag_feed(site.base_url, busy_tags[1]),
        "--limit",
        "48",
        "--remote-url",
        chromedriver_server,
    )
    assert code == 0
    assert len(read_posts(tmp_path)) == 48
    # the page load (its first 24 posts embedded in the HTML) + 1 feed XHR
    assert _summary_number(stdout, "requests used") == 2


class _CdpRefusingProxy(BaseHTTPRequestHandler):
    """A WebDriver endpoint like some hosted grids: everything but ``goog/cdp/execute``."""

    upstream = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _relay(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "/goog/cdp/" in self.path:
            status, reply = (
                404,
                json.dumps(
                    {
                        "value": {
                            "error": "unknown command",
                            "message": "unknown command: cdp",
                            "stacktrace": "",
                        }
                    }
                ).encode(),
            )
        else:
            answer = requests.request(
                self.command,
                self.upstream + self.path,
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=60,
            )
            status, reply = answer.status_code, answer.content
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_DELETE = _relay


def test_remote_webdriver_without_cdp_falls_back_to_in_page_reads(
    run_crawl,
    read_posts,
    site: DemoSite,
    busy_tags: list[str],
    chromedriver_server: str,
    tmp_path: Path,
) -> None:
    handler = type("Proxy", (_CdpRefusingProxy,), {"upstream": chromedriver_server})
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        code, stdout, _ = run_crawl(
            tmp_path,
            *_tag_feed(site.base_url, busy_tags[2]),
            "--limit",
            "48",
            "--remote-url",
            f"http://127.0.0.1:{proxy.server_address[1]}",
        )
    finally:
        proxy.shutdown()
    assert code == 0
    assert len(read_posts(tmp_path)) == 48
    # page + its re-read + 1 feed XHR (a POST, re-sent with its form body; that last re-read
    # is made after the final count)
    assert _summary_number(stdout, "requests used") == 3
    assert "this WebDriver refuses CDP" in (tmp_path / "crawl.log").read_text("utf-8")


def test_post_pages_are_opened_only_for_missing_fields_and_404_keeps_the_feed_record(
    expected_record: Callable[..., PostRecord],
    run_crawl,
    read_posts,
    corpus: DemoCorpus,
    busy_tags: list[str],
    tmp_path: Path,
) -> None:
    with DemoSite(corpus, {"deleted_rate": 0.5}) as site:
        feed = _tag_feed(site.base_url, busy_tags[0])
        # location: a field the demo feed never has
        code, stdout, _ = run_crawl(
            tmp_path, *feed, "--limit", "6", "--set", "crawl.post_page_for=[location]"
        )
        opened = site.counters["post_pages"]
    assert code == 0
    assert opened == 6 and "post pages opened: 6" in stdout
    for record in read_posts(tmp_path):  # deleted (404) or not, the feed's fields stay
        expected = expected_record(
            corpus, corpus.by_shortcode(record["shortcode"]).index, site.base_url, record["source"]
        )
        assert record["caption"] == expected["caption"]


def test_profile_feed_is_crawled(
    run_crawl, read_posts, site: DemoSite, corpus: DemoCorpus, tmp_path: Path
) -> None:
    user = next(u for u in corpus.profiles() if len(corpus.profile_posts(u)) >= 30)
    code, _, _ = run_crawl(
        tmp_path, "--base-url", site.base_url, "--profile", user, "--per-target", "30"
    )
    assert code == 0
    records = read_posts(tmp_path)
    assert [r["shortcode"] for r in records] == [
        corpus.post(i).shortcode for i in corpus.profile_posts(user)[:30]
    ]
    assert {r["owner"] for r in records} == {user}


def test_demo_flag_starts_the_site_and_crawls_its_tags(
    run_crawl, read_posts, tmp_path: Path
) -> None:
    profile = tmp_path / "profile"
    code, stdout, _ = run_crawl(tmp_path, "--demo", "--limit", "30", "--profile-dir", str(profile))
    assert code == 0
    assert any(profile.iterdir())  # the persistent profile is kept
    assert len(read_posts(tmp_path)) == 30
    assert "stop reason: limit reached" in stdout
