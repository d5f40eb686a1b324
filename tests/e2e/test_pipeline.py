"""The whole pipeline on a small demo corpus, through the same script as ``make demo``:
demo site -> crawl (real headless Chromium) -> build -> train -> evaluate -> serve -> ask."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_script_runs_every_stage_end_to_end(chromium_ready: None, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "demo.py"),
            "--out",
            str(out),
            "--posts",
            "480",
            "--tags",
            "4",
            "--train-set",
            "epochs=2",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    crawled = (out / "crawl" / "posts.jsonl").read_text("utf-8").splitlines()
    assert len(crawled) == 480
    assert len({json.loads(line)["shortcode"] for line in crawled}) == 480
    assert "requests per 1,000 posts" in result.stdout

    dataset = out / "dataset"
    labels = (dataset / "labels.txt").read_text("utf-8").split()
    train = pq.read_table(dataset / "train.parquet")
    assert train.num_rows > 200 and labels
    assert "image ok" in result.stdout  # the funnel

    metrics = json.loads((out / "run" / "metrics.json").read_text("utf-8"))
    for scores in (metrics["test"], metrics["baselines"]["popularity"]["test"]):
        assert all(0.0 <= scores[name] <= 1.0 for name in ("p@1", "p@5", "r@5", "map"))
    # the evaluate stage scored the test split and printed those figures beside the baseline's
    model, popularity = metrics["test"]["p@1"], metrics["baselines"]["popularity"]["test"]["p@1"]
    assert re.search(rf"^p@1\s+{model:.3f}\s+{popularity:.3f}", result.stdout, re.MULTILINE)

    assert "page shows:     #" in result.stdout  # the original project's GET /predict, HTML answer
    assert "POST /api/predict -> JSON" in result.stdout
    assert "Demo finished" in result.stdout
