"""The dataset directory in the tools researchers use: Hugging Face ``datasets``, webdataset, a
browser; and after the folder was moved. Built from real files with local images (no server)."""

from __future__ import annotations

import io
import json
import math
import shutil
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import webdataset
from PIL import Image, ImageDraw

from demo_site.generator import DemoCorpus
from preprocess.cli import main
from preprocess.report import ReportData, image_failures_section
from preprocess.writer import write_split
from train.data import PostDataset, load_dataset
from train.encoders import image_input

N_POSTS = 40
SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}
"""Our split names -> the names ``datasets.load_dataset`` gives the Parquet files by its own
file-name rules (the export keeps ours)."""


def _near_copy(jpeg: bytes) -> bytes:
    """The same picture with a small mark: other pixels, a perceptual hash a few bits away."""
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    ImageDraw.Draw(image).rectangle((2, 2, 9, 9), fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def build_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """posts.jsonl with local images, a near-duplicate image and one file that is no image,
    built into ``<root>/first/dataset``."""
    root = tmp_path_factory.mktemp("interop")
    corpus = DemoCorpus(seed=3, n_posts=N_POSTS, n_topics=3, n_owners=12)
    inputs = root / "inputs"
    inputs.mkdir()
    records = []
    for i in range(N_POSTS):
        post = corpus.post(i)
        (inputs / f"{i}.jpg").write_bytes(corpus.render_image(i))
        records.append(
            {"shortcode": post.shortcode, "caption": post.caption, "owner": post.owner}
            | {"image_path": f"{i}.jpg"}
        )
    near, broken = dict(records[0]), dict(records[1])
    (inputs / "near.jpg").write_bytes(_near_copy(corpus.render_image(0)))
    near.update(
        shortcode="NEARCOPY",
        owner="copycat",
        caption=near["caption"] + " again",
        image_path="near.jpg",
    )
    (inputs / "broken.jpg").write_text("<html>not an image</html>", "utf-8")
    broken.update(
        shortcode="BROKEN",
        owner="someone",
        caption=broken["caption"] + " too",
        image_path="broken.jpg",
    )
    lines = [json.dumps(r, ensure_ascii=False) for r in [*records, near, broken]]
    (inputs / "posts.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    out = root / "first" / "dataset"
    args = ["build", "--input", str(inputs / "posts.jsonl"), "--out", str(out), "-q"]
    args += ["--langid-backend", "fasttext", "--min-count", "2", "--keep-und"]
    assert main(args) == 0
    return root


@pytest.fixture(scope="module")
def moved(build_root: Path) -> Path:
    """The dataset moved to another folder, its image cache and inputs deleted."""
    target = build_root / "elsewhere" / "copied-dataset"
    target.parent.mkdir()
    shutil.move(build_root / "first" / "dataset", target)
    shutil.rmtree(build_root / "first")
    shutil.rmtree(build_root / "inputs")
    return target


def test_no_file_of_the_dataset_records_an_absolute_path(build_root: Path, moved: Path) -> None:
    for path in moved.rglob("*"):
        if path.is_file():
            assert str(build_root).encode() not in path.read_bytes(), path
    manifest = json.loads((moved / "manifest.json").read_text("utf-8"))
    assert manifest["config"]["inputs"] == ["posts.jsonl"]
    assert [i["name"] for i in manifest["inputs"]] == ["posts.jsonl"]


def test_hugging_face_datasets_reads_names_and_images(
    moved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # images must not be looked up from the working directory
    loaded = datasets.load_dataset("parquet", data_dir=str(moved), cache_dir=str(tmp_path))
    labels = (moved / "labels.txt").read_text("utf-8").split()
    assert set(loaded) == set(SPLIT_NAMES.values())
    train = loaded["train"]
    assert isinstance(train.features["labels"].feature, datasets.ClassLabel)
    assert train.features["labels"].feature.names == labels
    assert isinstance(train.features["image"], datasets.Image)
    for split, name in SPLIT_NAMES.items():
        table = pq.read_table(moved / f"{split}.parquet")
        assert loaded[name]["shortcode"] == table.column("shortcode").to_pylist()
    row = train[0]
    assert isinstance(row["image"], Image.Image) and row["image"].size[0] > 0
    names = train.features["labels"].feature.int2str(row["labels"])
    assert set(names) <= set(row["hashtags"])
    from_parquet = datasets.Dataset.from_parquet(
        str(moved / "test.parquet"), cache_dir=str(tmp_path)
    )
    assert from_parquet.features == train.features


def test_training_loader_reads_the_moved_dataset(moved: Path) -> None:
    labels, frames = load_dataset(moved)
    train = frames["train"]
    assert train["image"].map(type).eq(str).all()  # the path, not the embedded bytes
    item = PostDataset(train, moved, len(labels), image=image_input("vgg16", 32))[0]
    assert item["pixels"].shape == (3, 32, 32)
    assert item["targets"].sum() == len(train["labels"][0])


def test_webdataset_export_has_fixed_size_shards(moved: Path, tmp_path: Path) -> None:
    out = tmp_path / "shards"
    assert (
        main(
            ["export", "--dataset", str(moved), "--out", str(out)]
            + ["--output-format", "webdataset", "--shard-size", "4", "-q"]
        )
        == 0
    )
    labels = (out / "labels.txt").read_text("utf-8").split()
    record = json.loads((out / "export.json").read_text("utf-8"))
    for split in SPLIT_NAMES:
        table = pq.read_table(moved / f"{split}.parquet")
        shards = sorted(out.glob(f"{split}-*.tar"))
        assert len(shards) == math.ceil(table.num_rows / 4)
        assert record["splits"][split] == {
            "samples": table.num_rows,
            "shards": [p.name for p in shards],
        }
        if not shards:
            continue
        reader = webdataset.WebDataset([str(p) for p in shards], shardshuffle=False)
        samples = list(reader.decode("pil"))
        assert [s["__key__"] for s in samples] == table.column("shortcode").to_pylist()
        first, row = samples[0], table.slice(0, 1).to_pylist()[0]
        assert isinstance(first["jpg"], Image.Image)
        assert first["txt"] == row["text"] == first["json"]["caption"]
        assert first["json"]["labels"] == [labels[i] for i in row["labels"]]
        per_shard = [
            sum(1 for _ in webdataset.WebDataset(str(p), shardshuffle=False)) for p in shards
        ]
        assert per_shard[:-1] == [4] * (len(shards) - 1)


def test_hf_export_loads_from_disk(moved: Path, tmp_path: Path) -> None:
    out = tmp_path / "hf"
    assert (
        main(["export", "--dataset", str(moved), "--out", str(out), "--output-format", "hf", "-q"])
        == 0
    )
    loaded = datasets.load_from_disk(str(out))
    assert set(loaded) == set(SPLIT_NAMES)
    assert (
        loaded["train"].features["labels"].feature.names
        == (moved / "labels.txt").read_text("utf-8").split()
    )
    assert isinstance(loaded["train"][0]["image"], Image.Image)
    assert not (out / ".cache").exists()


def test_hf_export_leaves_out_an_empty_split(moved: Path, tmp_path: Path) -> None:
    """``datasets`` cannot generate a split without rows; the others are still exported."""
    small = tmp_path / "small"
    shutil.copytree(moved, small)
    write_split(small / "test.parquet", [], (small / "labels.txt").read_text("utf-8").split())
    assert load_dataset(small)[1]["test"].empty
    assert (
        main(
            ["export", "--dataset", str(small), "--out", str(tmp_path / "hf")]
            + ["--output-format", "hf", "-q"]
        )
        == 0
    )
    assert set(datasets.load_from_disk(str(tmp_path / "hf"))) == {"train", "val"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "{tmp}/nowhere", "--output-format", "hf"], "does not exist"),
        (["--dataset", "{moved}", "--output-format", "parquet"], "output_format must be"),
        (
            ["--dataset", "{moved}", "--output-format", "hf", "--shard-size", "0"],
            "shard_size must be at least 1, got 0",
        ),
        (
            ["--dataset", "{moved}", "--output-format", "hf", "--set", "shard_size=many"],
            "shard_size must be an integer, got 'many'",
        ),
        (["--dataset", "{moved}"], "--output-format is required"),
        (
            ["--dataset", "{moved}", "--output-format", "webdataset", "--out", "{tmp}/file/x"],
            "is a file",
        ),
        (["--dataset", "{moved}", "--output-format", "hf", "--out", "{tmp}/notes"], "refusing to"),
        (["--dataset", "{moved}", "--output-format", "hf", "--out", "{moved}/hf"], "lies inside"),
    ],
)
def test_bad_export_input_is_one_line_and_leaves_nothing(
    moved: Path, tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    (tmp_path / "file").write_text("a file", "utf-8")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("precious", "utf-8")
    before = sorted(p.name for p in tmp_path.iterdir())
    args = [a.replace("{tmp}", str(tmp_path)).replace("{moved}", str(moved)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    assert main(["export", *args, "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hashtag-build-dataset: error: ")
    assert message in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "notes" / "keep.txt").read_text("utf-8") == "precious"


def test_a_damaged_split_file_is_one_line_before_anything_is_written(
    moved: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    damaged = tmp_path / "ds"
    shutil.copytree(moved, damaged)
    (damaged / "test.parquet").write_bytes(b"junk")
    out = tmp_path / "out"
    args = ["export", "--dataset", str(damaged), "--output-format", "webdataset", "--out", str(out)]
    assert main([*args, "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "test.parquet is damaged" in err[0] and "rebuild" in err[0]
    assert not out.exists()


def test_image_failures_are_left_out_when_there_are_none(moved: Path) -> None:
    stats = json.loads((moved / "stats.json").read_text("utf-8"))
    assert stats["image_failures"] == {"not_an_image": 1}
    data = ReportData({**stats, "image_failures": {}}, "now", {}, [])
    assert image_failures_section(data) is None


# the report in a real browser ------------------------------------------------------------------


@pytest.mark.browser
def test_report_shows_its_pictures_in_chromium(moved: Path, browser: object) -> None:
    """Opened from the moved folder: every image loads, from data URIs only."""
    browser.get((moved / "report.html").as_uri())
    images = browser.execute_script(
        "return [...document.images].map(i => ({src: i.src.slice(0, 16), cls: i.className,"
        " ok: i.complete && i.naturalWidth > 0, section: i.closest('section').id}))"
    )
    assert images and all(i["ok"] for i in images), [i for i in images if not i["ok"]]
    assert all(i["src"].startswith("data:image/") for i in images)
    charts = {i["section"] for i in images if i["cls"] == "chart"}
    assert {"funnel", "labels", "image-failures", "labels-per-post", "languages"} <= charts
    stats = json.loads((moved / "stats.json").read_text("utf-8"))
    thumbs = [i["section"] for i in images if i["cls"] == "thumb"]
    assert thumbs.count("gallery") == sum(min(8, n) for n in stats["splits"].values())
    assert thumbs.count("duplicates") == 2 * len(stats["duplicates"]) > 0
    assert {"same_image", "near_duplicate_image"} <= {d["reason"] for d in stats["duplicates"]}
    labels = (moved / "labels.txt").read_text("utf-8").split()
    rows = browser.execute_script("return document.querySelectorAll('#labels tr').length")
    assert rows == len(labels) + 1  # every label, not the most frequent few
