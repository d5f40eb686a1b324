"""HTTP side of the image stage: one pooled session, per-host limits, retries, a byte cap.

Every way a download can go wrong ends as an :class:`ImageRejected` carrying one of the named
failure reasons that the dataset's stats count, so one bad URL never stops a build.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from preprocess.settings import ImageSettings
from runtime import image_policy
from runtime.fetch_failures import ERROR_BODY_PEEK_BYTES, exception_reason, status_reason

log = logging.getLogger(__name__)

#: A server's ``Retry-After`` is obeyed up to this many seconds; a larger value (hostile or a
#: misconfigured CDN) would otherwise park a worker thread for hours.
MAX_RETRY_AFTER_S = 60.0
#: Statuses worth another try: rate limiting and the transient server-side failures.
RETRY_STATUSES = (429, 500, 502, 503, 504)
CHUNK_BYTES = 256 * 1024
#: Connection failures (after retries) from a host that never answered, before its remaining
#: URLs fail at once as ``connection``: a crawl's image host that is gone (a demo site that
#: stopped, a CDN blocked here) would otherwise cost every URL its full retries.
GIVE_UP_AFTER = 3


class ImageRejected(Exception):
    """A source that cannot become a dataset image; ``reason`` is the name counted in stats."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _CappedRetry(Retry):
    """urllib3's retry policy with ``Retry-After`` bounded by :data:`MAX_RETRY_AFTER_S`."""

    def get_retry_after(self, response: Any) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, MAX_RETRY_AFTER_S)


class HttpFetcher:
    """Downloads image bytes through one pooled session, at most ``per_host`` at a time per host.

    A single session keeps connections alive across thousands of small downloads (a fresh TCP
    connection per image costs more than the image itself on a fast link); the per-host
    semaphores keep a large worker pool from hammering one CDN.
    """

    def __init__(self, settings: ImageSettings) -> None:
        self._timeout = settings.timeout_s
        self._max_bytes = image_policy.byte_limit(settings.max_bytes)
        self._per_host = settings.per_host
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._slots_lock = threading.Lock()
        self._unreachable: dict[str, int] = {}  # host -> connection failures; -1 once it answered
        retry = _CappedRetry(
            total=settings.retries,
            backoff_factor=settings.backoff_s,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        workers = settings.workers
        adapter = HTTPAdapter(pool_connections=workers, pool_maxsize=workers, max_retries=retry)
        self._session = requests.Session()
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = settings.user_agent

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._session.close()

    def fetch(self, url: str) -> bytes:
        """The body of ``url``, or :class:`ImageRejected` with the reason it could not be had."""
        host = urlsplit(url).netloc
        if self._unreachable.get(host, 0) >= GIVE_UP_AFTER:
            raise ImageRejected("connection")
        try:
            with (
                self._host_slot(host),
                self._session.get(url, stream=True, timeout=self._timeout) as response,
            ):
                self._mark_answered(host)
                if response.status_code != 200:
                    peek = response.raw.read(ERROR_BODY_PEEK_BYTES, decode_content=True)
                    raise ImageRejected(status_reason(response.status_code, peek))
                return self._read_capped(response)
        except requests.RequestException as exc:
            reason = exception_reason(exc)
            if reason == "connection":
                self._count_unreachable(host)
            raise ImageRejected(reason) from exc

    def _mark_answered(self, host: str) -> None:
        """The host answered once, so it is never given up. Under the lock: an unlocked write
        could land between another thread's read and write of the failure count, and be lost."""
        if self._unreachable.get(host) != -1:
            with self._slots_lock:
                self._unreachable[host] = -1

    def _count_unreachable(self, host: str) -> None:
        """One more connection failure of a host that has never answered."""
        with self._slots_lock:
            failures = self._unreachable.get(host, 0)
            if failures >= 0:
                self._unreachable[host] = failures + 1
                if failures + 1 == GIVE_UP_AFTER:
                    log.warning(
                        "images: %s refused or dropped %d connections and never answered; "
                        "its other images fail without a try",
                        host,
                        GIVE_UP_AFTER,
                    )

    @contextmanager
    def _host_slot(self, host: str) -> Iterator[None]:
        with self._slots_lock:
            slot = self._slots.get(host)
            if slot is None:
                slot = self._slots[host] = threading.BoundedSemaphore(self._per_host)
        with slot:
            yield

    def _read_capped(self, response: requests.Response) -> bytes:
        """The body, refusing early from ``Content-Length`` or while streaming past the cap."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise ImageRejected("too_large")
        chunks: list[bytes] = []
        received = 0
        for chunk in response.iter_content(CHUNK_BYTES):
            received += len(chunk)
            if received > self._max_bytes:
                raise ImageRejected("too_large")
            chunks.append(chunk)
        return b"".join(chunks)
