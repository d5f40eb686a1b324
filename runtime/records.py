"""The raw post record of docs/architecture.md Contract 1 and the append-only ``posts.jsonl`` store.

Parsers build records with :func:`make_record`; the crawler and ``hashtag-crawl parse`` both
write through :class:`PostStore`, which dedupes by shortcode and survives ``kill -9``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runtime.errors import UsageError
from runtime.files import append_jsonl, iter_jsonl, repair_torn_tail
from runtime.hashtags import extract_hashtags
from runtime.timestamps import utc_now_iso

DEFAULT_BASE_URL = "https://www.instagram.com"


def check_base_url(base_url: object) -> None:
    """The site root must be an http(s) URL with a host: the crawler would start Chromium only
    to fail on every page, and ``parse`` would write records whose ``url`` leads nowhere."""
    try:
        parts = urlsplit(base_url) if isinstance(base_url, str) else None
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"--base-url must be an http:// or https:// URL such as {DEFAULT_BASE_URL}, "
            f"got {base_url!r}"
        )


def post_url(shortcode: str, base_url: str = DEFAULT_BASE_URL) -> str:
    return f"{base_url.rstrip('/')}/p/{shortcode}/"


def make_record(
    shortcode: str,
    caption: str | None,
    image_url: str | None,
    source: str,
    base_url: str = DEFAULT_BASE_URL,
    **optional: Any,
) -> dict[str, Any]:
    """A Contract 1 record; optional fields given as ``None`` are left out."""
    text = caption or ""
    record: dict[str, Any] = {
        "shortcode": shortcode,
        "url": post_url(shortcode, base_url),
        "caption": text,
        "hashtags": extract_hashtags(text),
        "image_url": image_url,
        "source": source,
        "crawled_at": utc_now_iso(),
    }
    record.update({key: value for key, value in optional.items() if value is not None})
    return record


class PostStore:
    """``posts.jsonl``: append-only, one fsync per batch, deduplicated by shortcode.

    Opening repairs a torn last line (an append cut by ``kill -9``) and loads the shortcodes
    already stored, so a resumed crawl never writes a duplicate.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired_bytes = repair_torn_tail(self.path)
        self.shortcodes: set[str] = set()
        if self.path.exists():
            for _, record, _ in iter_jsonl(self.path):
                if record and isinstance(record.get("shortcode"), str):
                    self.shortcodes.add(record["shortcode"])

    def __len__(self) -> int:
        return len(self.shortcodes)

    def __contains__(self, shortcode: object) -> bool:
        return shortcode in self.shortcodes

    def add(self, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Append the records not stored yet (first one wins within a batch); return them."""
        fresh: dict[str, dict[str, Any]] = {}
        for record in records:
            if record["shortcode"] not in self.shortcodes:
                fresh.setdefault(record["shortcode"], record)
        append_jsonl(self.path, fresh.values())
        self.shortcodes.update(fresh)  # only once they are on disk
        return list(fresh.values())
