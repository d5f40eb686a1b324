"""Instagram's two kinds of media object -> Contract 1 records (runtime.records.PostRecord).

A GraphQL node (``shortcode``, ``display_url``, ``edge_media_to_caption``...) and a v1 media
object (``code``, ``image_versions2``, ``caption.text``...) describe the same post with other
field names; one converter each makes sure the same post gives the same record in every
envelope (crawler.parsers finds the objects).
"""

from __future__ import annotations

from typing import Any

from runtime.records import DEFAULT_BASE_URL, PostRecord, make_record
from runtime.timestamps import timestamp_to_iso

Json = dict[str, Any]


def dig(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...`` or None when any step is missing or not an object."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _count(*values: Any) -> int | None:
    """The first of several GraphQL ``{"count": n}`` edges or plain numbers that holds an int."""
    for value in values:
        number = value.get("count") if isinstance(value, dict) else value
        if isinstance(number, int) and not isinstance(number, bool):
            return number
    return None


def text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


# --- GraphQL media nodes ----------------------------------------------------------------------


def _graphql_caption(node: Json) -> str:
    """The caption's text; ``accessibility_caption`` (machine alt text) is never used."""
    edges = dig(node, "edge_media_to_caption", "edges") or []
    texts = [dig(edge, "node", "text") for edge in edges]
    return next((text for text in texts if isinstance(text, str)), "")


def _graphql_children(node: Json) -> list[Json]:
    edges = dig(node, "edge_sidecar_to_children", "edges") or []
    return [edge["node"] for edge in edges if isinstance(dig(edge, "node"), dict)]


def _graphql_image_url(node: Json) -> str | None:
    """``display_url``, else the largest of ``display_resources``, else ``thumbnail_src``."""
    resources = [r for r in node.get("display_resources") or [] if r.get("src")]
    largest = max(
        resources,
        key=lambda r: (r.get("config_width") or 0) * (r.get("config_height") or 0),
        default={},
    )
    return node.get("display_url") or largest.get("src") or node.get("thumbnail_src")


def graphql_node_record(
    node: Json, source: str, base_url: str = DEFAULT_BASE_URL, owner: str | None = None
) -> PostRecord:
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
        _graphql_image_url(shown),
        source,
        base_url,
        post_id=text_or_none(node.get("id")),
        image_urls=child_urls or None,
        is_video=is_video if isinstance(is_video, bool) else None,
        owner=dig(node, "owner", "username") or owner,
        taken_at=timestamp_to_iso(node.get("taken_at_timestamp")),
        likes=_count(node.get("edge_liked_by"), node.get("edge_media_preview_like")),
        comments=_count(
            node.get("edge_media_to_comment"), node.get("edge_media_to_parent_comment")
        ),
        width=dimensions.get("width"),
        height=dimensions.get("height"),
    )


# --- v1 REST media ----------------------------------------------------------------------------


def _largest_candidate(media: Json) -> Json:
    """The biggest of ``image_versions2.candidates``: Instagram's order is not guaranteed."""
    candidates = [c for c in dig(media, "image_versions2", "candidates") or [] if c.get("url")]
    if not candidates:
        return {}
    return max(candidates, key=lambda c: (c.get("width") or 0) * (c.get("height") or 0))


def _v1_post_id(media: Json) -> str | None:
    if media.get("pk") is not None:
        return str(media["pk"])
    media_id = media.get("id")
    return str(media_id).split("_")[0] if media_id else None  # "<pk>_<owner pk>"


def v1_media_record(media: Json, source: str, base_url: str = DEFAULT_BASE_URL) -> PostRecord:
    """One v1 media object (``pk``, ``code``, ``image_versions2``, ``carousel_media``) -> record."""
    images = [_largest_candidate(child) for child in media.get("carousel_media") or []]
    images = [image for image in images if image] or [_largest_candidate(media)]
    shown = images[0]
    return make_record(
        media["code"],
        dig(media, "caption", "text"),
        shown.get("url"),
        source,
        base_url,
        post_id=_v1_post_id(media),
        image_urls=[image["url"] for image in images] if media.get("carousel_media") else None,
        is_video=media.get("media_type") == 2 if "media_type" in media else None,
        owner=dig(media, "user", "username"),
        taken_at=timestamp_to_iso(media.get("taken_at")),
        likes=_count(media.get("like_count")),
        comments=_count(media.get("comment_count")),
        width=shown.get("width"),
        height=shown.get("height"),
    )


# --- the walker -------------------------------------------------------------------------------
