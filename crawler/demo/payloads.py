"""The Instagram response shapes the demo site serves, built from a :class:`DemoPost`.

Shapes follow the crawler interface document: v1 media objects (tag "sections" and user
feeds), the GraphQL ``shortcode_media`` embedded in post pages, and the logged-out post
page's ``og:description`` line. Image URLs come from a callable so that signing stays in the
server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from crawler.demo.generator import DemoPost, fit_size

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


def sections_feed(medias: Sequence[dict[str, Any]], next_max_id: str | None) -> dict[str, Any]:
    """The v1 tag feed: rows of three medias, as the tag page grid shows them."""
    rows = [medias[k : k + 3] for k in range(0, len(medias), 3)]
    return {
        "sections": [
            {
                "layout_type": "media_grid",
                "feed_type": "media",
                "layout_content": {"medias": [{"media": m} for m in row]},
            }
            for row in rows
        ],
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
