"""The raw post record of docs/architecture.md Contract 1: :class:`PostRecord`.

One type for both sides of ``posts.jsonl``: the crawler's parsers build records with
:func:`make_record` (and ``crawler.store.PostStore`` appends them), a demo crawl is checked
against the ones the tests expect (``tests/conftest.py`` ``expected_record``), and
``preprocess.readers`` reads each line as one. It lives here because two stages
must agree on it (the import rule).
"""

from __future__ import annotations

from typing import (
    Annotated,
    Any,
    NotRequired,  # pydantic reads these on Python < 3.12
)
from urllib.parse import urlsplit

from pydantic import Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from runtime.errors import UsageError
from runtime.hashtags import extract_hashtags
from runtime.timestamps import utc_now_iso

DEFAULT_BASE_URL = "https://www.instagram.com"


class PostRecord(TypedDict):
    """One line of ``posts.jsonl``: the fields of Contract 1's table, required ones first in
    the order they are written. A dict on purpose: the JSON on disk is the dict as built (key
    order included), and readers keep keys they do not know."""

    shortcode: Annotated[str, Field(min_length=1)]
    url: str
    caption: str  # "" if none
    hashtags: list[str]  # runtime.hashtags.extract_hashtags of the caption
    image_url: str | None
    source: str  # tag:<tag>, profile:<user>, search:<query>, reels:<user>, file:<name>
    crawled_at: str  # ISO 8601 UTC
    post_id: NotRequired[str]
    image_urls: NotRequired[list[str]]
    is_video: NotRequired[bool]
    owner: NotRequired[str]
    taken_at: NotRequired[str]
    likes: NotRequired[int]
    comments: NotRequired[int]
    width: NotRequired[int]
    height: NotRequired[int]
    image_path: NotRequired[str]  # relative to the folder of posts.jsonl


_CHECK = TypeAdapter(PostRecord)


def wrong_fields(record: dict[str, Any]) -> set[str]:
    """The fields of ``record`` that break :class:`PostRecord` (missing where required, or of
    another type), by name; keys it does not know are kept and never wrong. Readers decide
    what a wrong field costs: the builder drops a record without a shortcode or caption and
    reads a wrong optional field as missing."""
    try:
        _CHECK.validate_python(record, strict=True)
    except ValidationError as exc:
        return {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
    return set()


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
) -> PostRecord:
    """A Contract 1 record; optional fields given as ``None`` are left out."""
    text = caption or ""
    record: PostRecord = {
        "shortcode": shortcode,
        "url": post_url(shortcode, base_url),
        "caption": text,
        "hashtags": extract_hashtags(text),
        "image_url": image_url,
        "source": source,
        "crawled_at": utc_now_iso(),
    }
    record.update({key: value for key, value in optional.items() if value is not None})  # type: ignore[typeddict-item]
    return record
