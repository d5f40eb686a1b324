"""``hashtag-build-dataset build --text-only``: captions whose pictures are gone still build.

The fixture is shaped like ../shared/realdev/posts.jsonl (``image_url`` null, ``image_path`` of a
picture that no longer exists, owners and times), with captions written here for one rule: a
text-only build fetches nothing and drops no post for its missing image.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from preprocess.cli import main
from preprocess.funnel import TEXT_ONLY_NOTE
from preprocess.writer import PARQUET_SCHEMA

REALDEV = Path(__file__).resolve().parents[3] / "shared" / "realdev" / "posts.jsonl"
SUBJECTS = ["The sunset over the harbour", "My morning coffee", "A long walk in the park"]
ENDINGS = ["was just beautiful today", "made me smile again", "is exactly what I needed"]
TAGS = ["sunset", "coffee", "travel", "food"]


def write_posts(path: Path, n_posts: int = 36) -> Path:
    """Contract 1 records without a usable picture, as an expired dump has them."""
    with path.open("w", encoding="utf-8") as handle:
        for number in range(n_posts):
            tags = [TAGS[number % 4], TAGS[(number + 1) % 4]]
            caption = (
                f"{SUBJECTS[number % 3]} {ENDINGS[number // 3 % 3]} number {number}. "
                + " ".join(f"#{tag}" for tag in tags)
            )
            record = {
                "shortcode": f"x{number:04d}",
                "url": "",
                "caption": caption,
                "hashtags": tags,
                "image_url": None,
                "source": "file:fixture",
                "crawled_at": "2026-12-06T00:00:00Z",
                "owner": f"user{number % 6}",
                "taken_at": "2020-01-01T00:00:00Z",
            }
            if number % 4 == 0:
                record["image_path"] = f"images/{record['shortcode']}.jpg"  # no such file
            handle.write(json.dumps(record) + "\n")
    return path


def build(posts: Path, out: Path, *extra: str) -> int:
    return main(
        ["build", "--input", str(posts), "--out", str(out), "--min-count", "2", "-q", *extra]
    )


@pytest.fixture(scope="module")
def posts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_posts(tmp_path_factory.mktemp("text-only") / "posts.jsonl")


def test_text_only_build_keeps_posts_without_pictures(
    posts: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "dataset"
    assert build(posts, out, "--text-only", "--split-by", "owner") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == [
        "read",
        "parsed",
        "deduped",
        "language",
        "labelled",
    ]
    assert lines[-1] == TEXT_ONLY_NOTE
    assert not (out / "images").exists()
    assert not (tmp_path / "dataset.image-cache").exists()  # nothing fetched, no cache made
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["text_only"] is True and manifest["config"]["text_only"] is True
    stats = json.loads((out / "stats.json").read_text())
    assert stats["text_only"] is True
    assert [stage["stage"] for stage in stats["funnel"]][-1] == "labelled"
    owners: dict[str, str] = {}
    rows = 0
    for split in ("train", "val", "test"):
        table = pq.read_table(out / f"{split}.parquet")
        assert table.schema.names == PARQUET_SCHEMA.names  # the same columns as with images
        assert set(table.column("image").to_pylist()) <= {None}
        assert set(table.column("image_sha256").to_pylist()) <= {None}
        for owner in table.column("owner").to_pylist():
            assert owners.setdefault(owner, split) == split  # --split-by owner still holds
        rows += table.num_rows
    assert rows == manifest["counts"]["labelled"] == 36
    assert "Text-only dataset" in (out / "report.html").read_text()


def test_without_text_only_the_same_posts_are_missing_images(
    posts: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The flag is what keeps them: an image build rejects every post at parse."""
    assert build(posts, tmp_path / "dataset") == 2
    assert "missing_image: 36" in capsys.readouterr().err


def test_text_only_csv_needs_no_image_column(tmp_path: Path) -> None:
    rows = ["caption,owner"] + [
        f'"{SUBJECTS[n % 3]} {ENDINGS[n // 3 % 3]} {n} #{TAGS[n % 4]} #{TAGS[(n + 1) % 4]}",u{n}'
        for n in range(24)
    ]
    (tmp_path / "posts.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "dataset"
    assert build(tmp_path / "posts.csv", out, "--text-only") == 0
    assert json.loads((out / "manifest.json").read_text())["counts"]["labelled"] == 24


def test_text_only_dataset_exports_without_jpg(posts: Path, tmp_path: Path) -> None:
    import tarfile

    out = tmp_path / "dataset"
    assert build(posts, out, "--text-only") == 0
    shards = tmp_path / "shards"
    export = [
        "export",
        "--dataset",
        str(out),
        "--out",
        str(shards),
        "--output-format",
        "webdataset",
    ]
    assert main([*export, "-q"]) == 0
    with tarfile.open(shards / "train-000000.tar") as tar:
        suffixes = {Path(name).suffix for name in tar.getnames()}
    assert suffixes == {".txt", ".json"}


@pytest.mark.slow
def test_realdev_builds_text_only(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The whole real corpus (14,367 posts, nearly all without a surviving picture)."""
    if not REALDEV.is_file():
        pytest.skip(f"{REALDEV} is absent (the shared realdev corpus beside the repository)")
    out = tmp_path / "realdev"
    assert main(["build", "--input", str(REALDEV), "--text-only", "--out", str(out), "-q"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == TEXT_ONLY_NOTE
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["text_only"] is True
    assert manifest["num_labels"] == 100
    assert sum(manifest["splits"].values()) == manifest["counts"]["labelled"] > 1000
