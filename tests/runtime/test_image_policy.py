"""One image policy: the policy's own answers, and the crawler, the build and the server giving
the same ones (a TIFF, a bomb, a cut file) through it."""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from crawler.media import ImageDownloader
from preprocess.image_stage import ImageJob, fetch_images
from preprocess.settings import ImageSettings
from runtime import image_policy
from serve.errors import RequestFailed
from serve.remote_images import decode_image


def encoded(image_format: str, size: tuple[int, int] = (40, 30), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 0).save(buffer, image_format)
    return buffer.getvalue()


JPEG = encoded("JPEG")
SAMPLES = {
    "tiff": (encoded("TIFF"), "not_an_image"),
    "html": (b"<html>Sorry, something went wrong</html>", "not_an_image"),
    "cut": (JPEG[: len(JPEG) // 2], "truncated"),
    "bomb": (encoded("PNG", (9000, 5000), "1"), "decompression_bomb"),
}


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "GIF", "WEBP", "BMP"])
def test_policy_takes_the_web_formats(image_format: str) -> None:
    assert image_policy.accept(encoded(image_format)).size == (40, 30)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_policy_names_each_refusal(name: str) -> None:
    data, reason = SAMPLES[name]
    with pytest.raises(image_policy.ImageRefused) as refused:
        image_policy.accept(data)
    assert refused.value.reason == reason


def test_stage_limits_may_only_be_stricter() -> None:
    assert image_policy.byte_limit(None) == image_policy.MAX_BYTES
    assert image_policy.byte_limit(1000) == 1000
    assert image_policy.byte_limit(10**12) == image_policy.MAX_BYTES
    assert image_policy.pixel_limit(10**12) == image_policy.MAX_PIXELS
    with pytest.raises(image_policy.ImageRefused, match="larger than 100 bytes") as refused:
        image_policy.accept(JPEG, max_bytes=100)
    assert refused.value.reason == "too_large"
    with pytest.raises(image_policy.ImageRefused, match="over the limit of 1000"):
        image_policy.accept(JPEG, max_pixels=1000)


def test_header_checks_decode_no_pixel() -> None:
    image = image_policy.open_image(JPEG)
    assert image.format == "JPEG" and image.tile  # tiles left to decode: no pixel read yet


@pytest.fixture(scope="module")
def sample_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A plain static file server holding a good JPEG and every sample."""
    folder = tmp_path_factory.mktemp("samples")
    (folder / "ok").write_bytes(JPEG)
    for name, (data, _) in SAMPLES.items():
        (folder / name).write_bytes(data)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_crawler_downloads_follow_the_policy(tmp_path: Path, sample_server: str) -> None:
    downloader = ImageDownloader(tmp_path)
    for name in ("ok", *SAMPLES):
        path, reason = downloader.fetch({"shortcode": name, "image_url": f"{sample_server}/{name}"})
        assert reason == (None if name == "ok" else SAMPLES[name][1]), name
        assert (path is not None) == (name == "ok")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_dataset_build_follows_the_policy(tmp_path: Path) -> None:
    jobs = []
    for name, data in [("ok", JPEG), *((n, d) for n, (d, _) in SAMPLES.items())]:
        (tmp_path / name).write_bytes(data)
        jobs.append(ImageJob(name, None, str(tmp_path / name)))
    results = fetch_images(jobs, tmp_path / "cache", ImageSettings(processes=0), progress=False)
    assert results["ok"].ok
    assert {n: results[n].reason for n in SAMPLES} == {n: r for n, (_, r) in SAMPLES.items()}


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_server_follows_the_policy() -> None:
    assert decode_image(JPEG, image_policy.MAX_PIXELS).mode == "RGB"
    codes = {"truncated": "corrupt_image"}
    for data, reason in SAMPLES.values():
        with pytest.raises(RequestFailed) as failed:
            decode_image(data, image_policy.MAX_PIXELS)
        assert failed.value.status == 400
        assert failed.value.reason == codes.get(reason, reason)
