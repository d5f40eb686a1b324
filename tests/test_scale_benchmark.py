"""benchmarks/scale.py: one timed build + train run, refused before work on bad input.

The end-to-end test runs the real console scripts on a few posts written here (one rule: the
benchmark runs both stages and reports them), with a tiny random-init config instead of the
recommended one, so it takes seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from benchmarks import scale

TAGS = ["sunset", "coffee", "travel"]


def one_error_line(capsys: pytest.CaptureFixture) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    return lines[0]


def test_skipped_without_the_real_corpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(scale, "REALDEV_POSTS", tmp_path / "absent" / "posts.jsonl")
    assert scale.main(["--work", str(tmp_path / "work")]) == 0
    assert "skipped" in capsys.readouterr().out
    assert not (tmp_path / "work").exists()


def test_a_named_input_that_is_missing_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["--input", str(tmp_path / "posts.jsonl"), "--work", str(tmp_path / "work")]
    assert scale.main(argv) == 2
    assert "no such file" in one_error_line(capsys)
    assert not (tmp_path / "work").exists()


def test_a_used_work_folder_is_refused_before_work(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    posts = tmp_path / "posts.jsonl"
    posts.write_text("{}\n")
    work = tmp_path / "work"
    (work / "dataset").mkdir(parents=True)
    assert scale.main(["--input", str(posts), "--work", str(work)]) == 2
    assert "not a new or empty folder" in one_error_line(capsys)
    assert [path.name for path in work.iterdir()] == ["dataset"]


@pytest.mark.slow
def test_build_and_train_are_timed_as_one_run(tmp_path: Path, tiny_config) -> None:
    posts = tmp_path / "posts.jsonl"
    with posts.open("w", encoding="utf-8") as handle:
        for number in range(48):
            tag = TAGS[number % 3]
            record = {
                "shortcode": f"s{number:04d}",
                "url": "",
                "caption": f"What a lovely {tag} we had this morning, number {number} #{tag}",
                "hashtags": [tag],
                "image_url": None,
                "source": "file:fixture",
                "crawled_at": "2026-12-06T00:00:00Z",
                "owner": f"user{number % 8}",
            }
            handle.write(json.dumps(record) + "\n")
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config(epochs=1, modality="text")))
    report = tmp_path / "scale.md"
    argv = ["--input", str(posts), "--work", str(tmp_path / "work"), "--config", str(config)]
    assert scale.main([*argv, "--cold", "--out", str(report)]) == 0
    text = report.read_text("utf-8")
    assert "| build (text only) |" in text and "| train |" in text and "| **total** |" in text
    assert "goal <= 15 min" in text
    assert (tmp_path / "work" / "run" / "metrics.json").is_file()
