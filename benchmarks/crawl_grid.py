"""Benchmark: a demo crawl in 2 shards through a real Selenium Grid, beside one local crawl.

The Grid is a hub and two nodes of the Selenium server jar on this machine (crawler.grid, the
jar from `make grid`); both shards run at once, each with its own output folder, as on a Grid of
several machines. The peer is the same target list crawled by one process with a local
chromedriver. Requests are those the demo server saw (page loads, feed XHRs, post pages).
Writes docs/benchmarks/crawl_grid.md.

    .venv/bin/python benchmarks/crawl_grid.py [--tags 12] [--per-target 250]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crawl_demo import site_requests

from crawler.grid import local_grid
from demo_site.generator import DemoCorpus
from demo_site.server import DemoSite
from demo_site.topics import topical_tags
from runtime.files import iter_jsonl

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "docs" / "benchmarks" / "crawl_grid.md"
# Where `make grid` (scripts/ensure-selenium-grid.sh) installs the server jar.
INSTALLED_JAR = REPO / ".venv" / "selenium" / "selenium-server-4.20.0.jar"


def crawl_command(site: DemoSite, tags: list[str], per_target: int, out: Path) -> list[str]:
    command = [sys.executable, "-m", "crawler", "crawl", "--base-url", site.base_url]
    command += ["--no-delay", "--quiet", "--per-target", str(per_target), "--out", str(out)]
    command += ["--limit", str(per_target * len(tags))]
    return command + [arg for tag in tags for arg in ("--tag", tag)]


def run_crawls(site: DemoSite, commands: list[list[str]], outs: list[Path]) -> dict[str, float]:
    """Run the commands at once; posts are the union of their outputs by shortcode."""
    before = site_requests(site)
    started = time.perf_counter()
    processes = [subprocess.Popen(command, stdout=subprocess.DEVNULL) for command in commands]
    if any(process.wait() != 0 for process in processes):
        raise SystemExit("a crawl failed")
    wall = time.perf_counter() - started
    shortcodes = {
        record["shortcode"]
        for out in outs
        for _, record, _ in iter_jsonl(out / "posts.jsonl")
        if record
    }
    return {"posts": len(shortcodes), "wall_s": wall, "requests": site_requests(site) - before}


def report(rows: dict[str, dict[str, float]], tags: list[str], per_target: int, jar: Path) -> str:
    lines = [
        "# Crawl benchmark: 2 shards on a Selenium Grid beside one local crawl",
        "",
        f"Machine: {os.cpu_count()} CPU cores, no GPU, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} (shared "
        f"machine). {jar.name} (hub + 2 nodes, one session each, on this machine), "
        f"Debian Chromium headless. Demo corpus 50,000 posts; {len(tags)} topic tags, "
        f"{per_target} posts each, delays off. Run by `benchmarks/crawl_grid.py`.",
        "",
        "| crawl | posts (unique) | wall s (incl. browser start) | posts/s | requests | "
        "requests per 1,000 posts |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['posts']:.0f} | {row['wall_s']:.1f} | "
            f"{row['posts'] / row['wall_s']:.0f} | {row['requests']:.0f} | "
            f"{1000 * row['requests'] / row['posts']:.1f} |"
        )
    lines += [
        "",
        "The Grid's own start-up (a few seconds for the hub and nodes) is not timed. "
        f"Both shards share the machine's {os.cpu_count()} cores with the hub, the nodes and the "
        "demo site, so any speed-up here is bounded by those cores; on a real Grid each node is "
        "its own machine and each shard its own account, and the rate is set by politeness, not "
        "CPU (docs/crawling.md, Scale-out). A post under tags of both shards "
        "is stored by both and counted once here; the dataset build drops the second copy as "
        "`same_shortcode`. That is also why the shards' union is smaller than the one crawl's "
        "here: `--per-target` counts a shard's own new posts, so a post the other shard also "
        "stored fills both caps, where one crawl would have gone on to a post it had not seen. "
        "Over whole feeds (no cap) the union matches one crawl's (tests/crawler/test_grid.py "
        "checks it to within 5%).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=12, help="number of tags")
    parser.add_argument("--per-target", type=int, default=250, help="posts per tag")
    parser.add_argument(
        "--jar",
        type=Path,
        default=Path(os.environ.get("SELENIUM_SERVER_JAR") or INSTALLED_JAR),
        help="the Selenium server jar (default: $SELENIUM_SERVER_JAR, else the one `make grid` "
        "installs)",
    )
    args = parser.parse_args()
    corpus = DemoCorpus(n_posts=50_000)
    tags = [t for t in topical_tags(corpus.tags()) if len(corpus.tag_posts(t)) >= args.per_target]
    tags = tags[: args.tags]
    with tempfile.TemporaryDirectory() as scratch, DemoSite(corpus) as site:
        folder = Path(scratch)
        local = [folder / "local"]
        rows = {
            "one process, local chromedriver": run_crawls(
                site, [crawl_command(site, tags, args.per_target, local[0])], local
            )
        }
        with local_grid(args.jar, folder, nodes=2) as grid:
            outs = [folder / f"shard{i}" for i in range(2)]
            commands = [
                crawl_command(site, tags, args.per_target, out)
                + ["--remote-url", grid.hub_url, "--shard", f"{i}/2"]
                for i, out in enumerate(outs)
            ]
            rows["2 shards at once through the Grid (hub + 2 nodes)"] = run_crawls(
                site, commands, outs
            )
    text = report(rows, tags, args.per_target, args.jar)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text, "utf-8")
    print(text)


if __name__ == "__main__":
    main()
