"""Scale-out on a real Selenium Grid: a hub and two nodes (Selenium server 4.20, Debian Chromium).

Two shards of one target list crawl the demo site through the Grid at the same time, each into
its own folder; together they must find what one unsharded crawl finds, and the dataset build
must see the posts both shards stored (a post under two tags) as ``same_shortcode`` copies.
``make test`` installs Java and the server jar (scripts/ensure-selenium-grid.sh).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from crawler.cli import main as crawl_main
from crawler.grid import LocalGrid, local_grid
from crawler.targets import make_target, shard
from demo_site.generator import DemoCorpus
from demo_site.server import DemoSite
from runtime.errors import EXIT_TERMINATED, Terminated
from runtime.files import iter_jsonl

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.usefixtures("chromium_ready")]

TAGS = ["travel", "foodie", "fitness", "beach", "stars", "city", "adventure", "surfing"]


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory, selenium_jar: Path) -> Iterator[LocalGrid]:
    """A hub and two single-session nodes, so that two shards at once must use both nodes."""
    if not shutil.which("java") or not selenium_jar.is_file():
        pytest.skip(f"Java or {selenium_jar} missing: run 'make grid'")
    with local_grid(selenium_jar, tmp_path_factory.mktemp("grid"), nodes=2) as running:
        yield running


@pytest.fixture(scope="module")
def site() -> Iterator[DemoSite]:
    with DemoSite(DemoCorpus(seed=5, n_posts=3000)) as demo:
        yield demo


def _shortcodes(posts: Path) -> list[str]:
    return [record["shortcode"] for _, record, _ in iter_jsonl(posts) if record]


def _crawl_args(site: DemoSite, out: Path) -> list[str]:
    args = ["crawl", "--base-url", site.base_url, "--no-delay", "--quiet", "--limit", "100000"]
    return [*args, *(arg for tag in TAGS for arg in ("--tag", tag)), "--out", str(out)]


def test_two_shards_on_a_grid_find_what_one_crawl_finds(
    grid: LocalGrid, site: DemoSite, tmp_path: Path
) -> None:
    # The tags must split across the shards and share posts, or the test proves nothing.
    targets = [make_target("tag", tag) for tag in TAGS]
    assert shard(targets, 0, 2) and shard(targets, 1, 2)

    assert crawl_main(_crawl_args(site, tmp_path / "whole")) == 0
    whole = set(_shortcodes(tmp_path / "whole" / "posts.jsonl"))

    shards = [
        subprocess.Popen(
            [sys.executable, "-m", "crawler", *_crawl_args(site, tmp_path / f"s{i}")]
            + ["--remote-url", grid.hub_url, "--shard", f"{i}/2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for process in shards:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert "stop reason: targets done" in stdout, stdout
    for log in grid.node_logs:  # both nodes served a shard
        assert "Session created" in log.read_text("utf-8", "replace")

    per_shard = [_shortcodes(tmp_path / f"s{i}" / "posts.jsonl") for i in range(2)]
    union = set(per_shard[0]) | set(per_shard[1])
    assert len(union) >= 0.95 * len(whole)
    copies = len(per_shard[0]) + len(per_shard[1]) - len(union)
    assert copies > 0, "no post sits under tags of both shards"

    build = subprocess.run(
        [sys.executable, "-m", "preprocess", "build", "--quiet", "--out", str(tmp_path / "ds")]
        + ["--input", str(tmp_path / "s0" / "posts.jsonl")]
        + ["--input", str(tmp_path / "s1" / "posts.jsonl")]
        + ["--min-count", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    funnel = json.loads((tmp_path / "ds" / "stats.json").read_text("utf-8"))["funnel"]
    deduped = next(stage for stage in funnel if stage["stage"] == "deduped")
    assert deduped["dropped"]["same_shortcode"] == copies


def _grid_sessions(grid: LocalGrid) -> int:
    nodes = requests.get(f"{grid.hub_url}/status", timeout=10).json()["value"]["nodes"]
    return sum(slot.get("session") is not None for node in nodes for slot in node["slots"])


def test_sigterm_releases_the_grid_session_at_once(
    grid: LocalGrid, site: DemoSite, crawl_until_stored, tmp_path: Path
) -> None:
    """Not left for the Grid's session timeout (300 s) to reclaim: the node is free again
    within the few seconds the hub takes to hear of the quit."""
    tags = [arg for tag in TAGS for arg in ("--tag", tag)]
    process = crawl_until_stored(
        tmp_path, "--base-url", site.base_url, "--remote-url", grid.hub_url, *tags
    )
    assert _grid_sessions(grid) == 1

    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)

    assert process.returncode == EXIT_TERMINATED
    deadline = time.monotonic() + 20
    while _grid_sessions(grid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _grid_sessions(grid) == 0


def test_sigterm_stops_the_hub_and_nodes_of_a_local_grid(
    grid: LocalGrid, process_tree, tmp_path: Path, selenium_jar: Path
) -> None:
    """The Grid benchmark (no run_main) or a test session told to stop leaves no Java behind
    (``grid`` only skips the test where Java or the jar is missing)."""
    before = process_tree.below(os.getpid())
    with pytest.raises(Terminated), local_grid(selenium_jar, tmp_path, nodes=1):
        started = {
            pid: start
            for pid, start in process_tree.below(os.getpid()).items()
            if pid not in before
        }
        assert len(started) == 2  # the hub and the node
        os.kill(os.getpid(), signal.SIGTERM)
    assert process_tree.running(started) == []
