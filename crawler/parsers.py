"""Instagram responses and pages -> Contract 1 post records: one function per response shape.

Instagram has served the same posts in several shapes over the years, and a crawl meets most of
them (a feed XHR, JSON embedded in a page, a bare logged-out post page). Two converters do the
real work, so that every shape yields identical records for the same post:
:func:`graphql_node_record` (GraphQL media nodes: shapes a, b, e, f) and :func:`v1_media_record`
(v1 REST media: shapes c, d, f). The shape functions only locate those objects and the cursor.

``parse_json`` / ``parse_html`` / ``parse_text`` detect the shape; a payload matching none
raises :class:`UnknownShape`, a login/challenge/rate-limit page raises :class:`Blocked`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from crawler.blocks import Blocked, PageScan, classify_json, classify_scan, scan_html
from crawler.records import DEFAULT_BASE_URL, make_record
from runtime.timestamps import timestamp_to_iso

Json = dict[str, Any]


class UnknownShape(ValueError):
    """The payload matches none of the response shapes this module knows."""


@dataclass
class Page:
    """What one response yields: its posts and where the feed continues."""

    records: list[Json]
    shape: str
    next_cursor: str | None = None
    more_available: bool = False


def _dig(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...`` or None when any step is missing or not an object."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _first_object(obj: Any, *paths: tuple[str, ...]) -> Json | None:
    """The first of several alternative key paths that leads to an object."""
    for path in paths:
        found = _dig(obj, *path)
        if isinstance(found, dict):
            return found
    return None


def _count(*values: Any) -> int | None:
    """The first of several GraphQL ``{"count": n}`` edges or plain numbers that holds an int."""
    for value in values:
        number = value.get("count") if isinstance(value, dict) else value
        if isinstance(number, int) and not isinstance(number, bool):
            return number
    return None


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _unique(records: Iterable[Json]) -> list[Json]:
    """First record per shortcode: top posts often reappear in the recent feed."""
    seen: dict[str, Json] = {}
    for record in records:
        seen.setdefault(record["shortcode"], record)
    return list(seen.values())


# --- GraphQL media nodes (shapes a, b, e, f) ---------------------------------------------------


def _graphql_caption(node: Json) -> str:
    edges = _dig(node, "edge_media_to_caption", "edges") or []
    texts = [_dig(edge, "node", "text") for edge in edges]
    return next((text for text in texts if isinstance(text, str)), "")


def _graphql_children(node: Json) -> list[Json]:
    edges = _dig(node, "edge_sidecar_to_children", "edges") or []
    return [edge["node"] for edge in edges if isinstance(_dig(edge, "node"), dict)]


def graphql_node_record(
    node: Json, source: str, base_url: str = DEFAULT_BASE_URL, owner: str | None = None
) -> Json:
    """One GraphQL media node (``GraphImage``/``GraphSidecar``/``GraphVideo``) -> a record.

    ``owner`` fills in the username where the node only carries the owner's id (profile feeds
    name the user once, above the nodes).
    """
    children = _graphql_children(node)
    shown = children[0] if children else node  # a carousel's image_url is its first image
    child_urls = [child["display_url"] for child in children if child.get("display_url")]
    dimensions = shown.get("dimensions") or {}
    is_video = node.get("is_video")
    return make_record(
        node["shortcode"],
        _graphql_caption(node),
        shown.get("display_url") or shown.get("thumbnail_src"),
        source,
        base_url,
        post_id=_text_or_none(node.get("id")),
        image_urls=child_urls or None,
        is_video=is_video if isinstance(is_video, bool) else None,
        owner=_dig(node, "owner", "username") or owner,
        taken_at=timestamp_to_iso(node.get("taken_at_timestamp")),
        likes=_count(node.get("edge_liked_by"), node.get("edge_media_preview_like")),
        comments=_count(
            node.get("edge_media_to_comment"), node.get("edge_media_to_parent_comment")
        ),
        width=dimensions.get("width"),
        height=dimensions.get("height"),
    )


def _graphql_feed_page(
    parent: Json,
    edge_keys: tuple[str, ...],
    shape: str,
    source: str,
    base_url: str,
    owner: str | None = None,
) -> Page:
    """Records of every ``edge_keys`` connection of ``parent``; the first one paginates."""
    records = [
        graphql_node_record(edge["node"], source, base_url, owner)
        for key in edge_keys
        for edge in _dig(parent, key, "edges") or []
        if isinstance(_dig(edge, "node", "shortcode"), str)
    ]
    page_info = _dig(parent, edge_keys[0], "page_info") or {}
    return Page(
        _unique(records),
        shape,
        _text_or_none(page_info.get("end_cursor")),
        bool(page_info.get("has_next_page")),
    )


def parse_graphql_tag_feed(obj: Any, source: str, base_url: str = DEFAULT_BASE_URL) -> Page:
    """Shape a: ``data.hashtag`` (GraphQL query) or ``graphql.hashtag`` (``?__a=1``)."""
    hashtag = _first_object(obj, ("data", "hashtag"), ("graphql", "hashtag"))
    if hashtag is None or "edge_hashtag_to_media" not in hashtag:
        raise UnknownShape("not a GraphQL tag feed")
    edges = ("edge_hashtag_to_media", "edge_hashtag_to_top_posts")
    return _graphql_feed_page(hashtag, edges, "graphql_tag", source, base_url)


def parse_graphql_profile_feed(obj: Any, source: str, base_url: str = DEFAULT_BASE_URL) -> Page:
    """Shape b: ``data.user.edge_owner_to_timeline_media`` or the same under ``graphql``."""
    user = _first_object(obj, ("data", "user"), ("graphql", "user"))
    if user is None or "edge_owner_to_timeline_media" not in user:
        raise UnknownShape("not a GraphQL profile feed")
    edges = ("edge_owner_to_timeline_media",)
    owner = user.get("username")
    return _graphql_feed_page(user, edges, "graphql_profile", source, base_url, owner)


def parse_graphql_location_feed(obj: Any, source: str, base_url: str = DEFAULT_BASE_URL) -> Page:
    """The location feed (``LocationsPage`` in shape e): ``graphql.location.edge_location_*``."""
    location = _first_object(obj, ("data", "location"), ("graphql", "location"))
    if location is None or "edge_location_to_media" not in location:
        raise UnknownShape("not a GraphQL location feed")
    edges = ("edge_location_to_media", "edge_location_to_top_posts")
    return _graphql_feed_page(location, edges, "graphql_location", source, base_url)


def parse_graphql_post(obj: Any, source: str, base_url: str = DEFAULT_BASE_URL) -> Page:
    """Shape f (and the older post page payload): one post by shortcode.

    ``data.xdt_shortcode_media`` and ``graphql.shortcode_media`` are GraphQL nodes;
    ``data.xdt_api__v1__media__shortcode__web_info.items[]`` are v1 media objects.
    """
    node = _first_object(
        obj,
        ("data", "xdt_shortcode_media"),
        ("data", "shortcode_media"),
        ("graphql", "shortcode_media"),
    )
    if node is not None and isinstance(node.get("shortcode"), str):
        return Page([graphql_node_record(node, source, base_url)], "graphql_post")
    web_info = _first_object(obj, ("data", "xdt_api__v1__media__shortcode__web_info"))
    if web_info is not None and isinstance(web_info.get("items"), list):
        return Page(_v1_records(web_info["items"], source, base_url), "graphql_post")
    raise UnknownShape("not a GraphQL post response")


# --- v1 REST media (shapes c, d, f) -----------------------------------------------------------


def _largest_candidate(media: Json) -> Json:
    """The biggest of ``image_versions2.candidates``: Instagram's order is not guaranteed."""
    candidates = [c for c in _dig(media, "image_versions2", "candidates") or [] if c.get("url")]
    if not candidates:
        return {}
    return max(candidates, key=lambda c: (c.get("width") or 0) * (c.get("height") or 0))


def _v1_post_id(media: Json) -> str | None:
    if media.get("pk") is not None:
        return str(media["pk"])
    media_id = media.get("id")
    return str(media_id).split("_")[0] if media_id else None  # "<pk>_<owner pk>"


def v1_media_record(media: Json, source: str, base_url: str = DEFAULT_BASE_URL) -> Json:
    """One v1 media object (``pk``, ``code``, ``image_versions2``, ``carousel_media``) -> record."""
    images = [_largest_candidate(child) for child in media.get("carousel_media") or []]
    images = [image for image in images if image] or [_largest_candidate(media)]
    shown = images[0]
    return make_record(
        media["code"],
        _dig(media, "caption", "text"),
        shown.get("url"),
        source,
        base_url,
        post_id=_v1_post_id(media),
        image_urls=[image["url"] for image in images] if media.get("carousel_media") else None,
        is_video=media.get("media_type") == 2 if "media_type" in media else None,
        owner=_dig(media, "user", "username"),
        taken_at=timestamp_to_iso(media.get("taken_at")),
        likes=_count(media.get("like_count")),
        comments=_count(media.get("comment_count")),
        width=shown.get("width"),
        height=shown.get("height"),
    )


def _v1_records(medias: Iterable[Any], source: str, base_url: str) -> list[Json]:
    return _unique(
        v1_media_record(media, source, base_url)
        for media in medias
        if isinstance(media, dict) and isinstance(media.get("code"), str)
    )


def _v1_cursor(container: Json) -> tuple[str | None, bool]:
    return _text_or_none(container.get("next_max_id")), bool(container.get("more_available"))


def parse_v1_items(obj: Any, source: str, base_url: str = DEFAULT_BASE_URL) -> Page:
    """Shape c: ``{"items": [media...], "more_available", "next_max_id"}``: post info, user feed."""
    items = _dig(obj, "items")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise UnknownShape("not a v1 items response")
    if items and not any("code" in item for item in items):
        raise UnknownShape("v1 items without media codes")
    return Page(_v1_records(items, source, base_url), "v1_items", *_v1_cursor(obj))


def _section_medias(section: Any) -> Iterator[Any]:
    """The media objects of one section, whatever its layout (grid, fill items, clips)."""
    content = _dig(section, "layout_content") or {}
    wrappers = [
        *(content.get("medias") or []),
        *(content.get("fill_items") or []),
        *(_dig(content, "one_by_two_item", "clips", "items") or []),
    ]
    for wrapper in wrappers:
        yield _dig(wrapper, "media")


def parse_v1_sections(obj: Any, source: str, base_url: str = DEFAULT_BASE_URL) -> Page:
    """Shape d: the v1 tag feed in ``sections``, paginated by ``next_max_id``/``more_available``.

    Found as ``data.{top,recent}.sections``, ``{top,recent}.sections`` or top-level
    ``sections``; where both tabs are present, "recent" carries the cursor that goes deeper.
    """
    root = _dig(obj, "data") if isinstance(_dig(obj, "data"), dict) else obj
    feeds = [
        feed
        for feed in (_dig(root, "top"), _dig(root, "recent"), root)
        if isinstance(_dig(feed, "sections"), list)
    ]
    if not feeds:
        raise UnknownShape("not a v1 sections feed")
    sections = (section for feed in feeds for section in feed["sections"])
    medias = (media for section in sections for media in _section_medias(section))
    return Page(_v1_records(medias, source, base_url), "v1_sections", *_v1_cursor(feeds[-1]))


# --- detection over JSON ----------------------------------------------------------------------

ShapeParser = Callable[[Any, str, str], Page]
JSON_SHAPES: tuple[ShapeParser, ...] = (
    parse_graphql_tag_feed,
    parse_graphql_profile_feed,
    parse_graphql_location_feed,
    parse_graphql_post,
    parse_v1_sections,
    parse_v1_items,
)


def parse_json(obj: Any, source: str, base_url: str = DEFAULT_BASE_URL) -> Page:
    """Detect which JSON shape ``obj`` is and parse it; Blocked / UnknownShape otherwise."""
    kind = classify_json(obj)
    if kind:
        raise Blocked(kind, str(_dig(obj, "message") or "refused API response"))
    for parse_shape in JSON_SHAPES:
        try:
            return parse_shape(obj, source, base_url)
        except UnknownShape:
            continue
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # The shape's landmarks are there but something below them has the wrong type:
            # a corrupt or hand-edited file, reported like any other unusable input.
            name = parse_shape.__name__.removeprefix("parse_")
            raise UnknownShape(f"malformed {name} response ({type(exc).__name__}: {exc})") from exc
    if isinstance(obj, dict):
        keys = ", ".join(sorted(obj)[:6]) or "none"
        raise UnknownShape(f"unknown JSON shape (top-level keys: {keys})")
    raise UnknownShape(f"unknown JSON shape (a {type(obj).__name__}, not an object)")


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


# --- HTML: embedded JSON (shape e) ------------------------------------------------------------

# Only the *start* of each blob is located by pattern; the object itself is read by the JSON
# decoder, which copes with any whitespace, line breaks or trailing ";" a saved page may have.
_EMBEDDED_JSON_STARTS = (
    re.compile(r"""_sharedData\s*['"]?\s*\]?\s*=\s*(?=\{)"""),
    re.compile(r"""__additionalDataLoaded\s*\(\s*(?:'[^']*'|"[^"]*")\s*,\s*(?=\{)"""),
)
_DECODER = json.JSONDecoder()


def embedded_json(scripts: Iterable[str]) -> list[Any]:
    """Every ``window._sharedData = {...}`` and ``__additionalDataLoaded('...', {...})`` payload."""
    found = []
    for script in scripts:
        for start in _EMBEDDED_JSON_STARTS:
            for match in start.finditer(script):
                try:
                    found.append(_DECODER.raw_decode(script, match.end())[0])
                except json.JSONDecodeError:
                    continue  # a JS expression that merely mentions the name
    return found


def _payload_candidates(blob: Any) -> Iterator[Any]:
    """A _sharedData blob holds one payload per page type under ``entry_data``."""
    pages = _dig(blob, "entry_data")
    if isinstance(pages, dict):
        for entries in pages.values():
            yield from entries if isinstance(entries, list) else [entries]
    else:
        yield blob


def _shared_data_page(scan: PageScan, source: str, base_url: str) -> Page | None:
    blobs = list(embedded_json(scan.scripts))
    if not blobs:
        return None
    pages = []
    for blob in blobs:
        for payload in _payload_candidates(blob):
            try:
                pages.append(parse_json(payload, source, base_url))
            except UnknownShape:
                continue
    records = _unique(record for page in pages for record in page.records)
    paginated = next((page for page in pages if page.next_cursor), Page([], ""))
    return Page(records, "shared_data", paginated.next_cursor, paginated.more_available)


def parse_shared_data(html: str, source: str, base_url: str = DEFAULT_BASE_URL) -> Page:
    """Shape e: ``window._sharedData`` (PostPage, ProfilePage, TagPage, LocationsPage) and
    ``window.__additionalDataLoaded(...)`` embedded in a page's scripts."""
    page = _shared_data_page(scan_html(html), source, base_url)
    if page is None:
        raise UnknownShape("no window._sharedData or __additionalDataLoaded in the page")
    return page


# --- HTML: the logged-out post page's meta tags (shape g) -------------------------------------

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
    return Page([record], "og_meta")


def parse_post_meta(html: str, source: str, base_url: str = DEFAULT_BASE_URL) -> Page:
    """Shape g: a logged-out post page without JSON, read from its ``og:``/``al:`` meta tags."""
    page = _post_meta_page(scan_html(html), source, base_url)
    if page is None:
        raise UnknownShape("no post URL in the page's canonical link or og:url")
    return page


# --- detection over HTML and text -------------------------------------------------------------


def _is_instagram_page(scan: PageScan) -> bool:
    names = (scan.meta.get("og:site_name", ""), scan.meta.get("al:ios:app_name", ""), scan.title)
    return any("instagram" in name.lower() for name in names)


def parse_html(html: str, source: str, base_url: str = DEFAULT_BASE_URL) -> Page:
    """Detect shape e or g in a page; an Instagram page with no posts (the logged-out shell)
    gives zero records; a login/challenge/rate-limit page raises :class:`Blocked`."""
    scan = scan_html(html)
    kind = classify_scan(scan)
    if kind:
        raise Blocked(kind, "page is a block, not content")
    embedded = _shared_data_page(scan, source, base_url)
    if embedded is not None and embedded.records:
        return embedded
    post_meta = _post_meta_page(scan, source, base_url)
    if post_meta is not None:
        return post_meta
    if embedded is not None:  # e.g. a private profile: Instagram's data, no posts in it
        return embedded
    if _is_instagram_page(scan):
        return Page([], "html_shell")
    raise UnknownShape("HTML page with no Instagram post data")


def parse_text(text: str, source: str, base_url: str = DEFAULT_BASE_URL) -> Page:
    """A response body of either kind: JSON when it looks like JSON, HTML otherwise."""
    if looks_like_json(text):
        return parse_json(decode_json(text), source, base_url)
    return parse_html(text, source, base_url)
