"""The Instagram response shapes the demo site serves, built from a :class:`DemoPost`.

Two generations of the site: the "classic" shapes (v1 tag ``sections`` and user ``items``
feeds, the GraphQL ``shortcode_media`` a post page embeds with ``__additionalDataLoaded``) and
the "2026" shapes that instagram.com serves today, as public scrapers record them: the first
page of a tag, profile or post embedded in the HTML as Relay JSON (``data-sjs`` script blocks,
``xdt_api__v1__...`` roots), profile scrolling as the GraphQL timeline connection, keyword
search's ``media_grid`` and the reels (clips) feed. Both share the v1 media object and the
logged-out post page's ``og:description`` line. Image URLs come from a callable so that signing
stays in the server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from demo_site.generator import DemoPost, fit_size

THUMBNAIL_SIDE = 240
# image_url(post, n, max_side) -> absolute signed URL; max_side None is the full image.
ImageUrl = Callable[[DemoPost, int, int | None], str]


def _candidates(post: DemoPost, n: int, image_url: ImageUrl) -> dict[str, Any]:
    thumb_w, thumb_h = fit_size(post.width, post.height, THUMBNAIL_SIDE)
    return {
        "candidates": [
            {"url": image_url(post, n, None), "width": post.width, "height": post.height},
            {"url": image_url(post, n, THUMBNAIL_SIDE), "width": thumb_w, "height": thumb_h},
        ]
    }


def v1_media(post: DemoPost, image_url: ImageUrl) -> dict[str, Any]:
    """One v1 media object; carousels also carry the first image at the top level."""
    media: dict[str, Any] = {
        "pk": post.pk,
        "id": f"{post.pk}_{post.owner_pk}",
        "code": post.shortcode,
        "taken_at": post.taken_at,
        "media_type": 8 if post.is_carousel else 1,
        "caption": {"text": post.caption, "pk": f"{post.pk}1"} if post.caption else None,
        "like_count": post.likes,
        "comment_count": post.comments,
        "user": {"pk": post.owner_pk, "username": post.owner, "full_name": post.owner_full_name},
        "image_versions2": _candidates(post, 0, image_url),
        "original_width": post.width,
        "original_height": post.height,
    }
    if post.is_carousel:
        media["carousel_media_count"] = post.n_images
        media["carousel_media"] = [
            {
                "pk": str(int(post.pk) + n + 1),
                "id": f"{int(post.pk) + n + 1}_{post.owner_pk}",
                "media_type": 1,
                "image_versions2": _candidates(post, n, image_url),
                "original_width": post.width,
                "original_height": post.height,
            }
            for n in range(post.n_images)
        ]
    return media


def grid_sections(medias: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of three medias, as the tag page and the search grid show them."""
    return [
        {
            "layout_type": "media_grid",
            "feed_type": "media",
            "layout_content": {"medias": [{"media": m} for m in medias[k : k + 3]]},
        }
        for k in range(0, len(medias), 3)
    ]


def sections_feed(medias: Sequence[dict[str, Any]], next_max_id: str | None) -> dict[str, Any]:
    """The v1 tag feed (``/api/v1/tags/TAG/sections/``), also the ``top`` tab of web_info."""
    return {
        "sections": grid_sections(medias),
        "more_available": next_max_id is not None,
        "next_max_id": next_max_id,
        "status": "ok",
    }


def user_feed(medias: Sequence[dict[str, Any]], next_max_id: str | None) -> dict[str, Any]:
    return {
        "items": list(medias),
        "num_results": len(medias),
        "more_available": next_max_id is not None,
        "next_max_id": next_max_id,
        "status": "ok",
    }


def shortcode_media(post: DemoPost, image_url: ImageUrl) -> dict[str, Any]:
    """The GraphQL post object that post pages embed via ``__additionalDataLoaded``."""

    def image_node(n: int) -> dict[str, Any]:
        full = image_url(post, n, None)
        return {
            "__typename": "GraphImage",
            "id": str(int(post.pk) + n + 1) if post.is_carousel else post.pk,
            "display_url": full,
            "display_resources": [
                {"src": full, "config_width": post.width, "config_height": post.height}
            ],
            "dimensions": {"width": post.width, "height": post.height},
            "is_video": False,
        }

    media = image_node(0)
    media.update(
        {
            "__typename": "GraphSidecar" if post.is_carousel else "GraphImage",
            "id": post.pk,
            "shortcode": post.shortcode,
            "taken_at_timestamp": post.taken_at,
            "edge_media_to_caption": {
                "edges": [{"node": {"text": post.caption}}] if post.caption else []
            },
            "edge_media_preview_like": {"count": post.likes},
            "edge_media_to_comment": {"count": post.comments},
            "owner": {
                "id": post.owner_pk,
                "username": post.owner,
                "full_name": post.owner_full_name,
            },
        }
    )
    if post.is_carousel:
        media["edge_sidecar_to_children"] = {
            "edges": [{"node": image_node(n)} for n in range(post.n_images)]
        }
    return {"graphql": {"shortcode_media": media}}


def og_description(post: DemoPost) -> str:
    """``N likes, M comments - USER on Month D, YYYY: "CAPTION"`` as logged-out pages show it."""
    day = dt.datetime.fromtimestamp(post.taken_at, tz=dt.UTC)
    return (
        f"{post.likes:,} likes, {post.comments:,} comments - {post.owner} on "
        f'{day:%B} {day.day}, {day.year}: "{post.caption}"'
    )


# --- 2026 shapes ------------------------------------------------------------------------------


def relay_document(query_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """One ``<script type="application/json" data-sjs>`` block: a server-side Relay result.

    ``require`` -> ``ScheduledServerJS`` -> ``__bbox`` -> ``RelayPrefetchedStreamCache`` ->
    ``[query id, {__bbox: {result: {data}}}]``, the nesting today's pages use to hand the
    first page of a query to the client.
    """
    result = {"data": data, "extensions": {"is_final": True}}
    stream = [
        "RelayPrefetchedStreamCache",
        "next",
        [],
        [query_id, {"__bbox": {"complete": True, "result": result}}],
    ]
    return {"require": [["ScheduledServerJS", "handle", None, [{"__bbox": {"require": [stream]}}]]]}


def tag_web_info(
    tag: str, media_count: int, medias: Sequence[dict[str, Any]], next_max_id: str | None
) -> dict[str, Any]:
    """``xdt_api__v1__tags__web_info``: the tag page's header and its ``top`` grid (the web
    tag page shows top posts only; there is no ``recent`` tab any more)."""
    top = sections_feed(medias, next_max_id)
    del top["status"]
    return {
        "xdt_api__v1__tags__web_info": {
            "id": f"tag:{tag}",
            "name": tag,
            "media_count": media_count,
            "top": top | {"next_page": 1 if next_max_id else None},
        }
    }


def timeline_connection(medias: Sequence[dict[str, Any]], end_cursor: str | None) -> dict[str, Any]:
    """``xdt_api__v1__feed__user_timeline_graphql_connection``: a profile's posts as GraphQL
    edges whose nodes are v1 media objects, paged by ``page_info.end_cursor``."""
    return {
        "xdt_api__v1__feed__user_timeline_graphql_connection": {
            "edges": [{"node": m, "cursor": m["id"]} for m in medias],
            "page_info": {
                "end_cursor": end_cursor,
                "has_next_page": end_cursor is not None,
                "has_previous_page": False,
                "start_cursor": None,
            },
        }
    }


def graphql_timeline(medias: Sequence[dict[str, Any]], end_cursor: str | None) -> dict[str, Any]:
    """The ``/graphql/query`` answer to a profile scroll: the connection under ``data``."""
    data = timeline_connection(medias, end_cursor)
    return {"data": data, "extensions": {"is_final": True}, "status": "ok"}


def profile_header(post: DemoPost, media_count: int) -> dict[str, Any]:
    """The profile page's header query: the user, no media (posts come from the connection)."""
    return {
        "user": {
            "pk": post.owner_pk,
            "id": post.owner_pk,
            "username": post.owner,
            "full_name": post.owner_full_name,
            "media_count": media_count,
            "is_private": False,
        }
    }


def shortcode_web_info(media: dict[str, Any]) -> dict[str, Any]:
    """``xdt_api__v1__media__shortcode__web_info``: a post page's post, as a v1 media object."""
    return {"xdt_api__v1__media__shortcode__web_info": {"items": [media]}}


def top_serp(
    medias: Sequence[dict[str, Any]], next_max_id: str | None, rank_token: str
) -> dict[str, Any]:
    """``/api/v1/fbsearch/web/top_serp/``: keyword search, posts in ``media_grid.sections``,
    paged by ``next_max_id`` together with the search's ``rank_token``."""
    return {
        "media_grid": {
            "sections": grid_sections(medias),
            "has_more": next_max_id is not None,
            "next_max_id": next_max_id,
            "rank_token": rank_token,
        },
        "rank_token": rank_token,
        "see_more": None,
        "status": "ok",
    }


def clips_feed(medias: Sequence[dict[str, Any]], max_id: str | None) -> dict[str, Any]:
    """``/api/v1/clips/user/``: a profile's reels as ``items[].media``, paged by
    ``paging_info.max_id``."""
    return {
        "items": [{"media": m | {"product_type": "clips"}} for m in medias],
        "paging_info": {"max_id": max_id, "more_available": max_id is not None},
        "status": "ok",
    }
