"""``--download-images``: fetch each post's image right away, with the browser's cookies.

Signed Instagram media URLs expire after a few days, so a crawl that wants images must fetch
them while the signature is fresh. Failures are named, never fatal; what counts as an image
is :mod:`runtime.image_policy`'s decision, the same as the dataset build's and the server's.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import requests

from runtime import image_policy
from runtime.fetch_failures import exception_reason, status_reason
from runtime.files import atomic_write_bytes
from runtime.records import PostRecord

log = logging.getLogger(__name__)


class ImageDownloader:
    """One pooled HTTP session carrying the browser's cookies and user agent."""

    def __init__(
        self,
        out_dir: str | Path,
        cookies: list[dict[str, Any]] | None = None,
        user_agent: str | None = None,
        timeout_s: float = 20.0,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.timeout_s = timeout_s
        self.session = requests.Session()
        if user_agent:
            self.session.headers["User-Agent"] = user_agent
        for cookie in cookies or []:
            self.session.cookies.set(
                cookie["name"],
                cookie["value"],
                domain=cookie.get("domain", ""),
                path=cookie.get("path", "/"),
            )
        self.failures: dict[str, int] = {}

    def fetch(self, record: PostRecord) -> tuple[str | None, str | None]:
        """Download ``record["image_url"]`` to ``images/<shortcode>.jpg`` (relative to the output
        folder); return ``(relative_path, None)`` or ``(None, reason)``."""
        url = record.get("image_url")
        if not url:
            return self._fail("no_image_url")
        try:
            response = self.session.get(url, timeout=self.timeout_s, stream=True)
            body = response.raw.read(image_policy.MAX_BYTES + 1, decode_content=True)
        except requests.RequestException as exc:
            return self._fail(exception_reason(exc))
        if response.status_code != 200:
            return self._fail(status_reason(response.status_code, body))
        try:
            image_policy.accept(body)
        except image_policy.ImageRefused as refused:
            return self._fail(refused.reason)
        name = f"{_safe_name(record['shortcode'])}.jpg"
        atomic_write_bytes(self.out_dir / "images" / name, body)
        return f"images/{name}", None

    def save_all(self, records: list[PostRecord]) -> int:
        """Download each record's image and set its ``image_path``; return how many were saved
        (a failure is counted in :attr:`failures` and leaves the record without one)."""
        saved = 0
        for record in records:
            path, reason = self.fetch(record)
            if path:
                record["image_path"] = path
                saved += 1
            else:
                log.info("image of %s not saved: %s", record["shortcode"], reason)
        return saved

    def _fail(self, reason: str) -> tuple[None, str]:
        self.failures[reason] = self.failures.get(reason, 0) + 1
        return None, reason


def _safe_name(shortcode: str) -> str:
    """Shortcodes are [A-Za-z0-9_-]; anything else is hashed rather than used as a file name."""
    if shortcode and all(c.isascii() and (c.isalnum() or c in "-_") for c in shortcode):
        return shortcode
    return hashlib.sha256(shortcode.encode("utf-8")).hexdigest()[:32]
