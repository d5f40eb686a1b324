"""The image stage of ``hashtag-build-dataset``: read or download, verify, normalize, cache, link.

Each post's image becomes an RGB JPEG whose shorter side is ``image_size``, stored once in a
content-addressed cache (``<cache_dir>/images/<sha[:2]>/<sha>.jpg``, sha = SHA-256 of the JPEG
bytes) and hard-linked into each dataset built from it. Every image is fully decoded before it
is accepted, so a truncated download or an HTML error page served as ``image/jpeg`` is counted
under a named reason instead of surfacing as a crash in training.

Settings: the ``images`` section of ``configs/dataset.yaml``, where each key's default and
meaning are written. Why some of them are what they are:

``image_size``
    Smaller images are kept at their size, never upscaled: upscaling invents no detail,
    inflates the cache, and the training loader resizes anyway.
``workers``
    Threads that download and read files: they mostly wait on the network.
``processes`` (null, the default: the number of CPU cores)
    Processes that decode, verify, resize, encode and hash what the threads bring in. Pillow
    releases the GIL while decoding and resizing, but the Python around every image (HTTP
    parsing, Pillow's and imagehash's own code) does not: on 2 cores one process kept only
    about 1.5 of them busy, against 1.7 with the pixel work in 2 child processes, which was
    16 to 19% more images/s (``docs/benchmarks/images.md``). ``0`` does that work on the
    download threads instead.
``per_host``
    Concurrent downloads from one host, to stay polite to a single CDN.
``retries`` / ``backoff_s``
    Retries of connection errors, timeouts, 429 and 5xx, with exponential backoff; a
    ``Retry-After`` header (up to a minute) takes precedence.
``max_bytes`` / ``max_pixels``
    Larger downloads and files are ``too_large``; larger images are ``decompression_bomb``
    (checked from the header before any pixel is decoded). These and the accepted formats are
    :mod:`runtime.image_policy`'s, which caps a looser setting at its own limits.
``user_agent``
    Sent with every download, so a site's operator can tell who is asking.

Failure reasons: ``http_<status>``, ``expired_signature`` (403 saying "URL signature expired"),
``timeout``, ``connection``, ``redirect_loop``, ``bad_url``, ``too_large``, ``not_an_image``,
``decompression_bomb``, ``truncated``, ``corrupt``, ``missing_file``, ``unreadable_file``,
``no_source``. Successes and the failures in :data:`PERMANENT_FAILURES` are remembered in the
cache index; transient failures (timeouts, 429, 5xx, ...) are tried again on the next run.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import multiprocessing
import os
import signal
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import imagehash
from PIL import Image

from preprocess.image_cache import CacheIndex, file_source, url_source, variant_of
from preprocess.image_fetch import HttpFetcher, ImageRejected
from preprocess.settings import ImageSettings
from preprocess.writer import FILE_MODE
from runtime import image_policy, image_prep
from runtime.files import atomic_write_bytes
from runtime.progress import progress_bar

log = logging.getLogger(__name__)

#: Settings that change what a source turns into, hence part of the cache key.
OUTPUT_SETTINGS = ("image_size", "jpeg_quality", "max_bytes", "max_pixels")
#: Bump when decoding, resizing or encoding changes, so older cache entries are not reused.
PROCESSING_VERSION = 3  # 2: runtime.image_policy decides (TIFF refused); 3: runtime.image_prep
#: Outcomes a retry cannot change, cached like successes.
PERMANENT_FAILURES = frozenset(
    {
        "http_404",
        "http_410",
        "expired_signature",
        "bad_url",
        "too_large",
        "not_an_image",
        "decompression_bomb",
        "truncated",
        "corrupt",
    }
)


@dataclass(frozen=True)
class ImageJob:
    """One post's image: a local file when the input has one, else a URL to download."""

    key: str
    url: str | None
    local_path: str | None


@dataclass
class ImageResult:
    """What became of one job; on success ``path`` is relative to the cache or dataset dir.

    ``pixel_sha256`` fingerprints the RGB pixels the JPEG was encoded from (with their size),
    so exact duplicates match even across JPEG encoder versions; ``phash`` is
    ``imagehash.phash`` as hex, for near duplicates.
    """

    key: str
    ok: bool
    reason: str | None = None
    sha256: str | None = None
    path: str | None = None
    pixel_sha256: str | None = None
    phash: str | None = None
    width: int | None = None
    height: int | None = None


def fetch_images(
    jobs: list[ImageJob], cache_dir: Path, settings: ImageSettings, progress: bool = True
) -> dict[str, ImageResult]:
    """Bring every job's image into the cache; return each job key's outcome, in job order.

    ``settings`` is the ``images`` section (see the module docstring). Jobs sharing a source
    (the same URL, or the same unchanged file) are processed once.
    """
    cache_dir = Path(cache_dir)
    with CacheIndex(cache_dir) as index:
        results, todo = _settle_from_cache(jobs, index, cache_dir, settings)
        log.info(
            "images: %d settled from the cache, %d sources to process", len(results), len(todo)
        )
        for source, outcome in _process_all(todo, cache_dir, settings, progress):
            if outcome.ok or outcome.reason in PERMANENT_FAILURES:
                index.put(source, _record_of(outcome))
            for job in todo[source]:
                results[job.key] = replace(outcome, key=job.key)
    return {job.key: results[job.key] for job in jobs}


def _settle_from_cache(
    jobs: list[ImageJob], index: CacheIndex, cache_dir: Path, settings: ImageSettings
) -> tuple[dict[str, ImageResult], dict[str, list[ImageJob]]]:
    """Outcomes known without work (cached, or no usable source), and the jobs left by source."""
    variant = variant_of(settings, OUTPUT_SETTINGS, PROCESSING_VERSION)
    settled: dict[str, ImageResult] = {}
    todo: dict[str, list[ImageJob]] = {}
    for job in jobs:
        try:
            source = _source_of(job, variant)
        except ImageRejected as exc:
            settled[job.key] = ImageResult(job.key, ok=False, reason=exc.reason)
            continue
        record = index.get(source)
        if record is not None and _still_cached(record, cache_dir):
            settled[job.key] = ImageResult(key=job.key, **record)
        else:
            todo.setdefault(source, []).append(job)
    return settled, todo


def _process_all(
    todo: dict[str, list[ImageJob]], cache_dir: Path, settings: ImageSettings, progress: bool
) -> Iterator[tuple[str, ImageResult]]:
    """Yield ``(source, outcome)`` as the worker threads finish, one job per source.

    Queued work is cancelled if the caller stops early (Ctrl-C), so an interrupted build
    returns promptly with everything finished so far already in the index. The threads stop
    before the converter processes, so none of them is left waiting on a closed pool.
    """
    converters = _start_converters(min(settings.converter_processes, len(todo)))
    pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="image")
    try:
        with HttpFetcher(settings) as fetcher:
            futures = {
                pool.submit(_process, group[0], fetcher, converters, cache_dir, settings): source
                for source, group in todo.items()
            }
            done = as_completed(futures)
            for future in progress_bar(
                done, total=len(futures), desc="images", unit="img", disable=not progress
            ):
                yield futures[future], future.result()
    finally:
        pool.shutdown(cancel_futures=True)
        if converters is not None:
            converters.shutdown(cancel_futures=True)


def _start_converters(processes: int) -> Executor | None:
    """The process pool for the pixel work, its processes already running; None for 0.

    They are forked (cheap: nothing is imported again) and forked now, before this stage's
    download threads exist, since a fork taken while one of them holds a lock (the connection
    pool's, say) could deadlock the child. They ignore Ctrl-C: the parent stops them once its
    threads are done, after cancelling the queued work.
    """
    if not processes:
        return None
    converters = ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("fork"),
        initializer=signal.signal,
        initargs=(signal.SIGINT, signal.SIG_IGN),
    )
    converters.submit(int).result()  # the fork context starts every process on first submit
    return converters


def link_into(result: ImageResult, cache_dir: Path, dataset_dir: Path) -> None:
    """Put a cached image at the same relative path in ``dataset_dir``: hardlink, else copy.

    A hardlink costs no space; the cache never rewrites a file in place (content addressed,
    atomic writes), so sharing the inode is safe. Copying covers another filesystem.
    """
    if not result.ok or result.path is None:
        raise ValueError(f"{result.key}: no cached image to link ({result.reason})")
    source = Path(cache_dir) / result.path
    target = Path(dataset_dir) / result.path
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except FileExistsError:
        return
    except OSError:
        atomic_write_bytes(target, source.read_bytes(), FILE_MODE)


def decode_normalized(data: bytes, image_size: int, max_pixels: int) -> Image.Image:
    """Decode untrusted bytes fully into an upright RGB image, shorter side ``image_size``.

    What is accepted is :mod:`runtime.image_policy`'s decision, and orientation, transparency,
    mode and resize filter are :mod:`runtime.image_prep`'s, as in training and serving. JPEGs
    are decoded at the smallest DCT scale (1/2, 1/4, 1/8) that still covers the target size,
    which skips most of the decoding work for a photo bound to become a thumbnail.
    """
    try:
        image = image_policy.open_image(data, max_pixels=max_pixels)
        shorter = min(image.size)
        if shorter > image_size:
            scale = image_size / shorter
            draft = (math.ceil(image.width * scale), math.ceil(image.height * scale))
            image.draft(image.mode, draft)
        image_policy.decode(image)
        return image_prep.shrink(image_prep.prepare(image), image_size)
    except image_policy.ImageRefused as refused:
        raise ImageRejected(refused.reason) from refused


def _source_of(job: ImageJob, variant: str) -> str:
    if job.local_path:
        try:
            return file_source(job.local_path, variant)
        except OSError:
            raise ImageRejected("missing_file") from None
    if job.url:
        return url_source(job.url, variant)
    raise ImageRejected("no_source")


def _still_cached(record: dict[str, Any], cache_dir: Path) -> bool:
    """A cached success counts only while its file is still there (caches get pruned)."""
    return not record["ok"] or (cache_dir / record["path"]).is_file()


def _record_of(result: ImageResult) -> dict[str, Any]:
    record = asdict(result)
    del record["key"]
    return record


def _process(
    job: ImageJob,
    fetcher: HttpFetcher,
    converters: Executor | None,
    cache_dir: Path,
    settings: ImageSettings,
) -> ImageResult:
    """Runs on a worker thread: one source from bytes to a cached JPEG, or a named failure."""
    try:
        if job.local_path:
            data = _read_local(Path(job.local_path), settings.max_bytes)
        else:
            data = fetcher.fetch(job.url)
    except ImageRejected as exc:
        return ImageResult(job.key, ok=False, reason=exc.reason)
    if converters is None:
        return _convert(job.key, data, cache_dir, settings)
    return converters.submit(_convert, job.key, data, cache_dir, settings).result()


def _convert(key: str, data: bytes, cache_dir: Path, settings: ImageSettings) -> ImageResult:
    """Runs in a converter process (or on the thread): image bytes to a cached JPEG."""
    try:
        image = decode_normalized(data, settings.image_size, settings.max_pixels)
    except ImageRejected as exc:
        return ImageResult(key, ok=False, reason=exc.reason)
    return _store(key, image, cache_dir, settings.jpeg_quality)


def _read_local(path: Path, max_bytes: int) -> bytes:
    try:
        image_policy.check_size(path.stat().st_size, max_bytes)
        return path.read_bytes()
    except image_policy.ImageRefused as refused:
        raise ImageRejected(refused.reason) from None
    except FileNotFoundError:
        raise ImageRejected("missing_file") from None
    except OSError:
        raise ImageRejected("unreadable_file") from None


def _store(key: str, image: Image.Image, cache_dir: Path, quality: int) -> ImageResult:
    """Encode, content-address and write the JPEG (once), and fingerprint its pixels."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    data = buffer.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    relative = f"images/{sha[:2]}/{sha}.jpg"
    target = cache_dir / relative
    if not target.exists():
        atomic_write_bytes(target, data, FILE_MODE)  # hardlinked into datasets: shared mode
    width, height = image.size
    pixels = hashlib.sha256(f"{width}x{height}:".encode())
    pixels.update(image.tobytes())
    return ImageResult(
        key,
        ok=True,
        sha256=sha,
        path=relative,
        pixel_sha256=pixels.hexdigest(),
        phash=str(imagehash.phash(image)),
        width=width,
        height=height,
    )
