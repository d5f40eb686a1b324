"""DDP: ``torchrun --nproc-per-node 2 -m train`` on CPU (gloo) trains and writes one checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml


def test_two_cpu_processes_train_one_checkpoint(make_tiny_dataset, tiny_config, tmp_path):
    dataset = make_tiny_dataset(tmp_path / "ds", n_posts=48, n_labels=4)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config(epochs=2, feature_cache=str(tmp_path / "fc"))))
    run = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "train",
            "--dataset",
            str(dataset),
            "--out",
            str(run),
            "--config",
            str(config),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    events = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    train_events = [e for e in events if e["event"] == "train"]
    # 34 train posts, 2 ranks x batch 8: 2 full batches per rank per epoch (drop_last).
    assert [e["step"] for e in train_events] == [1, 2, 3, 4]
    assert sum(e["event"] == "val" for e in events) == 2  # rank 0 alone logs
    assert {"val", "test"} <= set(json.loads((run / "metrics.json").read_text()))
