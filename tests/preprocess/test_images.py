"""The image stage against a real HTTP server on 127.0.0.1 and real files."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from urllib3 import HTTPResponse

from preprocess import image_fetch
from preprocess.image_stage import ImageJob, ImageResult, fetch_images, link_into
from preprocess.settings import DatasetSettings, ImageSettings
from runtime.errors import run_main
from runtime.settings import validate

FAST_VALUES = {"timeout_s": 0.5, "retries": 1, "backoff_s": 0.01, "workers": 4, "per_host": 4}
FAST = ImageSettings(**FAST_VALUES)


def fast(**changes: Any) -> ImageSettings:
    """The fast test settings with ``changes``."""
    return ImageSettings(**{**FAST_VALUES, **changes})


Route = Callable[[BaseHTTPRequestHandler], None]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        server: _ImageServer = self.server  # type: ignore[assignment]
        server.hits[self.path] += 1
        route = server.routes.get(self.path)
        try:
            if route is None:
                respond(self, b"no such page", status=404, content_type="text/plain")
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeouts, size caps): expected in these tests

    def log_message(self, *args: object) -> None:
        pass


class _ImageServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


def respond(
    handler: BaseHTTPRequestHandler,
    body: bytes,
    status: int = 200,
    content_type: str = "image/jpeg",
    headers: dict[str, str] | None = None,
    send_length: bool = True,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    if send_length:
        handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def serving(body: bytes, **kwargs: object) -> Route:
    return lambda handler: respond(handler, body, **kwargs)  # type: ignore[arg-type]


class Gauge:
    """The most requests a set of routes had in hand at once (counted before responding)."""

    def __init__(self) -> None:
        self.now = self.most = 0
        self._lock = threading.Lock()

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            yield
        finally:
            with self._lock:
                self.now -= 1


def slow(seconds: float, body: bytes, gauge: Gauge | None = None) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        with gauge.held() if gauge else nullcontext():
            time.sleep(seconds)
        respond(handler, body)

    return route


def rate_limited_once(body: bytes) -> Route:
    calls = []

    def route(handler: BaseHTTPRequestHandler) -> None:
        calls.append(1)
        if len(calls) == 1:
            respond(
                handler,
                b"slow down",
                status=429,
                content_type="text/plain",
                headers={"Retry-After": "1"},
            )
        else:
            respond(handler, body)

    return route


@pytest.fixture(scope="module")
def image_server() -> Iterator[_ImageServer]:
    server = _ImageServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture()
def server(image_server: _ImageServer) -> _ImageServer:
    image_server.routes.clear()
    image_server.hits.clear()
    return image_server


def photo(size: tuple[int, int], mode: str = "RGB", seed: int = 0) -> Image.Image:
    """A smooth picture that differs by seed, so encoded sizes and hashes are realistic."""
    red = Image.linear_gradient("L").rotate(seed * 37 % 360).resize(size)
    green = Image.radial_gradient("L").resize(size)
    blue = Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90).resize(size)
    return Image.merge("RGB", (red, green, blue)).convert(mode)


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def job(key: str, url: str | None = None, local_path: Path | None = None) -> ImageJob:
    return ImageJob(key=key, url=url, local_path=None if local_path is None else str(local_path))


def assert_cached_jpeg(result: ImageResult, cache_dir: Path, shorter_side: int = 256) -> None:
    assert result.ok, result.reason
    assert result.path == f"images/{result.sha256[:2]}/{result.sha256}.jpg"
    assert hashlib.sha256((cache_dir / result.path).read_bytes()).hexdigest() == result.sha256
    image = Image.open(cache_dir / result.path)
    image.load()
    assert (image.format, image.mode) == ("JPEG", "RGB")
    assert min(image.size) == shorter_side
    assert image.size == (result.width, result.height)
    assert len(result.phash) == 16 and len(result.pixel_sha256) == 64


def test_common_formats_become_rgb_jpegs_with_shorter_side_256(server, tmp_path):
    transparent = photo((600, 400), "RGBA")
    transparent.putalpha(Image.new("L", transparent.size, 0))
    palette = photo((500, 700)).convert("P", palette=Image.Palette.ADAPTIVE)
    palette.info["transparency"] = 0
    bodies = {
        "/photo.jpg": encoded(photo((640, 480)), "JPEG", quality=85),
        "/tall.png": encoded(photo((300, 900), seed=1), "PNG"),
        "/clear.png": encoded(transparent, "PNG"),
        "/palette.png": encoded(palette, "PNG"),
        "/grey.jpg": encoded(photo((512, 512), "L"), "JPEG"),
        "/cmyk.jpg": encoded(photo((400, 600), "CMYK", seed=2), "JPEG"),
        "/anim.gif": encoded(photo((320, 320), seed=3).convert("P"), "GIF"),
        "/photo.webp": encoded(photo((800, 600), seed=4), "WEBP"),
    }
    for path, body in bodies.items():
        server.routes[path] = serving(body)

    results = fetch_images(
        [job(path, server.url(path)) for path in bodies], tmp_path, FAST, progress=False
    )

    assert list(results) == list(bodies)
    for result in results.values():
        assert_cached_jpeg(result, tmp_path)
    assert (results["/photo.jpg"].width, results["/photo.jpg"].height) == (341, 256)
    assert (results["/tall.png"].width, results["/tall.png"].height) == (256, 768)
    cleared = Image.open(tmp_path / results["/clear.png"].path).convert("RGB")
    assert all(channel > 245 for channel in cleared.getpixel((10, 10)))


def test_small_images_are_kept_at_their_size(server, tmp_path):
    server.routes["/small.png"] = serving(encoded(photo((200, 120)), "PNG"))

    result = fetch_images([job("a", server.url("/small.png"))], tmp_path, FAST, progress=False)["a"]

    assert_cached_jpeg(result, tmp_path, shorter_side=120)


def test_exif_orientation_is_applied(server, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: stored landscape, shown portrait
    server.routes["/rotated.jpg"] = serving(encoded(photo((600, 400)), "JPEG", exif=exif))

    result = fetch_images([job("a", server.url("/rotated.jpg"))], tmp_path, FAST, progress=False)[
        "a"
    ]

    assert_cached_jpeg(result, tmp_path)
    assert (result.width, result.height) == (256, 384)


@pytest.fixture(scope="module")
def bomb_png() -> bytes:
    """A real 20000x20000 PNG, small on disk because it is 1-bit and blank."""
    return encoded(Image.new("1", (20_000, 20_000)), "PNG", compress_level=1)


GOOD_JPEG = encoded(photo((640, 480)), "JPEG")


@pytest.mark.parametrize(
    ("route", "settings", "reason"),
    [
        (serving(b"<html><body>Sorry, something went wrong</body></html>"), {}, "not_an_image"),
        (serving(GOOD_JPEG[: len(GOOD_JPEG) * 2 // 3]), {}, "truncated"),
        ("bomb", {}, "decompression_bomb"),
        (serving(encoded(photo((300, 300)), "PNG")), {"max_pixels": 50_000}, "decompression_bomb"),
        (serving(b"gone", status=404, content_type="text/plain"), {}, "http_404"),
        (
            serving(b"<p>URL signature expired</p>", status=403, content_type="text/html"),
            {},
            "expired_signature",
        ),
        (serving(b"forbidden", status=403, content_type="text/plain"), {}, "http_403"),
        (serving(b"down", status=503, content_type="text/plain"), {}, "http_503"),
        (slow(3.0, GOOD_JPEG), {"timeout_s": 0.3}, "timeout"),
        (serving(GOOD_JPEG), {"max_bytes": 1000}, "too_large"),
        (serving(GOOD_JPEG, send_length=False), {"max_bytes": 1000}, "too_large"),
    ],
    ids=[
        "html-page",
        "truncated-jpeg",
        "20000x20000-png",
        "over-max-pixels",
        "404",
        "403-expired",
        "403",
        "503",
        "slow",
        "too-large",
        "too-large-streamed",
    ],
)
def test_bad_downloads_fail_with_a_named_reason(
    server, tmp_path, bomb_png, route, settings, reason
):
    server.routes["/x"] = serving(bomb_png, content_type="image/png") if route == "bomb" else route

    result = fetch_images([job("a", server.url("/x"))], tmp_path, fast(**settings), progress=False)[
        "a"
    ]

    assert (result.ok, result.reason, result.path) == (False, reason, None)


def test_unreachable_and_malformed_urls_fail_with_a_named_reason(server, tmp_path):
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    dead_port = closed.server_address[1]
    closed.server_close()
    jobs = [
        job("dead", f"http://127.0.0.1:{dead_port}/x.jpg"),
        job("ftp", "ftp://example/x.jpg"),
        job("none", None),
    ]

    results = fetch_images(jobs, tmp_path, FAST, progress=False)

    assert {key: r.reason for key, r in results.items()} == {
        "dead": "connection",
        "ftp": "bad_url",
        "none": "no_source",
    }


def test_retry_after_429_is_honoured_then_the_image_is_fetched(server, tmp_path):
    server.routes["/busy.jpg"] = rate_limited_once(GOOD_JPEG)

    result = fetch_images([job("a", server.url("/busy.jpg"))], tmp_path, FAST, progress=False)["a"]

    assert_cached_jpeg(result, tmp_path)
    assert server.hits["/busy.jpg"] == 2


def test_server_errors_are_retried_then_reported(server, tmp_path):
    server.routes["/down"] = serving(b"down", status=503, content_type="text/plain")

    result = fetch_images(
        [job("a", server.url("/down"))], tmp_path, fast(retries=2), progress=False
    )["a"]

    assert result.reason == "http_503"
    assert server.hits["/down"] == 3


def test_local_files_are_used_and_missing_ones_reported(tmp_path):
    picture = tmp_path / "in" / "post.png"
    picture.parent.mkdir()
    picture.write_bytes(encoded(photo((512, 300)), "PNG"))
    not_a_picture = tmp_path / "in" / "post.txt"
    not_a_picture.write_text("caption text", encoding="utf-8")
    jobs = [
        job("here", "http://127.0.0.1:9/never-asked.jpg", local_path=picture),
        job("gone", None, local_path=tmp_path / "in" / "absent.jpg"),
        job("text", None, local_path=not_a_picture),
        job("folder", None, local_path=tmp_path / "in"),
    ]

    results = fetch_images(jobs, tmp_path / "cache", FAST, progress=False)

    assert_cached_jpeg(results["here"], tmp_path / "cache")
    assert results["gone"].reason == "missing_file"
    assert results["text"].reason == "not_an_image"
    assert results["folder"].reason == "unreadable_file"


def test_local_file_over_the_byte_cap_is_too_large(tmp_path):
    picture = tmp_path / "big.png"
    picture.write_bytes(encoded(photo((512, 300)), "PNG"))

    result = fetch_images(
        [job("a", None, picture)], tmp_path / "cache", fast(max_bytes=1000), progress=False
    )["a"]

    assert (result.ok, result.reason) == (False, "too_large")


def test_second_run_reuses_the_cache_and_downloads_nothing(server, tmp_path):
    for number in range(3):
        server.routes[f"/{number}.jpg"] = serving(encoded(photo((400, 300), seed=number), "JPEG"))
    server.routes["/gone"] = serving(b"gone", status=404, content_type="text/plain")
    jobs = [job(f"p{number}", server.url(f"/{number}.jpg")) for number in range(3)]
    jobs.append(job("lost", server.url("/gone")))

    first = fetch_images(jobs, tmp_path, FAST, progress=False)
    hits_after_first = Counter(server.hits)
    second = fetch_images(jobs, tmp_path, FAST, progress=False)

    assert second == first
    assert (
        server.hits
        == hits_after_first
        == Counter({"/0.jpg": 1, "/1.jpg": 1, "/2.jpg": 1, "/gone": 1})
    )


def test_transient_failures_are_tried_again_on_the_next_run(server, tmp_path):
    server.routes["/flaky.jpg"] = serving(b"down", status=503, content_type="text/plain")
    jobs = [job("a", server.url("/flaky.jpg"))]
    assert fetch_images(jobs, tmp_path, FAST, progress=False)["a"].reason == "http_503"

    server.routes["/flaky.jpg"] = serving(GOOD_JPEG)
    result = fetch_images(jobs, tmp_path, FAST, progress=False)["a"]

    assert_cached_jpeg(result, tmp_path)


def test_cache_is_not_reused_across_image_sizes_or_after_pruning(server, tmp_path):
    server.routes["/a.jpg"] = serving(GOOD_JPEG)
    jobs = [job("a", server.url("/a.jpg"))]
    first = fetch_images(jobs, tmp_path, FAST, progress=False)["a"]

    smaller = fetch_images(jobs, tmp_path, fast(image_size=128), progress=False)["a"]
    (tmp_path / first.path).unlink()
    again = fetch_images(jobs, tmp_path, FAST, progress=False)["a"]

    assert_cached_jpeg(smaller, tmp_path, shorter_side=128)
    assert again == first
    assert (tmp_path / first.path).is_file()
    assert server.hits["/a.jpg"] == 3


def test_changed_local_file_is_processed_again(tmp_path):
    picture = tmp_path / "post.png"
    picture.write_bytes(encoded(photo((400, 400), seed=1), "PNG"))
    first = fetch_images([job("a", None, picture)], tmp_path / "cache", FAST, progress=False)["a"]

    picture.write_bytes(encoded(photo((400, 400), seed=2), "PNG"))
    second = fetch_images([job("a", None, picture)], tmp_path / "cache", FAST, progress=False)["a"]

    assert first.ok and second.ok and first.sha256 != second.sha256


def test_worker_processes_give_the_same_results_as_in_process_work(server, tmp_path):
    for n in range(6):
        server.routes[f"/p{n}.jpg"] = serving(encoded(photo((520, 390), seed=20 + n), "JPEG"))
    whole = encoded(photo((300, 300), seed=9), "JPEG")
    server.routes["/cut.jpg"] = serving(whole[: len(whole) // 2])
    jobs = [job(f"p{n}", server.url(f"/p{n}.jpg")) for n in range(6)]
    jobs.append(job("cut", server.url("/cut.jpg")))

    inline = fetch_images(jobs, tmp_path / "a", fast(processes=0), progress=False)
    pooled = fetch_images(jobs, tmp_path / "b", fast(processes=2), progress=False)

    assert inline == pooled
    assert pooled["cut"].reason == "truncated" and pooled["p0"].ok


def test_same_pixels_give_the_same_fingerprints(server, tmp_path):
    picture = photo((500, 400), seed=5)
    server.routes["/same.png"] = serving(encoded(picture, "PNG", compress_level=1))
    server.routes["/same.bmp"] = serving(encoded(picture, "BMP"))
    server.routes["/other.png"] = serving(encoded(photo((500, 400), seed=6), "PNG"))
    jobs = [job(name, server.url(f"/{name}")) for name in ("same.png", "same.bmp", "other.png")]

    results = fetch_images(jobs, tmp_path, FAST, progress=False)

    same_png, same_bmp, other = results.values()
    assert same_png.pixel_sha256 == same_bmp.pixel_sha256 != other.pixel_sha256
    assert same_png.phash == same_bmp.phash
    assert same_png.path == same_bmp.path


def test_jobs_sharing_a_url_download_it_once(server, tmp_path):
    server.routes["/shared.jpg"] = serving(GOOD_JPEG)
    jobs = [job("post1", server.url("/shared.jpg")), job("post2", server.url("/shared.jpg"))]

    results = fetch_images(jobs, tmp_path, FAST, progress=False)

    assert results["post1"].sha256 == results["post2"].sha256
    assert (results["post1"].key, results["post2"].key) == ("post1", "post2")
    assert server.hits["/shared.jpg"] == 1


def test_downloads_from_one_host_respect_the_per_host_limit(server, tmp_path):
    gauge = Gauge()
    for number in range(8):
        server.routes[f"/{number}.jpg"] = slow(0.2, GOOD_JPEG, gauge)
    jobs = [job(str(number), server.url(f"/{number}.jpg")) for number in range(8)]

    results = fetch_images(jobs, tmp_path, fast(workers=8, per_host=2), progress=False)

    assert all(result.ok for result in results.values())
    assert gauge.most <= 2


def test_link_into_hardlinks_the_cached_file_into_the_dataset(server, tmp_path):
    server.routes["/a.jpg"] = serving(GOOD_JPEG)
    result = fetch_images(
        [job("a", server.url("/a.jpg"))], tmp_path / "cache", FAST, progress=False
    )["a"]

    link_into(result, tmp_path / "cache", tmp_path / "dataset")
    link_into(result, tmp_path / "cache", tmp_path / "dataset")

    linked = tmp_path / "dataset" / result.path
    assert linked.read_bytes() == (tmp_path / "cache" / result.path).read_bytes()
    assert linked.stat().st_ino == (tmp_path / "cache" / result.path).stat().st_ino
    with pytest.raises(ValueError, match="no cached image"):
        link_into(ImageResult("b", ok=False, reason="http_404"), tmp_path, tmp_path / "dataset")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"image_szie": 256}, "unknown config key images.image_szie"),
        ({"workers": 0}, "images.workers must be at least 1, got 0"),
        ({"timeout_s": -1}, "images.timeout_s must be greater than 0, got -1"),
        ({"workers": "many"}, "images.workers must be an integer, got 'many'"),
        ({"retries": True}, "images.retries must be an integer, got True"),
        ({"processes": -1}, "images.processes must be null or at least 0, got -1"),
    ],
)
def test_bad_settings_are_one_line_usage_errors(capsys, settings, message):
    code = run_main(lambda: validate(DatasetSettings, {"images": settings}), "prog")

    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"prog: error: {message}") and error.count("\n") == 1


def test_benchmark_refuses_a_non_positive_count_in_one_line():
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "images.py"

    finished = subprocess.run(
        [sys.executable, str(script), "--count", "0"], capture_output=True, text=True, timeout=120
    )

    assert finished.returncode == 2
    assert finished.stderr == (
        "benchmarks/images.py: error: --count, --rounds, --workers and "
        "--peer-processes must be positive\n"
    )


def test_a_huge_retry_after_is_capped():
    retry = image_fetch._CappedRetry(total=1, respect_retry_after_header=True)
    response = HTTPResponse(body=b"", headers={"Retry-After": "86400"}, status=429)

    assert retry.get_retry_after(response) == image_fetch.MAX_RETRY_AFTER_S
