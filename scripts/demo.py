"""`make demo`: the whole pipeline on the embedded demo site, start to finish, offline.

demo site -> crawl (real headless Chromium) -> build dataset -> train small config -> evaluate
-> serve, one original-style /predict request and one JSON request -> stop. Each stage runs its
real console script, exactly as a user would type it, so the demo doubles as a smoke test.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def banner(title: str) -> None:
    print(f"\n==> {title}", flush=True)


def run(*command: str) -> None:
    print("$ " + " ".join(command), flush=True)
    started = time.monotonic()
    code = subprocess.run([str(BIN / command[0]), *command[1:]]).returncode
    if code != 0:  # the command has said why on stderr; a traceback here would bury it
        raise SystemExit(f"demo: {command[0]} failed (exit {code}); its message is above")
    print(f"    ({time.monotonic() - started:.0f} s)", flush=True)


def wait_http(url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=2).close()
            return
        time.sleep(0.3)
    raise SystemExit(f"demo: {url} did not come up within {timeout_s:.0f} s")


@contextlib.contextmanager
def background(*command: str, ready_url: str, stop: int = signal.SIGTERM) -> Iterator[None]:
    print("$ " + " ".join(command) + " &", flush=True)
    process = subprocess.Popen([str(BIN / command[0]), *command[1:]])
    try:
        wait_http(ready_url)
        yield
    finally:
        process.send_signal(stop)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,  # --help shows the sizes' defaults
    )
    parser.add_argument("--out", default="demo-output", help="folder for every artifact")
    parser.add_argument("--posts", type=int, default=3000, help="posts to crawl")
    parser.add_argument("--tags", type=int, default=12, help="demo tags to crawl")
    parser.add_argument("--fresh", action="store_true", help="delete --out (an earlier demo) first")
    parser.add_argument(
        "--train-config",
        default=REPO / "configs" / "train_small.yaml",
        help="hashtag-train --config file",
    )
    parser.add_argument(
        "--train-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a training config key (repeatable)",
    )
    args = parser.parse_args()
    out = Path(args.out).resolve()
    crawl_dir, dataset_dir, run_dir = out / "crawl", out / "dataset", out / "run"
    if args.fresh and out.exists():
        shutil.rmtree(out)
    # Checked before the site starts: minutes later, hashtag-train would refuse the run folder.
    earlier = [path.name for path in (crawl_dir, dataset_dir, run_dir) if path.exists()]
    if earlier:
        print(
            f"demo: {out} holds an earlier demo's {', '.join(earlier)}: pass --fresh to replace "
            "it (make demo DEMO_ARGS=--fresh) or another --out",
            file=sys.stderr,
        )
        return 2
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    site_port = free_port()
    site = f"http://127.0.0.1:{site_port}"
    with background(
        "hashtag-crawl",
        "serve-demo",
        "--port",
        str(site_port),
        ready_url=f"{site}/robots.txt",
        stop=signal.SIGINT,  # Ctrl-C: it prints what it served
    ):
        tags = demo_tags(site, args.tags)
        banner(f"1/5 crawl {args.posts} posts from {len(tags)} tags of the demo site with Chromium")
        per_tag = -(-args.posts // len(tags))
        tag_flags = [flag for tag in tags for flag in ("--tag", tag)]
        run(
            "hashtag-crawl",
            "crawl",
            "--base-url",
            site,
            "--no-delay",
            *tag_flags,
            "--limit",
            str(args.posts),
            "--per-target",
            str(per_tag),
            "--out",
            str(crawl_dir),
        )

        banner("2/5 build the dataset (English filter, top-100 labels, images)")
        run(
            "hashtag-build-dataset",
            "build",
            "--input",
            str(crawl_dir / "posts.jsonl"),
            "--out",
            str(dataset_dir),
        )

        banner("3/5 train the small CPU config")
        train_overrides = [flag for item in args.train_set for flag in ("--set", item)]
        run(
            "hashtag-train",
            "--dataset",
            str(dataset_dir),
            "--out",
            str(run_dir),
            "--config",
            str(args.train_config),
            *train_overrides,
        )

        banner("4/5 evaluate on the test split against the popularity and tfidf baselines")
        run(
            "hashtag-evaluate",
            "--checkpoint",
            str(run_dir),
            "--dataset",
            str(dataset_dir),
            "--split",
            "test",
            "--baselines",
            "tfidf",
        )

        banner("5/5 serve the checkpoint and ask it")
        port = free_port()
        server = f"http://127.0.0.1:{port}"
        # The demo site also answers like Google Drive's download endpoint (file id = shortcode),
        # so the original project's image_id form works offline.
        with background(
            "hashtag-serve",
            "--checkpoint",
            str(run_dir),
            "--port",
            str(port),
            "--drive-base-url",
            f"{site}/uc",
            "--allow-private-urls",
            ready_url=f"{server}/readyz",
        ):
            ask_server(server, dataset_dir)

    print(f"\nDemo finished in {time.monotonic() - started:.0f} s. Artifacts:")
    for label, path in [
        ("crawled posts", crawl_dir / "posts.jsonl"),
        ("crawl state", crawl_dir / "state.json"),
        ("dataset", dataset_dir),
        ("dataset report", dataset_dir / "report.html"),
        ("checkpoint", run_dir),
        ("metrics", run_dir / "metrics.json"),
        ("training report", run_dir / "report.html"),
        ("tensorboard", f"tensorboard --logdir {run_dir / 'tensorboard'}"),
    ]:
        print(f"  {label:15} {path}")
    print(f"Serve it yourself: make serve  (hashtag-serve --checkpoint {run_dir})")
    return 0


def demo_tags(site: str, count: int) -> list[str]:
    """The site's ``count`` most used topic tags, engagement spam left out."""
    from demo_site.topics import topical_tags

    with urllib.request.urlopen(f"{site}/api/demo/tags", timeout=10) as response:
        return topical_tags(json.load(response)["tags"])[:count]


def ask_server(server: str, dataset_dir: Path) -> None:
    """One request in the original project's GET form (HTML answer) and one JSON request with
    an upload, both for a post of the test split."""
    import pyarrow.parquet as pq
    import requests

    row = pq.read_table(dataset_dir / "test.parquet").slice(0, 1).to_pylist()[0]
    truth = " ".join("#" + tag for tag in row["hashtags"][:10])
    print(f"  test post {row['shortcode']}: {row['text'][:70]!r}")
    print(f"  its hashtags:     {truth}")

    original_form = {
        "image_id": row["shortcode"],
        "text": row["text"],
        "max_seq_len": 20,
        "n_label": 10,
    }
    page = requests.get(f"{server}/predict", params=original_form, timeout=120)
    page.raise_for_status()
    print(
        f"  GET /predict?image_id={row['shortcode']}&text=...&max_seq_len=20&n_label=10 "
        f"-> {page.status_code} {page.headers['content-type']}"
    )
    shown = re.findall(r'class="tag-name">(#[^<]+)<', page.text)
    print(f"    page shows:     {' '.join(shown)}")

    image = base64.b64encode(row["image"]["bytes"]).decode("ascii")
    request = {"text": row["text"], "image_base64": image, "n_label": 10}
    answer = requests.post(f"{server}/api/predict", json=request, timeout=120).json()
    tags = " ".join(f"#{h['tag']} ({h['score']:.2f})" for h in answer["hashtags"][:5])
    print(f"  POST /api/predict -> JSON in {answer['latency_ms']:.0f} ms: {tags} ...")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:
        sys.exit(f"demo: {Path(exc.cmd[0]).name} failed with exit code {exc.returncode}")
