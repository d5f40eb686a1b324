"""SIGTERM (``kill``, ``docker stop``, systemd, Kubernetes) stops a crawl the way Ctrl-C does
(issue 19, part 9): state saved, Chromium and chromedriver quit, the documented exit code.

The crawl runs as a real subprocess against an in-test demo site; its descendants are read
from /proc before the signal (``process_tree``), so a browser it leaves behind (re-parented to
init once its parent is gone) is still found.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo_site.generator import DemoCorpus
from demo_site.server import DemoSite
from demo_site.topics import SPAM_TAGS
from runtime.errors import EXIT_TERMINATED


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "crawler", *args]


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[DemoSite, str]]:
    corpus = DemoCorpus(seed=3, n_posts=20_000)
    tag = next(t for t in corpus.tags() if t not in SPAM_TAGS and len(corpus.tag_posts(t)) > 400)
    with DemoSite(corpus) as demo:
        yield demo, tag


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.usefixtures("chromium_ready")
def test_sigterm_saves_state_quits_the_browser_and_the_rerun_resumes(
    site: tuple[DemoSite, str], crawl_until_stored, process_tree, read_posts, tmp_path: Path
) -> None:
    demo, tag = site
    out = tmp_path / "out"
    crawl = ["--base-url", demo.base_url, "--tag", tag]
    process = crawl_until_stored(out, *crawl, "--per-target", "400")
    browser = process_tree.below(process.pid)
    assert any("chromedriver" in command for command in process_tree.running(browser))

    process.send_signal(signal.SIGTERM)
    stdout, stderr = (text.decode() for text in process.communicate(timeout=60))

    assert process.returncode == EXIT_TERMINATED
    assert stderr.strip().splitlines() == ["hashtag-crawl: terminated"]
    assert "stop reason: interrupted" in stdout
    assert process_tree.running(browser) == []
    state = json.loads((out / "state.json").read_text("utf-8"))
    stored = len(read_posts(out))
    assert 0 < stored < 400
    assert state["stop_reason"] == "interrupted"
    assert state["targets"][f"tag:{tag}"]["posts"] == stored

    rerun = subprocess.run(
        _command("crawl", "--quiet", "--out", str(out), *crawl, "--no-delay")
        + ["--per-target", str(stored + 30)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"tag:{tag}: 30 new posts" in rerun.stdout
    records = read_posts(out)
    assert len(records) == stored + 30 == len({r["shortcode"] for r in records})


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.usefixtures("chromium_ready")
def test_sigterm_while_the_browser_starts_leaves_no_browser(
    site: tuple[DemoSite, str], process_tree, tmp_path: Path
) -> None:
    """Selenium cleans up a half-started driver after an Exception only; a SIGTERM as soon as
    chromedriver runs lands while Chromium starts. The crawl's TMPDIR holds its temporary
    profile, which every Chromium process names in its command line: none may outlive it."""
    demo, tag = site
    temp = tmp_path / "tmp"
    temp.mkdir()
    process = subprocess.Popen(
        _command("crawl", "--quiet", "--out", str(tmp_path / "out"), "--base-url", demo.base_url)
        + ["--tag", tag],
        env={**os.environ, "TMPDIR": str(temp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    browser: dict[int, str] = {}
    while not any("chromedriver" in command for command in process_tree.running(browser)):
        assert process.poll() is None, process.communicate()[1].decode()
        browser = process_tree.below(process.pid)
        time.sleep(0.02)

    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == EXIT_TERMINATED, stderr.decode()
    assert process_tree.running(browser) == []
    everything = process_tree.running(process_tree.below(0))
    assert [command for command in everything if str(temp) in command] == []


def test_sigterm_stops_serve_demo_with_exit_0() -> None:
    """A server is meant to be stopped: SIGTERM ends serve-demo like Ctrl-C, exit 0."""
    process = subprocess.Popen(
        _command("serve-demo", "--port", "0", "--set", "n_posts=2000"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().startswith("demo site: http://127.0.0.1:")
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
