"""Instagram responses and pages -> Contract 1 post records, whatever envelope they come in.

Instagram wraps the same media objects in new envelopes every year (``graphql.hashtag``,
``data.xdt_api__v1__...``, Relay payloads in the page HTML...). Instead of one parser per
envelope, :func:`walk` visits every object of a JSON document and recognises a *media object*
by its own fields (:func:`media_kind`), wherever it sits; the envelope's keys never matter.
Two converters turn the objects into records, so the same post gives the same record in every
envelope: :func:`~crawler.media_records.graphql_node_record` for GraphQL nodes and
:func:`~crawler.media_records.v1_media_record` for v1 media.
The feed's cursor is found the same way, by the fields of a pagination object (:func:`walk`).

``parse_json`` / ``parse_html`` / ``parse_text`` are the entry points: a document without media
objects gives a page with zero records, a login/challenge/rate-limit page raises
:class:`Blocked`, and only input that is not Instagram JSON or HTML at all (malformed JSON,
some other site's page) raises :class:`UnknownShape`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from crawler.blocks import Blocked, PageScan, classify_json, classify_scan, scan_html
from crawler.media_records import (
    Json,
    dig,
    graphql_node_record,
    text_or_none,
    v1_media_record,
)
from runtime.records import DEFAULT_BASE_URL, PostRecord, make_record

GRAPHQL, V1, OG_META, NO_MEDIA = "graphql", "v1", "og_meta", "none"


class UnknownShape(ValueError):
    """The input is not an Instagram document at all (malformed JSON, another site's page)."""


@dataclass
class Page:
    """What one response or page yields: its posts and where the feed continues.

    ``found`` names the kinds of media objects the document held (``"graphql"``, ``"v1"``,
    ``"graphql+v1"``, ``"og_meta"`` for a page read from its meta tags, ``"none"``).
    ``is_feed`` says the document is a page of a feed (it carries pagination next to a list),
    so its cursor and ``more_available`` describe where that feed continues.
    """

    records: list[PostRecord]
    found: str = NO_MEDIA
    next_cursor: str | None = None
    more_available: bool = False
    is_feed: bool = False


# The fields that make an object a post, whatever holds it. Both kinds need their code (the
# post's /p/CODE/) and at least one picture or video field: that excludes the many objects that
# merely mention a code (comments, users, hashtags, ads' tracking).
_V1_MEDIA_FIELDS = ("image_versions2", "carousel_media", "video_versions")
_GRAPHQL_MEDIA_FIELDS = ("display_url", "thumbnail_src", "display_resources")
# A user's own posts sit under these connections of the user object: its username is their
# owner. (Tagged posts, ``edge_user_to_photos_of_you``, belong to other people.)
_OWNED_PREFIX = "edge_owner_to_"
# Pagination objects, read at the object that holds them (the connection or feed).
_PAGINATION_OBJECTS = {
    "page_info": ("end_cursor", "has_next_page"),  # GraphQL connections
    "paging_info": ("max_id", "more_available"),  # clips / reels feeds
}
# Pagination fields sitting directly on a v1 feed (``next_max_id`` with one of the flags).
_V1_CURSOR = "next_max_id"
_V1_MORE_FLAGS = ("more_available", "has_more")


def media_kind(obj: Json) -> str | None:
    """``"v1"`` or ``"graphql"`` when ``obj`` is a media object by its own fields, else None.

    Story items look like v1 media but are no posts (they expire and have no /p/ page).
    """
    if obj.get("product_type") == "story":
        return None
    if isinstance(obj.get("code"), str) and any(key in obj for key in _V1_MEDIA_FIELDS):
        return V1
    if isinstance(obj.get("shortcode"), str) and any(key in obj for key in _GRAPHQL_MEDIA_FIELDS):
        return GRAPHQL
    return None


@dataclass
class Pagination:
    """One pagination object met on the walk, and how many media objects its feed holds."""

    cursor: str | None
    more: bool
    media: int = 0


@dataclass
class Found:
    """What :func:`walk` found: media objects in document order and pagination objects."""

    media: list[tuple[str, Json, str | None]] = field(default_factory=list)  # kind, obj, owner
    cursors: list[Pagination] = field(default_factory=list)

    def feed_cursor(self) -> Pagination | None:
        """The pagination that says where the document's feed goes on.

        A cursor that promises more wins (a tag page's "top" tab ends where its "recent" tab
        goes on, even while "recent" is still empty), then the one over the most media, then
        the later one. Taking a finished cursor for the feed's would end a crawl early; taking
        a live one wrongly only costs a scroll that brings nothing.
        """
        ranked = [
            ((bool(c.cursor) and c.more, c.media, index), c) for index, c in enumerate(self.cursors)
        ]
        return max(ranked, key=lambda pair: pair[0])[1] if ranked else None


def _pagination(obj: Json) -> Pagination | None:
    """The pagination ``obj`` carries, when it is a feed: a list next to cursor fields."""
    if not any(isinstance(value, list) for value in obj.values()):
        return None
    for key, (cursor_key, more_key) in _PAGINATION_OBJECTS.items():
        info = obj.get(key)
        if isinstance(info, dict):
            cursor = text_or_none(info.get(cursor_key))
            return Pagination(cursor, bool(info.get(more_key, cursor)))
    flags = [obj[key] for key in _V1_MORE_FLAGS if key in obj]
    if _V1_CURSOR in obj or flags:
        cursor = text_or_none(obj.get(_V1_CURSOR))
        return Pagination(cursor, bool(flags[0] if flags else cursor))
    return None


def walk(document: Any) -> Found:
    """Every media object and pagination object of ``document``, at any depth, in order.

    Iterative (a deep document cannot exhaust the stack). A media object is not entered: its
    carousel children, comments and related posts are parts of that post, not posts.
    """
    found = Found()
    # (value, owner's username from an enclosing user object, indexes of enclosing cursors)
    stack: list[tuple[Any, str | None, tuple[int, ...]]] = [(document, None, ())]
    while stack:
        value, owner, cursors = stack.pop()
        if isinstance(value, list):
            stack.extend((item, owner, cursors) for item in reversed(value))
            continue
        if not isinstance(value, dict):
            continue
        kind = media_kind(value)
        if kind:
            found.media.append((kind, value, owner))
            for index in cursors:
                found.cursors[index].media += 1
            continue
        pagination = _pagination(value)
        if pagination:
            cursors = (*cursors, len(found.cursors))
            found.cursors.append(pagination)
        username = value.get("username") if isinstance(value.get("username"), str) else None
        for key, child in reversed(value.items()):
            if isinstance(child, (dict, list)) and key not in _PAGINATION_OBJECTS:
                child_owner = username if username and key.startswith(_OWNED_PREFIX) else owner
                stack.append((child, child_owner, cursors))
    return found


def _record(kind: str, obj: Json, owner: str | None, source: str, base_url: str) -> PostRecord:
    try:
        if kind == V1:
            return v1_media_record(obj, source, base_url)
        return graphql_node_record(obj, source, base_url, owner)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # The object looks like a post but something inside has the wrong type: a corrupt or
        # hand-edited file, reported like any other unusable input.
        code = obj.get("code") or obj.get("shortcode")
        raise UnknownShape(
            f"malformed {kind} media object {code} ({type(exc).__name__}: {exc})"
        ) from exc


def _merge_unique(records: Iterable[PostRecord]) -> list[PostRecord]:
    """One record per shortcode (a post in both "top" and "recent" is one post): the first
    sighting wins, later ones only add the fields it lacks."""
    seen: dict[str, PostRecord] = {}
    for record in records:
        first = seen.setdefault(record["shortcode"], record)
        for key, value in record.items():
            first.setdefault(key, value)
    return list(seen.values())


def page_of(documents: Iterable[Any], source: str, base_url: str = DEFAULT_BASE_URL) -> Page:
    """The posts and feed cursor of one or more JSON documents (a page's embedded blobs)."""
    found = walk(list(documents))
    records = _merge_unique(_record(*item, source, base_url) for item in found.media)
    kinds = "+".join(sorted({kind for kind, _, _ in found.media})) or NO_MEDIA
    feed = found.feed_cursor()
    if feed is None:
        return Page(records, kinds)
    return Page(records, kinds, feed.cursor, feed.more and bool(feed.cursor), is_feed=True)


def parse_json(obj: Any, source: str, base_url: str = DEFAULT_BASE_URL) -> Page:
    """The posts of any Instagram JSON response; Blocked when it is a refusal."""
    kind = classify_json(obj)
    if kind:
        raise Blocked(kind, str(dig(obj, "message") or "refused API response"))
    return page_of([obj], source, base_url)


_JSON_GUARD = "for (;;);"  # prefixed to some Instagram/Facebook API bodies against JSON hijacking


def looks_like_json(text: str) -> bool:
    body = text.lstrip("\ufeff \t\r\n")
    return body.startswith(("{", "[", _JSON_GUARD))


def decode_json(text: str) -> Any:
    """A response body as JSON, without the ``for (;;);`` guard; UnknownShape if malformed."""
    body = text.lstrip("\ufeff \t\r\n").removeprefix(_JSON_GUARD)
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise UnknownShape(f"malformed JSON ({exc.msg} at line {exc.lineno})") from None


def json_or_none(text: str) -> Any:
    """A response body as JSON, or None when it is not JSON (a page, an empty or torn body)."""
    if not looks_like_json(text):
        return None
    try:
        return decode_json(text)
    except UnknownShape:
        return None


# --- HTML: embedded JSON ----------------------------------------------------------------------

# The older pages assign their data in a script: only the *start* of each blob is located by
# pattern; the object itself is read by the JSON decoder, which copes with any whitespace, line
# breaks or trailing ";" a saved page may have.
_EMBEDDED_JSON_STARTS = (
    re.compile(r"""_sharedData\s*['"]?\s*\]?\s*=\s*(?=\{)"""),
    re.compile(r"""__additionalDataLoaded\s*\(\s*(?:'[^']*'|"[^"]*")\s*,\s*(?=\{)"""),
)
_DECODER = json.JSONDecoder()


def _assigned_json(script: str) -> Iterator[Any]:
    """``window._sharedData = {...}`` and ``__additionalDataLoaded('...', {...})`` payloads."""
    for start in _EMBEDDED_JSON_STARTS:
        for match in start.finditer(script):
            try:
                yield _DECODER.raw_decode(script, match.end())[0]
            except json.JSONDecodeError:
                continue  # a JS expression that merely mentions the name


def _script_json(script: str) -> Any:
    """A script that is one JSON document (``<script type="application/json" data-sjs>``,
    whose Relay payloads the walker reaches however deep they nest), else None."""
    body = script.strip()
    if not body.startswith(("{", "[")):
        return None
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        return None


def embedded_json(scripts: Iterable[str]) -> tuple[list[Any], bool]:
    """Every JSON document embedded in the page's scripts, and whether any of them was one of
    the older ``_sharedData`` / ``__additionalDataLoaded`` blobs (which only Instagram writes)."""
    documents: list[Any] = []
    legacy = False
    for script in scripts:
        whole = _script_json(script)
        if whole is not None:
            documents.append(whole)
            continue
        assigned = list(_assigned_json(script))
        legacy |= bool(assigned)
        documents += assigned
    return documents, legacy


# --- HTML: the logged-out post page's meta tags -------------------------------------------------

_OG_DESCRIPTION = re.compile(
    r"""^\s*(?P<likes>[\d,.]+[KkMm]?)\s+likes?,\s*(?P<comments>[\d,.]+[KkMm]?)\s+comments?
        \s+-\s+(?P<who>.+?)\s+on\s+(?P<date>[^:]+?):\s*["“](?P<caption>.*)["”]\s*\.?\s*$""",
    re.DOTALL | re.VERBOSE | re.IGNORECASE,
)
_HANDLE = re.compile(r"\(@([\w.]+)\)")
_POST_PATH_KINDS = ("p", "reel", "tv")


def _plain_int(text: str) -> int | None:
    """ "1,234" -> 1234; abbreviated counts ("12K") are too vague to keep."""
    digits = text.replace(",", "")
    return int(digits) if digits.isdigit() else None


def _date_iso(text: str) -> str | None:
    """ "May 25, 2020" -> midnight UTC of that day: the page gives no finer time."""
    try:
        day = dt.datetime.strptime(text.strip(), "%B %d, %Y")
    except ValueError:
        return None
    return day.strftime("%Y-%m-%dT00:00:00Z")


def _shortcode_from_url(url: str | None) -> str | None:
    parts = [part for part in urlsplit(url or "").path.split("/") if part]
    if len(parts) >= 2 and parts[-2] in _POST_PATH_KINDS:
        return parts[-1]
    return None


def _media_id_from_app_link(url: str | None) -> str | None:
    """``instagram://media?id=PK`` -> PK."""
    ids = parse_qs(urlsplit(url or "").query).get("id") or [None]
    return ids[0] if ids[0] and ids[0].isdigit() else None


def _post_meta_page(scan: PageScan, source: str, base_url: str) -> Page | None:
    meta = scan.meta
    shortcode = _shortcode_from_url(scan.canonical) or _shortcode_from_url(meta.get("og:url"))
    if shortcode is None:
        return None
    described = _OG_DESCRIPTION.match(meta.get("og:description", ""))
    fields = described.groupdict() if described else {}
    who = fields.get("who", "")
    handle = _HANDLE.search(who)
    record = make_record(
        shortcode,
        fields.get("caption", ""),
        meta.get("og:image") or meta.get("twitter:image"),
        source,
        base_url,
        post_id=_media_id_from_app_link(meta.get("al:ios:url")),
        owner=(handle.group(1) if handle else who) or None,
        taken_at=_date_iso(fields.get("date", "")),
        likes=_plain_int(fields.get("likes", "")),
        comments=_plain_int(fields.get("comments", "")),
    )
    return Page([record], OG_META)


# --- detection over HTML and text -------------------------------------------------------------


def _is_instagram_page(scan: PageScan) -> bool:
    names = (scan.meta.get("og:site_name", ""), scan.meta.get("al:ios:app_name", ""), scan.title)
    return any("instagram" in name.lower() for name in names)


def parse_html(html: str, source: str, base_url: str = DEFAULT_BASE_URL) -> Page:
    """The posts of an Instagram page: from all the JSON it embeds (``data-sjs`` Relay
    payloads, ``_sharedData``, ``__additionalDataLoaded``), else from its ``og:`` meta tags.

    An Instagram page with no posts (the logged-out shell, an empty profile) gives zero
    records; a login/challenge/rate-limit page raises :class:`Blocked`; a page that is not
    Instagram's raises :class:`UnknownShape`.
    """
    scan = scan_html(html)
    kind = classify_scan(scan)
    if kind:
        raise Blocked(kind, "page is a block, not content")
    documents, legacy = embedded_json(scan.scripts)
    embedded = page_of(documents, source, base_url)
    if embedded.records:
        return embedded
    post_meta = _post_meta_page(scan, source, base_url)
    if post_meta is not None:
        return post_meta
    if legacy or embedded.is_feed or _is_instagram_page(scan):
        return embedded
    raise UnknownShape("HTML page with no Instagram post data")


_HTML_TAG = re.compile(r"<(?:!doctype|html|head|body|meta|script|div)\b", re.IGNORECASE)


def parse_text(text: str, source: str, base_url: str = DEFAULT_BASE_URL) -> Page:
    """A response body of either kind: JSON when it looks like JSON, else HTML."""
    if looks_like_json(text):
        return parse_json(decode_json(text), source, base_url)
    if not _HTML_TAG.search(text):
        raise UnknownShape("not JSON or HTML")
    return parse_html(text, source, base_url)
