"""Images/s of our image stage against img2dataset, on the same local URL list in the same run.

Both tools download the same N photo-like JPEGs (Instagram-like sizes, 640x480 to 1080x1350)
from one local HTTP server (Python's ``http.server`` in its own process, HTTP/1.1), and write
RGB JPEGs whose shorter side is 256 at quality 90 with the same number of download threads.
Ours also fully verifies each image, computes the content address, the pixel hash and the
perceptual hash; img2dataset computes the SHA-256 of each download.

Each tool runs as its own process, timed from launch to exit (imports included for both); its
CPU time and peak resident memory come from ``os.wait4``. img2dataset is installed by this
script into its own virtual environment (``--venv``) on first use. It has no per-host limit,
so ours runs with ``per_host`` equal to the thread count: the same concurrency against the one
local host. Rounds alternate the order of the tools; the best run of each is reported (a shared
machine only ever slows a run down), followed by the speed-up within each round.

    .venv/bin/python benchmarks/images.py --count 2000 --rounds 3

``benchmarks/images.py ours --urls FILE --cache DIR`` is the child that times our stage alone.
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
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from preprocess.image_stage import ImageJob, fetch_images
from preprocess.settings import ImageSettings
from runtime.errors import PipelineError, UsageError, run_main

#: Shapes Instagram serves: portrait 4:5, square, landscape 1.91:1, and older/smaller uploads.
PHOTO_SIZES = ((1080, 1350), (1080, 1080), (1080, 566), (750, 938), (640, 480), (828, 1035))
SOURCE_QUALITY = 85
IMAGE_SIZE = 256
QUALITY = 90
PEER_PACKAGE = "img2dataset"


@dataclass
class Measurement:
    tool: str
    settings: str
    ok: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float

    @property
    def per_second(self) -> float:
        return self.ok / self.wall_s

    @property
    def cpu_ms_per_image(self) -> float:
        return 1000 * self.cpu_s / self.ok


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_main(lambda: args.func(args), "benchmarks/images.py")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="images in the URL list")
    parser.add_argument("--workers", type=int, default=16, help="download threads of each tool")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each tool; best is kept")
    parser.add_argument(
        "--peer-processes",
        type=int,
        nargs="+",
        default=[1, 2],
        help="img2dataset processes_count values to measure",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-output/images"))
    parser.add_argument(
        "--venv",
        type=Path,
        default=Path("bench-output/venvs/img2dataset"),
        help="virtual environment img2dataset is installed into",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=compare)
    child = parser.add_subparsers().add_parser("ours", help="run our stage once (the timed child)")
    child.add_argument("--urls", type=Path, required=True)
    child.add_argument("--cache", type=Path, required=True)
    child.add_argument("--workers", type=int, default=16)
    child.add_argument("--per-host", type=int, default=16)
    child.set_defaults(func=run_ours)
    return parser.parse_args(argv)


def compare(args: argparse.Namespace) -> int:
    if min(args.count, args.rounds, args.workers, *args.peer_processes) < 1:
        raise UsageError("--count, --rounds, --workers and --peer-processes must be positive")
    names = generate_photos(args.out / "source", args.count, args.seed)
    peer = install_peer(args.venv)
    load_before = os.getloadavg()
    with local_server(args.out / "source") as base_url:
        url_file = args.out / "urls.txt"
        url_file.write_text("".join(f"{base_url}/{name}\n" for name in names), encoding="utf-8")
        rounds: list[list[Measurement]] = []
        for round_number in range(args.rounds):
            contenders = [lambda: measure_ours(args, url_file)]
            contenders += [
                lambda p=processes: measure_peer(args, peer, url_file, p)
                for processes in args.peer_processes
            ]
            if round_number % 2:
                contenders.reverse()
            rounds.append([contender() for contender in contenders])
        warm = measure_ours(args, url_file, fresh_cache=False)
    print(report(rounds, warm, args, load_before))
    return 0


def measure_ours(args: argparse.Namespace, url_file: Path, fresh_cache: bool = True) -> Measurement:
    cache = args.out / "ours-cache"
    if fresh_cache:
        shutil.rmtree(cache, ignore_errors=True)
    command = [
        sys.executable,
        __file__,
        "ours",
        "--urls",
        str(url_file),
        "--cache",
        str(cache),
        "--workers",
        str(args.workers),
        "--per-host",
        str(args.workers),
    ]
    wall_s, cpu_s, rss_mb, output = timed(command, args.out / "ours.log")
    outcome = json.loads(output.splitlines()[-1])
    check_outputs(sorted((cache / "images").glob("*/*.jpg")), outcome["ok"])
    processes = ImageSettings().converter_processes
    label = (
        "cached re-run"
        if not fresh_cache
        else (
            f"{args.workers} threads + {processes} converter process{'es' if processes > 1 else ''}"
        )
    )
    return Measurement("ours", label, outcome["ok"], wall_s, cpu_s, rss_mb)


def measure_peer(
    args: argparse.Namespace, peer: Path, url_file: Path, processes: int
) -> Measurement:
    out = args.out / "img2dataset-out"
    shutil.rmtree(out, ignore_errors=True)
    per_shard = -(-args.count // processes)
    command = [
        str(peer),
        "--url_list",
        str(url_file),
        "--input_format",
        "txt",
        "--output_folder",
        str(out),
        "--output_format",
        "files",
        "--image_size",
        str(IMAGE_SIZE),
        "--resize_mode",
        "keep_ratio",
        "--resize_only_if_bigger",
        "True",
        "--encode_format",
        "jpg",
        "--encode_quality",
        str(QUALITY),
        "--processes_count",
        str(processes),
        "--thread_count",
        str(args.workers),
        "--number_sample_per_shard",
        str(per_shard),
        "--timeout",
        "10",
        "--retries",
        "0",
        "--extract_exif",
        "False",
        "--compute_hash",
        "sha256",
        "--enable_wandb",
        "False",
    ]
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"}  # no update check over the network
    wall_s, cpu_s, rss_mb, _ = timed(command, args.out / "img2dataset.log", env)
    saved = sorted(out.glob("*/*.jpg"))
    check_outputs(saved, len(saved))
    label = f"{args.workers} threads x {processes} process{'es' if processes > 1 else ''}"
    return Measurement("img2dataset", label, len(saved), wall_s, cpu_s, rss_mb)


def run_ours(args: argparse.Namespace) -> int:
    """The timed child: one cold (or warm) run of the stage; prints a JSON summary line."""
    urls = args.urls.read_text(encoding="utf-8").split()
    jobs = [ImageJob(key=str(number), url=url, local_path=None) for number, url in enumerate(urls)]
    settings = ImageSettings(workers=args.workers, per_host=args.per_host)
    results = fetch_images(jobs, args.cache, settings, progress=False)
    failures = Counter(result.reason for result in results.values() if not result.ok)
    print(json.dumps({"ok": len(results) - sum(failures.values()), "failures": failures}))
    return 0


def timed(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds, peak RSS in MB and stdout of a command (stderr to ``log``).

    ``os.wait4`` reports the resources of the child and the processes it reaped (CPU summed,
    RSS of the largest), which ``subprocess`` would otherwise discard. CPU seconds per image
    are the figure a busy shared machine disturbs least.
    """
    with open(log, "w", encoding="utf-8") as errors, tempfile.TemporaryFile("w+") as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=output, stderr=errors, env=env, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        wall_s = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        stdout = output.read()
    if process.returncode:
        raise PipelineError(f"{Path(command[0]).name} exited {process.returncode}; see {log}")
    return wall_s, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout


def check_outputs(paths: list[Path], expected: int) -> None:
    """Same output for both tools: every saved image is a JPEG with shorter side 256."""
    if len(paths) != expected:
        raise PipelineError(f"expected {expected} saved images, found {len(paths)}")
    for path in paths:
        with Image.open(path) as image:
            if image.format != "JPEG" or min(image.size) != IMAGE_SIZE:
                raise PipelineError(f"{path}: {image.format} {image.size}, not a 256px JPEG")


def install_peer(venv: Path) -> Path:
    """img2dataset's console script, installed into its own venv on first use."""
    script = venv / "bin" / "img2dataset"
    if not script.exists():
        print(f"installing {PEER_PACKAGE} into {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", PEER_PACKAGE], check=True)
    return script


@contextmanager
def local_server(directory: Path) -> Iterator[str]:
    """``http.server`` (threaded, HTTP/1.1 keep-alive) in its own process, so serving does not
    compete with either tool for a Python interpreter lock."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            "--protocol",
            "HTTP/1.1",
            "--bind",
            "127.0.0.1",
            "--directory",
            str(directory),
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def _wait_for_port(port: int, patience_s: float = 15.0) -> None:
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise PipelineError(f"the local image server did not start on port {port}")


def generate_photos(directory: Path, count: int, seed: int) -> list[str]:
    """``count`` distinct photo-like JPEGs (reused when already there); returns file names.

    Soft colour fields, blurred shapes, mid-frequency texture and sensor-like grain give JPEG
    sizes close to real photos (about 60 KB at 640x480 to 250 KB at 1080x1350); flat
    synthetic images would make decoding unrealistically cheap.
    """
    names = [f"{number:06d}.jpg" for number in range(count)]
    missing = [number for number, name in enumerate(names) if not (directory / name).exists()]
    if missing:
        directory.mkdir(parents=True, exist_ok=True)
        print(f"generating {len(missing)} photos in {directory} ...", file=sys.stderr)
        with ProcessPoolExecutor(os.cpu_count()) as pool:
            tasks = [(directory / names[number], seed * 1_000_003 + number) for number in missing]
            list(pool.map(_write_photo, *zip(*tasks, strict=True), chunksize=16))
    return names


def _write_photo(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    width, height = PHOTO_SIZES[seed % len(PHOTO_SIZES)]
    colours = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    picture = Image.fromarray(colours).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(picture)
    for _ in range(rng.integers(5, 15)):
        x, y, radius = rng.integers(0, width), rng.integers(0, height), rng.integers(20, 250)
        draw.ellipse(
            (x - radius, y - radius, x + radius, y + radius),
            fill=tuple(int(c) for c in rng.integers(0, 256, 3)),
        )
    base = np.asarray(picture.filter(ImageFilter.GaussianBlur(3)), dtype=np.float32)
    texture = rng.normal(0, rng.uniform(6, 14), (height // 3 + 1, width // 3 + 1, 1))
    texture = np.repeat(np.repeat(texture, 3, axis=0), 3, axis=1)[:height, :width]
    grain = rng.normal(0, 3, (height, width, 1))
    pixels = (base + texture + grain).clip(0, 255).astype(np.uint8)
    tmp = path.with_suffix(".tmp")
    Image.fromarray(pixels).save(tmp, "JPEG", quality=SOURCE_QUALITY)
    tmp.replace(path)


def best_runs(rounds: list[list[Measurement]]) -> list[Measurement]:
    best: dict[tuple[str, str], Measurement] = {}
    for run in (run for measured in rounds for run in measured):
        key = (run.tool, run.settings)
        if key not in best or run.per_second > best[key].per_second:
            best[key] = run
    return list(best.values())


def ours_and_best_peer(runs: list[Measurement]) -> tuple[Measurement, Measurement]:
    ours = next(run for run in runs if run.tool == "ours")
    peer = max((run for run in runs if run.tool != "ours"), key=lambda run: run.per_second)
    return ours, peer


def speedup(runs: list[Measurement]) -> float:
    """Our images/s over the best img2dataset setting's, among ``runs``."""
    ours, peer = ours_and_best_peer(runs)
    return ours.per_second / peer.per_second


def report(
    rounds: list[list[Measurement]],
    warm: Measurement,
    args: argparse.Namespace,
    load_before: tuple[float, float, float],
) -> str:
    runs = best_runs(rounds)
    ours, peer = ours_and_best_peer(runs)
    lines = [
        f"Machine: {_cpu_name()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; load average before: "
        + ", ".join(f"{value:.2f}" for value in load_before),
        f"{args.count} photo-like JPEGs over loopback HTTP, output shorter side {IMAGE_SIZE}, "
        f"JPEG quality {QUALITY}; best of {args.rounds} round(s).",
        "",
        "| tool | settings | images ok | wall s | images/s | CPU ms/image | peak RSS MB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {run.tool} | {run.settings} | {run.ok} | {run.wall_s:.1f} | {run.per_second:.1f} "
        f"| {run.cpu_ms_per_image:.1f} | {run.peak_rss_mb:.0f} |"
        for run in [*runs, warm]
    ]
    lines += [
        "",
        f"Ours / best img2dataset: {speedup(runs):.2f}x images/s, "
        f"{peer.cpu_ms_per_image / ours.cpu_ms_per_image:.2f}x less CPU per image; "
        "within each round: " + ", ".join(f"{speedup(measured):.2f}x" for measured in rounds),
    ]
    return "\n".join(lines)


def _cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
