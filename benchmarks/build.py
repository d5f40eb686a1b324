"""Wall time and peak memory of a whole ``hashtag-build-dataset build`` from a loopback server.

The demo corpus (``demo_site.generator``) gives N posts.jsonl records whose image URLs point
at a static file server on 127.0.0.1 (``python -m http.server`` in its own process), serving
the corpus's JPEGs rendered beforehand, so the timed build pays for downloading, not drawing.
The build runs as its own process, timed from launch to exit with an empty image cache, then
once more with the cache warm; its peak resident memory comes from ``os.wait4``.

    .venv/bin/python benchmarks/build.py --posts 50000 --work /tmp/build-bench
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from demo_site.generator import DemoCorpus, media_path
from runtime.records import PostRecord, make_record
from runtime.timestamps import timestamp_to_iso

SEED = 0


def post_record(corpus: DemoCorpus, i: int, base_url: str) -> PostRecord:
    """Post ``i`` as a crawl of the demo site at ``base_url`` stores it, with the fields the
    build reads (caption, first image, owner, date)."""
    post = corpus.post(i)
    return make_record(
        post.shortcode,
        post.caption,
        base_url + media_path(post.pk),
        "tag:demo",
        base_url,
        owner=post.owner,
        taken_at=timestamp_to_iso(post.taken_at),
    )


def render_range(work: str, posts: int, start: int, stop: int) -> None:
    """Worker: write the first image of posts ``start..stop`` under ``work/site``."""
    corpus = DemoCorpus(SEED, posts)
    for i in range(start, stop):
        url = post_record(corpus, i, "http://x")["image_url"]
        target = Path(work) / "site" / urlsplit(url).path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(corpus.render_image(i))


def prepare(work: Path, posts: int, port: int) -> Path:
    """posts.jsonl pointing at ``port``, and the images it names, rendered on every core."""
    corpus = DemoCorpus(SEED, posts)
    base = f"http://127.0.0.1:{port}"
    path = work / "posts.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(posts):
            handle.write(json.dumps(post_record(corpus, i, base)) + "\n")
    if not (work / "site" / ".complete").exists():
        chunk = 1000
        with ProcessPoolExecutor(os.cpu_count()) as pool:
            for future in [
                pool.submit(render_range, str(work), posts, s, min(s + chunk, posts))
                for s in range(0, posts, chunk)
            ]:
                future.result()
        (work / "site" / ".complete").touch()
    return path


def timed_build(posts_path: Path, out: Path, cache: Path) -> tuple[float, float, str]:
    """Seconds from launch to exit, peak RSS in MiB, and the funnel the build printed."""
    command = [
        sys.executable,
        "-m",
        "preprocess",
        "build",
        "--input",
        str(posts_path),
        "--out",
        str(out),
        "--cache-dir",
        str(cache),
        "--quiet",
    ]
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    funnel = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"build failed with exit code {os.waitstatus_to_exitcode(status)}")
    return elapsed, usage.ru_maxrss / 1024, funnel


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=50_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hashtag-build-bench"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    posts_path = prepare(args.work, args.posts, port)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(args.work / "site"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.0)
        cache = args.work / "cache"
        shutil.rmtree(cache, ignore_errors=True)
        cold = timed_build(posts_path, args.work / "dataset", cache)
        warm = timed_build(posts_path, args.work / "dataset", cache)
    finally:
        server.terminate()
        server.wait()
    python = platform.python_version()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {python}")
    print(f"posts: {args.posts}\n")
    print("| run | wall s | posts/s | peak RSS MiB |\n| --- | --- | --- | --- |")
    for name, (seconds, rss, _) in (("cold cache", cold), ("warm cache", warm)):
        print(f"| {name} | {seconds:.0f} | {args.posts / seconds:.0f} | {rss:.0f} |")
    print(f"\nfunnel (cold):\n{cold[2]}")


if __name__ == "__main__":
    main()
