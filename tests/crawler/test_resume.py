"""kill -9 at random moments, then resume: exactly the posts of an uninterrupted crawl."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo_site.generator import DemoCorpus
from demo_site.server import DemoSite

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.usefixtures("chromium_ready")]

PER_TARGET, LIMIT = 100, 300


@pytest.fixture(scope="module")
def site_and_tags() -> Iterator[tuple[str, list[str]]]:
    corpus = DemoCorpus(seed=11, n_posts=4000)
    tags = [tag for tag in corpus.tags() if len(corpus.tag_posts(tag)) >= 150][:3]
    site = DemoSite(corpus)
    base_url = site.start()
    try:
        yield base_url, tags
    finally:
        site.stop()


@pytest.fixture
def short_tmpdir() -> Iterator[str]:
    """A TMPDIR for the crawler processes: the browser profiles a kill leaves behind are
    removed with it. Short, because Chromium's IPC socket paths must fit in 108 bytes."""
    path = tempfile.mkdtemp(prefix="crawl-kill-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _start(
    base_url: str, tags: list[str], out: Path, tmpdir: str | None = None
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "crawler",
        "crawl",
        "--no-delay",
        "--quiet",
        "--base-url",
        base_url,
        "--out",
        str(out),
        "--per-target",
        str(PER_TARGET),
        "--limit",
        str(LIMIT),
    ]
    command += [arg for tag in tags for arg in ("--tag", tag)]
    # Its own process group, so the kill takes chromedriver and Chromium down with it.
    env = {**os.environ, "TMPDIR": tmpdir} if tmpdir else None
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, env=env
    )


def _lines(out: Path) -> int:
    try:
        return (out / "posts.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _kill_after(
    process: subprocess.Popen[bytes], out: Path, at_lines: int, rng: random.Random
) -> bool:
    """SIGKILL once posts.jsonl has ``at_lines`` lines plus a random moment; False if it ended."""
    deadline = time.monotonic() + 120
    while _lines(out) < at_lines and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.15))
    if process.poll() is not None:
        return False
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return True


def _shortcodes(out: Path) -> list[str]:
    raw = (out / "posts.jsonl").read_bytes()
    assert raw.endswith(b"\n"), "torn last line"
    return [json.loads(line)["shortcode"] for line in raw.splitlines()]


def test_three_kills_then_resume_give_the_uninterrupted_result(
    site_and_tags: tuple[str, list[str]], tmp_path: Path, short_tmpdir: str
) -> None:
    base_url, tags = site_and_tags
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    uninterrupted = _start(base_url, tags, reference)
    _, err = uninterrupted.communicate(timeout=180)
    assert uninterrupted.returncode == 0, err.decode()

    rng = random.Random(20261129)
    kills = 0
    for at_lines in sorted(rng.sample(range(1, LIMIT - 60), 3)):
        crawl = _start(base_url, tags, resumed, short_tmpdir)
        kills += _kill_after(crawl, resumed, at_lines, rng)
    finish = _start(base_url, tags, resumed)
    _, err = finish.communicate(timeout=180)

    assert finish.returncode == 0, err.decode()
    assert kills == 3
    expected, got = _shortcodes(reference), _shortcodes(resumed)
    assert len(got) == len(set(got)) == LIMIT
    assert set(got) == set(expected)
