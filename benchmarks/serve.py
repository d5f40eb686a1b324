"""Latency and throughput of hashtag-serve against an original-style server, same checkpoint.

Two server processes are started from one checkpoint:

- ours: ``hashtag-serve`` with its defaults (configs/serve.yaml): ONNX Runtime, captions padded
  to the longest in the batch, micro-batching, one thread per core;
- baseline (original-style, benchmarks/original_server.py): the same app, but the model run as the
  original project ran it: eager fp32 PyTorch, one model call per request, captions padded to
  ``max_seq_len``.

This process is the load generator (a second process, on loopback). It sends ``POST
/api/predict`` with a base64 JPEG (640x480) and a caption, drawn in turn from a pool of distinct
payloads, keeping ``concurrency`` requests in flight, and stops after ``--requests`` answers or
``--time-limit`` seconds, whichever comes first. The two servers are measured alternately at each
concurrency level, in ``--rounds`` short blocks, so a change of load on a shared machine hits
both. Both servers get the same payloads in each block, and their top-k answers are compared
payload by payload. Last, in this process, both models score the dataset's test split and their
top-k lists are compared (the criterion for keeping a tuning).

    .venv/bin/python -m benchmarks.serve --checkpoint demo-output/run
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image, ImageFilter

from runtime.errors import PipelineError, UsageError, run_main
from train.model_record import ModelRecord
from train.run_record import read_run_record

PROG = "benchmarks/serve.py"
# How each server is started (after ``python``) and the line of its log that says how it runs.
SERVERS = {
    "ours": (["-m", "serve"], "Tuning("),
    "baseline": (["-m", "benchmarks.original_server"], "original-style server: "),
}
REPO = Path(__file__).resolve().parents[1]
WORDS = (
    "sunset",
    "beach",
    "friends",
    "coffee",
    "city",
    "night",
    "love",
    "summer",
    "travel",
    "food",
)
GOAL_P50_RATIO = 0.5
GOAL_THROUGHPUT_RATIO = 2.0


@dataclass
class Level:
    server: str
    concurrency: int
    latencies_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    errors: int = 0

    def percentile_ms(self, q: float) -> float:
        return (
            float(np.percentile(self.latencies_s, q) * 1000) if self.latencies_s else float("nan")
        )

    @property
    def per_second(self) -> float:
        return len(self.latencies_s) / self.wall_s if self.wall_s else 0.0


def make_payloads(count: int, seed: int = 0) -> list[dict]:
    """Distinct photo-like JPEGs (smooth colour fields) with short captions."""
    rng = np.random.default_rng(seed)
    payloads = []
    for _ in range(count):
        small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
        image = (
            Image.fromarray(small)
            .resize((640, 480), Image.BICUBIC)
            .filter(ImageFilter.GaussianBlur(3))
        )
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=85)
        caption = " ".join(rng.choice(WORDS, size=int(rng.integers(3, 12))))
        payloads.append(
            {
                "text": caption,
                "image_base64": base64.b64encode(buffer.getvalue()).decode("ascii"),
                "n_label": 10,
                # The original project's 20 tokens, which the baseline pads every caption to
                # (the server's default is the checkpoint's own length), as in earlier runs.
                "max_seq_len": 20,
            }
        )
    return payloads


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Server:
    base_url: str
    tuning: str  # the tuning line the server logged at start
    startup_s: float  # from the process start to the first 200 from /readyz


@contextlib.contextmanager
def running_server(name: str, checkpoint: Path, startup_s: float) -> Iterator[Server]:
    """Start server ``name`` (see SERVERS) and wait until /readyz answers."""
    port = free_port()
    arguments, marker = SERVERS[name]
    command = [sys.executable, *arguments, "--checkpoint", str(checkpoint), "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as log:
        # Not --quiet: the start-up line says which tuning the server applied. The access log
        # goes to a file, which (unlike a pipe nobody reads) never blocks the server.
        process = subprocess.Popen(command, stderr=log, cwd=REPO)
        started = time.monotonic()
        try:
            deadline = started + startup_s
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise PipelineError(f"{name} server exited: {log.read()[-500:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise PipelineError(f"{name} server not ready after {startup_s:.0f} s")
                time.sleep(0.5)
            log.seek(0)
            tuning = next((line for line in log if marker in line), "")
            yield Server(base, tuning[tuning.find(marker) :].strip(), time.monotonic() - started)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


async def measure(
    level: Level,
    base: str,
    payloads: list[dict],
    requests: int,
    time_limit_s: float,
    offset: int = 0,
) -> dict[int, list[str]]:
    """Keep ``level.concurrency`` requests in flight; return the tags answered per payload.

    Request ``i`` sends payload ``offset + i`` (modulo the pool), so two servers measured with
    the same offset see the same inputs.
    """
    answers: dict[int, list[str]] = {}
    next_index = 0
    limits = httpx.Limits(max_connections=level.concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        deadline = started + time_limit_s

        async def worker() -> None:
            nonlocal next_index
            while next_index < requests and time.perf_counter() < deadline:
                index = (offset + next_index) % len(payloads)
                next_index += 1
                payload = payloads[index]
                sent = time.perf_counter()
                response = await client.post("/api/predict", json=payload)
                if response.status_code != 200:
                    level.errors += 1
                    continue
                level.latencies_s.append(time.perf_counter() - sent)
                answers[index] = [item["tag"] for item in response.json()["hashtags"]]

        await asyncio.gather(*(worker() for _ in range(level.concurrency)))
        level.wall_s += time.perf_counter() - started
    return answers


def test_split_agreement(checkpoint: Path, dataset: Path) -> dict[int, tuple[int, int]]:
    """Top-k lists identical between what ours serves and the original-style fp32 model, per k.

    Run in this process on the dataset's test split (the issue's criterion for keeping a
    tuning), after the timed part, so it cannot disturb the measurements.
    """
    from benchmarks.agreement import top_k_agreement
    from benchmarks.original_server import OriginalPredictor
    from serve.cpu_tuning import load_tuned
    from serve.settings import ServeSettings
    from train.data import load_dataset, post_inputs
    from train.evaluate import open_images

    _, frames = load_dataset(dataset, ("test",))
    texts, paths = post_inputs(frames["test"], dataset)
    images = open_images(paths)
    reference = OriginalPredictor.load(checkpoint)
    served, _ = load_tuned(ServeSettings(checkpoint=str(checkpoint)))
    return {
        k: (round(top_k_agreement(reference, served, texts, images, k) * len(texts)), len(texts))
        for k in (1, 5, 10)
    }


def run(args: argparse.Namespace) -> int:
    checkpoint = Path(args.checkpoint)
    record = read_run_record(checkpoint)  # a one-line usage error for a non-checkpoint
    dataset = Path(args.dataset or record.dataset or ".")
    if not (dataset / "test.parquet").is_file():
        raise UsageError(f"{dataset} has no test.parquet: pass --dataset DIR")
    payloads = make_payloads(args.distinct)
    load_before = os.getloadavg()[0]
    levels: list[Level] = []
    answers: dict[str, dict[int, list[str]]] = {"ours": {}, "baseline": {}}
    with (
        running_server("ours", checkpoint, args.startup_timeout) as ours,
        running_server("baseline", checkpoint, args.startup_timeout) as baseline,
    ):
        bases = {"ours": ours.base_url, "baseline": baseline.base_url}
        tunings = {"ours": ours.tuning, "baseline": baseline.tuning}
        startups = {"ours": ours.startup_s, "baseline": baseline.startup_s}
        for name, base in bases.items():  # warm-up: first calls allocate and pack weights
            asyncio.run(measure(Level(name, 1), base, payloads, 5, args.time_limit))
        for concurrency in args.concurrency:
            pair = {name: Level(name, concurrency) for name in bases}
            for round_number in range(args.rounds):
                order = ("ours", "baseline") if round_number % 2 else ("baseline", "ours")
                for name in order:
                    answers[name].update(
                        asyncio.run(
                            measure(
                                pair[name],
                                bases[name],
                                payloads,
                                args.requests // args.rounds,
                                args.time_limit / args.rounds,
                                offset=round_number * (args.requests // args.rounds),
                            )
                        )
                    )
            for level in pair.values():
                levels.append(level)
                print(
                    f"{level.server:8s} c={concurrency}: {len(level.latencies_s)} ok, "
                    f"{level.errors} errors, p50 {level.percentile_ms(50):.1f} ms, "
                    f"p99 {level.percentile_ms(99):.1f} ms, {level.per_second:.2f} req/s",
                    flush=True,
                )
    load_after = os.getloadavg()[0]
    common = set(answers["ours"]) & set(answers["baseline"])
    same = sum(answers["ours"][i] == answers["baseline"][i] for i in common)
    split_agreement = test_split_agreement(checkpoint, dataset)
    report = render_report(
        args,
        checkpoint,
        record.model,
        levels,
        ((same, len(common)), split_agreement),
        (load_before, load_after),
        tunings,
        startups,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + kept_sections(out), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def kept_sections(out: Path) -> str:
    """The sections (``## `` headings on) of an earlier report at ``out``: a rerun replaces the
    run's own part at the top and keeps the analyses written below it."""
    try:
        text = out.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    start = text.find("\n## ")
    return "" if start < 0 else text[start:]


def render_report(
    args: argparse.Namespace,
    checkpoint: Path,
    model: ModelRecord,
    levels: list[Level],
    agreement: tuple[tuple[int, int], dict[int, tuple[int, int]]],
    load: tuple[float, float],
    tunings: dict[str, str],
    startups: dict[str, float],
) -> str:
    by_key = {(level.server, level.concurrency): level for level in levels}
    rows = [
        f"| {level.server} | {level.concurrency} | {len(level.latencies_s)} | {level.errors} | "
        f"{level.percentile_ms(50):.1f} | {level.percentile_ms(99):.1f} | {level.per_second:.2f} |"
        for level in sorted(levels, key=lambda lv: (lv.concurrency, lv.server != "ours"))
    ]
    goals = []
    low, high = min(args.concurrency), max(args.concurrency)
    if ("ours", low) in by_key and ("baseline", low) in by_key:
        ratio = by_key["ours", low].percentile_ms(50) / by_key["baseline", low].percentile_ms(50)
        met = "met" if ratio <= GOAL_P50_RATIO else "NOT met"
        goals.append(
            f"- p50 at concurrency {low}: ours / baseline = {ratio:.2f} "
            f"(goal <= {GOAL_P50_RATIO}: {met})"
        )
    if ("ours", high) in by_key and ("baseline", high) in by_key:
        ratio = by_key["ours", high].per_second / max(by_key["baseline", high].per_second, 1e-9)
        met = "met" if ratio >= GOAL_THROUGHPUT_RATIO else "NOT met"
        goals.append(
            f"- requests/s at concurrency {high}: ours / baseline = {ratio:.2f} "
            f"(goal >= {GOAL_THROUGHPUT_RATIO}: {met})"
        )
    (same, compared), split_agreement = agreement
    split_line = ", ".join(
        f"top-{k} {same_k}/{posts}" for k, (same_k, posts) in sorted(split_agreement.items())
    )
    return "\n".join(
        [
            "# Serving benchmark: hashtag-serve vs a original-style server",
            "",
            f"Machine: {os.cpu_count()} CPU cores, no GPU, {platform.machine()}, Python "
            f"{platform.python_version()}; load average {load[0]:.1f} before and {load[1]:.1f} "
            "after the run (a machine shared with other jobs: absolute numbers are noisy, the "
            "two servers were measured alternately in the same run).",
            "",
            f"Checkpoint: `{checkpoint.name}`: modality {model.modality}, "
            f"{model.num_labels} labels, image size {model.image_size}, "
            f"max_seq_len {model.max_seq_len}. {args.checkpoint_note} "
            "Requests: `POST /api/predict` with a "
            f"640x480 JPEG (base64) and a caption, {args.distinct} distinct payloads, at most "
            f"{args.requests} requests or {args.time_limit:.0f} s per row, in {args.rounds} "
            "blocks alternating between the servers, from a second process on loopback. Run by "
            f"`benchmarks/serve.py --requests {args.requests} --time-limit {args.time_limit:.0f} "
            f"--rounds {args.rounds}`.",
            "",
            "| server | concurrency | requests | errors | p50 ms | p99 ms | requests/s |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            *goals,
            f"- identical top-10 lists, ours vs baseline, on the same payloads: {same}/{compared}",
            f"- identical top-k lists on the dataset's test split, ours vs original-style fp32 (in "
            f"process): {split_line}",
            "",
            "ours: `hashtag-serve` with its defaults (configs/serve.yaml); as logged: "
            f"`{tunings['ours']}`. baseline: `benchmarks/original_server.py`, the same app "
            f"running the model as the original project did; as logged: `{tunings['baseline']}`.",
            f"Start-up (process start to ready, started one after the other): ours "
            f"{startups['ours']:.0f} s, baseline {startups['baseline']:.0f} s.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="checkpoint directory to serve")
    parser.add_argument("--requests", type=int, default=200, help="answers per row (max)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per row (max)")
    parser.add_argument("--distinct", type=int, default=64, help="distinct payloads")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternating blocks per row (shared-machine noise)"
    )
    parser.add_argument(
        "--startup-timeout",
        type=float,
        default=600.0,
        help="seconds a server may take to get ready (ours exports to ONNX and checks it: about "
        "a minute at load 10 on 2 cores)",
    )
    parser.add_argument(
        "--dataset", help="dataset whose test split checks top-k agreement (default: training's)"
    )
    parser.add_argument("--out", default="docs/benchmarks/serve.md")
    parser.add_argument(
        "--checkpoint-note", default="", help="what the checkpoint is, for the report"
    )
    args = parser.parse_args(argv)
    return run_main(lambda: run(args), PROG)


if __name__ == "__main__":
    sys.exit(main())
