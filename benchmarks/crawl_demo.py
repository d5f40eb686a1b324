"""Benchmark: a demo-site crawl with headless Chromium, delays off, beside a browserless peer.

The peer reads the same feed endpoint with ``requests`` and the same parsers: the floor a
browser-driven crawl pays its browser on top of. Writes docs/benchmarks/crawl.md.

    .venv/bin/python benchmarks/crawl_demo.py [--posts 2000] [--tags 10]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import re
import tempfile
import time
from pathlib import Path

import requests

from crawler.cli import main as crawl_main
from crawler.parsers import parse_json
from crawler.store import PostStore
from demo_site.generator import DemoCorpus
from demo_site.server import DemoSite
from demo_site.topics import topical_tags

REPORT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "crawl.md"


def site_requests(site: DemoSite) -> int:
    counters = site.counters
    return counters["pages"] + counters["xhr"] + counters["post_pages"]


def browser_crawl(site: DemoSite, tags: list[str], per_target: int, out: Path) -> dict[str, float]:
    before = site_requests(site)
    args = [
        "crawl",
        "--base-url",
        site.base_url,
        "--no-delay",
        "--quiet",
        "--out",
        str(out),
        "--per-target",
        str(per_target),
        "--limit",
        str(per_target * len(tags)),
    ]
    args += [arg for tag in tags for arg in ("--tag", tag)]
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()) as summary:
        code = crawl_main(args)
    wall = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"crawl failed with exit {code}")
    loop = float(re.search(r"elapsed: ([\d.]+) s", summary.getvalue())[1])
    posts = len(PostStore(out / "posts.jsonl"))
    return {
        "posts": posts,
        "wall_s": wall,
        "loop_s": loop,
        "requests": site_requests(site) - before,
    }


def requests_peer(site: DemoSite, tags: list[str], per_target: int, out: Path) -> dict[str, float]:
    """The same feeds page by page over plain HTTP, stored the same way."""
    store = PostStore(out / "posts.jsonl")
    session = requests.Session()
    calls = 0
    started = time.perf_counter()
    for tag in tags:
        cursor, stored = None, 0
        while stored < per_target:
            params = {"max_id": cursor} if cursor else {}
            url = f"{site.base_url}/api/v1/tags/{tag}/sections/"
            page = parse_json(
                session.get(url, params=params, timeout=30).json(), f"tag:{tag}", site.base_url
            )
            calls += 1
            stored += len(store.add(page.records[: per_target - stored]))
            if not page.more_available or not page.next_cursor:
                break
            cursor = page.next_cursor
    wall = time.perf_counter() - started
    return {"posts": len(store), "wall_s": wall, "loop_s": wall, "requests": calls}


def report(rows: dict[str, dict[str, float]], tags: list[str], n_posts: int) -> str:
    lines = [
        "# Crawl benchmark: demo site, delays off",
        "",
        f"Machine: {os.cpu_count()} CPU cores, no GPU, {platform.system()} "
        f"{platform.machine()}, Python {platform.python_version()}, load average "
        f"{os.getloadavg()[0]:.1f} (shared machine); Chromium headless. "
        f"Demo corpus: {n_posts:,} posts, 24 posts per feed response; {len(tags)} topic tags "
        f"({', '.join(tags)}). Run by `benchmarks/crawl_demo.py`.",
        "",
        "| crawler | posts | wall s | crawl-loop s | posts/s (loop) | requests | "
        "requests per 1,000 posts |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in rows.items():
        per_1000 = 1000 * row["requests"] / row["posts"]
        lines.append(
            f"| {name} | {row['posts']:.0f} | {row['wall_s']:.1f} | {row['loop_s']:.1f} | "
            f"{row['posts'] / row['loop_s']:.0f} | {row['requests']:.0f} | {per_1000:.1f} |"
        )
    lines += [
        "",
        "Requests are those the demo server saw from the crawler (page loads, feed XHRs, post "
        "pages; media excluded - the browser blocks it). The budget is 60 per 1,000 posts. Wall "
        "time includes starting Chromium; the crawl loop is what the crawl summary reports. The "
        "peer is a browserless lower bound: it cannot pass a real site's JavaScript, cookies "
        "or bot checks, which is why the crawler drives a browser.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000, help="posts to crawl in total")
    parser.add_argument("--tags", type=int, default=10, help="number of tags")
    parser.add_argument("--corpus", type=int, default=50_000, help="demo corpus size")
    args = parser.parse_args()
    corpus = DemoCorpus(n_posts=args.corpus)
    per_target = args.posts // args.tags
    tags = [t for t in topical_tags(corpus.tags()) if len(corpus.tag_posts(t)) >= per_target][
        : args.tags
    ]
    with DemoSite(corpus) as site, tempfile.TemporaryDirectory() as scratch:
        rows = {
            "hashtag-crawl (Selenium + headless Chromium)": browser_crawl(
                site, tags, per_target, Path(scratch, "browser")
            ),
            "peer: requests + same parsers (no browser)": requests_peer(
                site, tags, per_target, Path(scratch, "peer")
            ),
        }
    text = report(rows, tags, args.corpus)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text, "utf-8")
    print(text)


if __name__ == "__main__":
    main()
