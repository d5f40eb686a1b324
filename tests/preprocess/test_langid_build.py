"""The build's language stage with the caption backend: funnel reasons, --keep-mixed, the prior,
and the report's posts-dropped-per-decision section (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from preprocess.cli import main

CAPTIONS = {
    "so tireddddd #mood": "en",
    "happy bday sis <3 #family": "en",
    "repost @someone #mood": "en",
    "Happy Diwali :) #family": "en",
    "new drop from @brand!!! #mood": "en",
    "mahal kita #family": "tl",
    "asante sana #mood": "sw",
    "hyvää huomenta #family": "fi",
    "ich bin so tired of this #mood": "mixed",
    "kain tayo guys, so hungry #family": "mixed",
    "😍😍😍 #mood": "und",
}


@pytest.fixture(scope="module")
def posts_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CSV of the captions above, each with its own noise image (no near duplicates)."""
    root = tmp_path_factory.mktemp("captions")
    rows = ["caption,image,owner"]
    for index, caption in enumerate(CAPTIONS):
        pixels = np.random.default_rng(index).integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / f"{index}.jpg", quality=90)
        rows.append(f'"{caption}",{index}.jpg,owner{index}')
    (root / "posts.csv").write_text("\n".join(rows) + "\n", "utf-8")
    return root / "posts.csv"


def _build(posts_csv: Path, out: Path, *extra: str) -> dict:
    args = ["build", "--input", str(posts_csv), "--out", str(out), "--min-count", "1", "-q"]
    assert main([*args, *extra]) == 0
    return json.loads((out / "stats.json").read_text("utf-8"))


def _language_stage(stats: dict) -> dict:
    return next(stage for stage in stats["funnel"] if stage["stage"] == "language")


@pytest.fixture(scope="module")
def default_build(posts_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("default") / "dataset"
    _build(posts_csv, out)
    return out


def test_language_stage_keeps_short_english_and_names_each_drop(default_build: Path) -> None:
    stats = json.loads((default_build / "stats.json").read_text("utf-8"))
    stage = _language_stage(stats)
    assert stage["posts"] == 5
    assert stage["dropped"] == {"other_language": 3, "mixed": 2, "undetermined": 1}
    drops = stats["language_drops"]
    assert drops["mixed"]["posts"] == 2
    assert sorted(drops["mixed"]["sample"]) == sorted(
        c for c, lang in CAPTIONS.items() if lang == "mixed"
    )
    assert drops["und"] == {"posts": 1, "sample": ["😍😍😍 #mood"]}
    assert sum(entry["posts"] for entry in drops.values()) == 6
    manifest = json.loads((default_build / "manifest.json").read_text("utf-8"))
    assert manifest["config"]["language"]["backend"] == "caption"
    assert manifest["config"]["language"]["prior"] == {"en": 0.9}


def test_report_shows_posts_dropped_per_decision_with_samples(default_build: Path) -> None:
    html = (default_build / "report.html").read_text("utf-8")
    assert "Posts dropped by language decision" in html
    assert "<td>mixed</td>" in html and "ich bin so tired of this #mood" in html
    assert "asante sana #mood" in html


def test_keep_mixed_keeps_code_mixed_captions(posts_csv: Path, tmp_path: Path) -> None:
    stats = _build(posts_csv, tmp_path / "dataset", "--keep-mixed")
    stage = _language_stage(stats)
    assert stage["posts"] == 7
    assert "mixed" not in stage["dropped"]
    assert stats["language_mix"]["mixed"] == 2


def test_the_prior_is_a_config_key(posts_csv: Path, tmp_path: Path) -> None:
    stats = _build(posts_csv, tmp_path / "dataset", "--set", "language.prior={en: 0.5}")
    assert _language_stage(stats)["posts"] < 5  # an even prior loses borderline English


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("language.prior={en: 1.5}", "language.prior.en must be below 1, got 1.5"),
        ("language.prior=[en]", "language.prior must be a mapping, got ['en']"),
        ("language.keep_mixed=maybe", "language.keep_mixed must be true or false"),
    ],
)
def test_bad_language_settings_are_one_line_and_exit_2(
    posts_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    setting: str,
    message: str,
) -> None:
    args = ["build", "--input", str(posts_csv), "--out", str(tmp_path / "d"), "-q"]
    assert main([*args, "--set", setting]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"hashtag-build-dataset: error: {message}")
    assert not (tmp_path / "d").exists()
