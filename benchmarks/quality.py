"""Ranking quality: a training config against TF-IDF + logistic regression and popularity, over
several splits of one corpus.

    python -m benchmarks.quality --input ../shared/realdev/posts.jsonl --text-only \\
        --salts s0,s1,s2 --work /tmp/quality [--config configs/train_small.yaml] [--out FILE.md]

(As a module: run as a file, benchmarks/quality.py would shadow the ``train`` package.)

For each salt it runs the real console scripts, as a user would: ``hashtag-build-dataset build``
with ``--set splits.salt=SALT`` (so each salt draws another train/val/test split of the same
posts), then ``hashtag-train`` with the config, each timed. On the test split it reads the
model's, the TF-IDF + logistic regression baseline's (:mod:`train.baselines`, fit on the same
train split's model text) and the popularity baseline's figures from the run's metrics.json. It
prints one row per salt and model, then the means over the salts, as a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from train.data import load_dataset

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
METRICS = ("p@1", "p@5", "map")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, type=Path, help="raw posts (posts.jsonl)")
    parser.add_argument("--work", required=True, type=Path, help="folder for datasets and runs")
    parser.add_argument("--salts", default="s0,s1,s2", help="comma-separated split salts")
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "train_small.yaml")
    parser.add_argument("--text-only", action="store_true", help="build and train text only")
    parser.add_argument("--build-set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--train-set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep a salt's WORK/dataset-SALT and WORK/run-SALT (with metrics.json) if they exist",
    )
    args = parser.parse_args()

    rows, times = [], []
    for salt in args.salts.split(","):
        dataset, run = args.work / f"dataset-{salt}", args.work / f"run-{salt}"
        built = args.reuse and dataset.exists()
        build_s = None if built else _timed(_build_command(args, salt, dataset))
        trained = args.reuse and (run / "metrics.json").exists()
        train_s = None if trained else _timed(_train_command(args, dataset, run))
        times.append((salt, build_s, train_s, _sizes(dataset)))
        rows.extend((salt, name, values) for name, values in _scores(run).items())
        print(f"{salt}: build {_seconds(build_s)}, train {_seconds(train_s)}", flush=True)
    table = _table(rows, times, os.getloadavg()[0])
    print(table)
    if args.out:
        args.out.write_text(table + "\n", "utf-8")


def _build_command(args: argparse.Namespace, salt: str, dataset: Path) -> list[str]:
    command = [str(BIN / "hashtag-build-dataset"), "-q", "build", "--input", str(args.input)]
    command += ["--out", str(dataset), "--set", f"splits.salt={salt}"]
    command += ["--text-only"] if args.text_only else []
    return command + [flag for item in args.build_set for flag in ("--set", item)]


def _train_command(args: argparse.Namespace, dataset: Path, run: Path) -> list[str]:
    command = [str(BIN / "hashtag-train"), "-q", "--dataset", str(dataset), "--out", str(run)]
    command += ["--config", str(args.config)]
    command += ["--modality", "text"] if args.text_only else []
    return command + [flag for item in args.train_set for flag in ("--set", item)]


def _timed(command: list[str]) -> float:
    """Seconds ``command`` took; a failed stage ends the benchmark with its exit status (the
    stage has printed its own one-line error)."""
    started = time.monotonic()
    done = subprocess.run(command, check=False)
    if done.returncode:
        raise SystemExit(f"quality: {Path(command[0]).name} exited {done.returncode}")
    return time.monotonic() - started


def _sizes(dataset: Path) -> dict[str, int]:
    _, frames = load_dataset(dataset)
    return {split: len(frame) for split, frame in frames.items()}


def _scores(run: Path) -> dict[str, dict[str, float]]:
    """Test-split p@1, p@5 and mAP of the model, TF-IDF + LR and popularity: hashtag-train
    scores all three on the same test split and writes them to metrics.json."""
    metrics = json.loads((run / "metrics.json").read_text("utf-8"))
    baselines = metrics["baselines"]
    return {
        "model": {key: metrics["test"][key] for key in METRICS},
        "tfidf": {key: baselines["tfidf"]["test"][key] for key in METRICS},
        "popularity": {key: baselines["popularity"]["test"][key] for key in METRICS},
    }


def _table(rows: list, times: list, load: float) -> str:
    lines = ["| salt | model | p@1 | p@5 | mAP |", "| --- | --- | ---: | ---: | ---: |"]
    for salt, name, values in rows:
        lines.append(
            f"| {salt} | {name} | " + " | ".join(f"{values[m]:.3f}" for m in METRICS) + " |"
        )
    for name in dict.fromkeys(name for _, name, _ in rows):
        means = np.mean([[v[m] for m in METRICS] for _, n, v in rows if n == name], axis=0)
        spread = np.std([[v[m] for m in METRICS] for _, n, v in rows if n == name], axis=0)
        cells = " | ".join(
            f"**{mean:.3f}** ± {sd:.3f}" for mean, sd in zip(means, spread, strict=True)
        )
        lines.append(f"| mean | {name} | {cells} |")
    lines += [
        "",
        "| salt | train / val / test posts | build | train |",
        "| --- | --- | ---: | ---: |",
    ]
    for salt, build_s, train_s, sizes in times:
        split_sizes = " / ".join(str(sizes[s]) for s in ("train", "val", "test"))
        lines.append(f"| {salt} | {split_sizes} | {_seconds(build_s)} | {_seconds(train_s)} |")
    lines.append(f"\nload average at the end: {load:.1f}")
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "reused" if value is None else f"{value:.0f} s"


if __name__ == "__main__":
    main()
