"""Fixtures several stages share: the real captures, headless Chromium, tiny data and models.

Test modules never import each other or a helper module: what they share is a fixture here (or
in their stage's ``conftest.py``). A helper that takes arguments is a factory fixture: the
fixture returns the function, under the name the tests call it by.

The tiny dataset writes a Contract 2 dataset directory (docs/architecture.md) whose labels can be
learnt from both inputs: every label owns a caption word and an image colour. The tiny checkpoint
trains a randomly initialised tiny model on it for a few steps and returns the Contract 3
directory.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from demo_site.generator import DemoCorpus, media_path
from runtime.config import default_config
from runtime.records import PostRecord, make_record
from runtime.timestamps import timestamp_to_iso

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures" / "instagram"

# Every host name but the loopback fails to resolve: a page that needs a CDN stays blank.
NO_NETWORK = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


# real captures and the browser ---------------------------------------------------------------


@pytest.fixture(scope="session")
def instagram_fixtures() -> Path:
    """../shared/fixtures/instagram: the real captures, kept outside the repository."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(
            f"real Instagram captures not found at {SHARED_FIXTURES}: clone the project's "
            "shared/ folder beside the repository (../shared/fixtures/instagram)"
        )
    return SHARED_FIXTURES


@pytest.fixture(scope="session")
def chromium_ready() -> None:
    """Skip browser tests only where Chromium is not installed (``make test`` installs it)."""
    if not (shutil.which("chromium") or shutil.which("chromium-browser")) or not shutil.which(
        "chromedriver"
    ):
        pytest.skip("chromium + chromedriver not installed (make browser)")


@pytest.fixture(scope="module")
def browser(chromium_ready: None) -> Iterator[Any]:
    """One headless Chromium per test module, offline: the crawler's safe flags, a fresh profile,
    and no host name but 127.0.0.1 resolves, so a page that needs the internet shows it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from crawler.browser import OFFLINE_SAFE_FLAGS

    with tempfile.TemporaryDirectory(prefix="test-browser-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
        for flag in (*OFFLINE_SAFE_FLAGS, NO_NETWORK, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        try:
            yield driver
        finally:
            driver.quit()


# tiny learnable datasets and checkpoints (train's, serve's and the bad-input matrix's) ----------

PALETTE = [
    (220, 40, 40),
    (40, 180, 60),
    (40, 70, 220),
    (230, 200, 40),
    (160, 60, 200),
    (30, 200, 200),
    (250, 130, 20),
    (120, 120, 120),
    (250, 250, 250),
    (20, 20, 20),
]
FILLER = ["today", "with", "friends", "really", "nice", "the", "a", "time", "love", "so"]
SPLIT_SHARES = (("train", 0.7), ("val", 0.15), ("test", 0.15))

SCHEMA = pa.schema(
    [
        ("shortcode", pa.string()),
        ("text", pa.string()),
        ("hashtags", pa.list_(pa.string())),
        ("labels", pa.list_(pa.int32())),
        ("image", pa.string()),
        ("image_sha256", pa.string()),
        ("lang", pa.string()),
        ("lang_confidence", pa.float32()),
        ("owner", pa.string()),
        ("taken_at", pa.timestamp("us", tz="UTC")),
        ("weight", pa.float32()),
    ]
)


def label_name(index: int) -> str:
    """The name of label ``index`` in a tiny dataset's labels.txt."""
    return f"topic{index}"


def make_tiny_dataset(
    dataset_dir: str | Path,
    n_posts: int = 60,
    n_labels: int = 4,
    image_size: int = 32,
    seed: int = 0,
    text_only: bool = False,
) -> Path:
    """Write train/val/test parquet, labels.txt and images/ with label-dependent words and colours.

    Each post has one or two labels (label 0 most frequent, as labels.txt orders them); its caption
    holds the word ``wordJ`` of each label J among filler words, and its image is the mean colour
    of its labels plus noise. Hashtags include the label names and one non-label tag.
    ``text_only``: no images, ``image`` null, and the manifest says so (``--text-only`` builds).
    """
    root = Path(dataset_dir)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    popularity = 1.0 / (1.0 + 0.3 * np.arange(n_labels))
    popularity /= popularity.sum()
    rows = []
    for number in range(n_posts):
        count = 1 if n_labels == 1 or rng.random() < 0.6 else 2
        labels = sorted(rng.choice(n_labels, size=count, replace=False, p=popularity).tolist())
        words = [f"word{j}" for j in labels] + rng.choice(FILLER, size=3).tolist()
        rng.shuffle(words)
        pixels = _image_pixels(labels, image_size, rng)
        sha, relative = (None, None) if text_only else _write_image(root, pixels)
        rows.append(
            {
                "shortcode": f"P{seed}x{number:05d}",
                "text": " ".join(words),
                "hashtags": [label_name(j) for j in labels] + ["misc"],
                "labels": labels,
                "image": relative,
                "image_sha256": sha,
                "lang": "en",
                "lang_confidence": 0.99,
                "owner": f"user{number % 7}",
                "taken_at": None,
                "weight": 1.0,
            }
        )
    start = 0
    for split, share in SPLIT_SHARES:
        end = n_posts if split == "test" else start + round(share * n_posts)
        write_split(root, split, rows[start:end])
        start = end
    (root / "labels.txt").write_text("".join(f"{label_name(j)}\n" for j in range(n_labels)))
    manifest = {"schema_version": 1, "fixture": True, "text_only": text_only}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def write_split(root: Path, split: str, rows: list[dict[str, Any]]) -> None:
    """One split's parquet file with the Contract 2 schema (rows may be empty)."""
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), root / f"{split}.parquet")


def _image_pixels(labels: list[int], size: int, rng: np.random.Generator) -> np.ndarray:
    colour = np.mean([PALETTE[j % len(PALETTE)] for j in labels], axis=0)
    noise = rng.normal(0, 12, size=(size, size, 3))
    return np.clip(colour + noise, 0, 255).astype(np.uint8)


def _write_image(root: Path, pixels: np.ndarray) -> tuple[str, str]:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    data = buffer.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    relative = f"images/{sha[:2]}/{sha}.jpg"
    (root / relative).parent.mkdir(parents=True, exist_ok=True)
    (root / relative).write_bytes(data)
    return sha, relative


def tiny_config(**overrides: Any) -> dict[str, Any]:
    """configs/train.yaml shrunk to a 2-layer, 64-wide random ALBERT and 32-pixel images."""
    config = default_config("train")
    config.update(
        text_init="random",
        image_init="random",
        random_tokenizer_vocab=200,
        random_text={
            "embedding_size": 32,
            "hidden_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 128,
        },
        image_size=32,
        max_seq_len=16,
        epochs=3,
        batch_size=8,
        head_lr=3e-3,
        warmup_ratio=0.0,
        patience=100,
        num_workers=0,
        device="cpu",
        log_every=1,
        eval_batch_size=16,
    )
    config.update(overrides)
    return config


def make_tiny_checkpoint(dataset_dir: str | Path, run_dir: str | Path, **overrides: Any) -> Path:
    """Train a tiny random-init model on ``dataset_dir`` into ``run_dir`` (a few steps, CPU).

    The feature cache goes beside ``run_dir`` so tests never touch the user's cache.
    """
    from train.loop import train
    from train.settings import TrainSettings

    run = Path(run_dir)
    overrides.setdefault("feature_cache", str(run.parent / "feature-cache"))
    settings = TrainSettings.model_validate(tiny_config(**overrides))
    train(settings, Path(dataset_dir), run, resume=False, progress=False)
    return run


def image_bytes(
    color: tuple[int, int, int] = PALETTE[0], size: int = 48, fmt: str = "JPEG"
) -> bytes:
    """A one-colour picture encoded as ``fmt`` (the colour of label 0 unless told)."""
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format=fmt)
    return buffer.getvalue()


def image_twins() -> dict[str, tuple[bytes, bytes]]:
    """Files a viewer turns or flattens, each with its twin: a PNG of what the viewer shows.

    ``exif6``: a portrait picture (a red band on top) stored as phones store it, a landscape
    JPEG frame with EXIF orientation 6; its twin is that decoded frame turned upright. ``rgba``:
    a PNG whose transparent pixels hold black, half transparent in a band; its twin is the
    picture on white. A twin has the very pixels its file shows, so a path that prepares
    pictures as the dataset build does scores the two the same.
    """
    rng = np.random.default_rng(7)
    upright = rng.integers(0, 80, size=(64, 48, 3), dtype=np.uint8)
    upright[:, :, 2] += np.linspace(60, 170, 64, dtype=np.uint8)[:, None]
    upright[:16] = (220, 40, 40)
    exif = Image.Exif()
    exif[0x0112] = 6  # the viewer turns the stored frame 90 degrees clockwise
    stored = _encoded(Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90), "JPEG", exif)
    shown = Image.open(io.BytesIO(stored)).transpose(Image.Transpose.ROTATE_270)
    pixels = rng.integers(0, 256, size=(48, 64, 4), dtype=np.uint8)
    pixels[:, :24, :] = 0  # transparent black, as editors save a cut-out
    pixels[:, 24:40, 3] = 128
    pixels[:, 40:, 3] = 255
    clear = Image.fromarray(pixels, "RGBA")
    on_white = Image.alpha_composite(Image.new("RGBA", clear.size, "white"), clear)
    return {
        "exif6": (stored, _encoded(shown, "PNG")),
        "rgba": (_encoded(clear, "PNG"), _encoded(on_white.convert("RGB"), "PNG")),
    }


def _encoded(image: Image.Image, fmt: str, exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **({"exif": exif} if exif is not None else {}))
    return buffer.getvalue()


# the helpers above, as factory fixtures under the names the tests call them by ------------------


@pytest.fixture(scope="session")
def palette() -> list[tuple[int, int, int]]:
    """The image colour of each tiny-dataset label (label j: ``palette[j]``)."""
    return PALETTE


@pytest.fixture(scope="session", name="label_name")
def label_name_fixture() -> Callable[[int], str]:
    return label_name


@pytest.fixture(scope="session", name="make_tiny_dataset")
def make_tiny_dataset_fixture() -> Callable[..., Path]:
    return make_tiny_dataset


@pytest.fixture(scope="session", name="write_split")
def write_split_fixture() -> Callable[[Path, str, list[dict[str, Any]]], None]:
    return write_split


@pytest.fixture(scope="session", name="tiny_config")
def tiny_config_fixture() -> Callable[..., dict[str, Any]]:
    return tiny_config


@pytest.fixture(scope="session", name="make_tiny_checkpoint")
def make_tiny_checkpoint_fixture() -> Callable[..., Path]:
    return make_tiny_checkpoint


@pytest.fixture(scope="session", name="image_bytes")
def image_bytes_fixture() -> Callable[..., bytes]:
    return image_bytes


@pytest.fixture(scope="session", name="image_twins")
def image_twins_fixture() -> dict[str, tuple[bytes, bytes]]:
    return image_twins()


@pytest.fixture(scope="session")
def build_app() -> Callable[..., Any]:
    """``build_app(predictor, **settings)``: the serve app over ``predictor`` with the settings."""
    from serve.app import create_app
    from serve.settings import ServeSettings

    def build(predictor: Any, **overrides: Any) -> Any:
        return create_app(ServeSettings(**overrides), predictor)

    return build


# small disks: full and read-only file systems ------------------------------------------------


class SmallDisk:
    """A tmpfs of a few KiB mounted on a folder of the test (root may mount one), so a command
    meets a really full disk; ``resize`` gives it room again, as freeing space would."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def resize(self, size: str) -> None:
        _mount("-o", f"remount,size={size}", self.folder)


def _mount(*args: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *map(str, args)], capture_output=True, text=True, check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[str], SmallDisk]]:
    """``small_disk(size)``: a new tmpfs of ``size`` (``"16k"``) under ``tmp_path``; skips
    where mounting is not permitted; every disk is unmounted after the test, whatever happened."""
    mounted: list[Path] = []

    def mount(size: str) -> SmallDisk:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        done = _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", folder)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
        mounted.append(folder)
        return SmallDisk(folder)

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["chattr", "-R", "-i", str(folder)], capture_output=True, check=False)
        subprocess.run(["umount", "--lazy", str(folder)], capture_output=True, check=False)


# the demo site's ground truth ------------------------------------------------------------------


def expected_record(corpus: DemoCorpus, i: int, base_url: str, source: str) -> PostRecord:
    """The Contract 1 record a perfect crawl of the demo site yields for post ``i`` of
    ``corpus`` (``crawled_at`` aside).

    Image URLs carry no query string here; served ones are signed with an expiry, so compare
    them by path.
    """
    post = corpus.post(i)
    base = base_url.rstrip("/")
    urls = [base + media_path(post.pk, n) for n in range(post.n_images)]
    return make_record(
        post.shortcode,
        post.caption,
        urls[0],
        source,
        base,
        post_id=post.pk,
        image_urls=urls if post.is_carousel else None,
        is_video=False,
        owner=post.owner,
        taken_at=timestamp_to_iso(post.taken_at),
        likes=post.likes,
        comments=post.comments,
        width=post.width,
        height=post.height,
    )


@pytest.fixture(scope="session", name="expected_record")
def expected_record_fixture() -> Callable[[DemoCorpus, int, str, str], PostRecord]:
    return expected_record
