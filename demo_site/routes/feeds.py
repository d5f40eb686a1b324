"""The demo site's feed APIs: v1 tag sections, user, clips and keyword-search feeds, and the
GraphQL profile timeline, each paged by its own cursor."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, NamedTuple

from demo_site import payloads
from demo_site.routes import paths
from demo_site.routes.base import Routes

# (posts, cursor) -> (the page's posts, the next cursor); ValueError for a foreign cursor
Window = Callable[[list[int], str | None], tuple[list[int], str | None]]


class FeedRoute(NamedTuple):
    """A feed request resolved: the feed's posts, the cursor sent, how to page, the shape."""

    posts: list[int]
    cursor: str | None
    window: Window
    shape: Callable[[list[dict[str, Any]], str | None], dict[str, Any]]


def _json_object(text: str) -> dict[str, Any]:
    """A form field holding a JSON object (GraphQL ``variables``), or {} when it is not one."""
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class FeedRoutes(Routes):
    """A feed request (GET or a posted form), answered as JSON."""

    def _feed(self, path: str, params: dict[str, str]) -> None:
        if self._blocked(path):
            return None
        site = self.site
        route = self._feed_route(path, params)
        if route is None or not route.posts:
            site.count("status_404")
            return self._json({"message": "Page not found", "status": "fail"}, HTTPStatus.NOT_FOUND)
        try:
            window, cursor = route.window(route.posts, route.cursor)
        except ValueError as exc:
            return self._json({"message": str(exc), "status": "fail"}, HTTPStatus.BAD_REQUEST)
        medias = [payloads.v1_media(site.corpus.post(i), site.image_url) for i in window]
        return self._json(route.shape(medias, cursor))

    def _feed_route(self, path: str, params: dict[str, str]) -> FeedRoute | None:
        """What a feed request asks for, or None when it names no feed of this site."""
        site = self.site
        if match := paths.TAG_FEED.match(path):
            posts = site.tag_posts(match.group(1))
            return FeedRoute(posts, params.get("max_id"), site.feed_window, payloads.sections_feed)
        if match := paths.USER_FEED.match(path):
            posts = site.corpus.profile_posts(match.group(1))
            return FeedRoute(posts, params.get("max_id"), site.feed_window, payloads.user_feed)
        if path == paths.CLIPS_FEED:
            user = site.owner_of(params.get("target_user_id", ""))
            posts = site.reels(user) if user else []
            return FeedRoute(posts, params.get("max_id"), site.feed_window, payloads.clips_feed)
        if path == paths.SEARCH_FEED:
            text = params.get("query", "").strip()
            if params.get("next_max_id") and params.get("rank_token") != site.rank_token(text):
                return None  # a page of a search session that does not exist
            token = site.rank_token(text)
            return FeedRoute(
                site.search_results(text) if text else [],
                params.get("next_max_id"),
                site.search_window,
                lambda medias, cursor: payloads.top_serp(medias, cursor, token),
            )
        if path in paths.GRAPHQL:
            variables = _json_object(params.get("variables", ""))
            after = variables.get("after")
            return FeedRoute(
                site.corpus.profile_posts(str(variables.get("username", ""))),
                after if isinstance(after, str) else None,
                site.feed_window,
                payloads.graphql_timeline,
            )
        return None
