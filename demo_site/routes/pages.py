"""The demo site's HTML pages: home, tag, profile, reels, keyword search and post pages.

``shapes: 2026`` pages embed their first feed page as Relay JSON; ``classic`` ones are empty
shells whose script fetches every page from the v1 feeds.
"""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Any

from demo_site import payloads, rendering
from demo_site.generator import DemoPost
from demo_site.routes import paths
from demo_site.routes.base import Routes


class PageRoutes(Routes):
    """GET of an HTML page (after the blocks and counting of ``do_GET``)."""

    def _page(self, path: str, query: dict[str, str]) -> None:
        site, corpus, start = self.site, self.site.corpus, query.get("max_id")
        if path == "/":
            return self._html(site.renderer.index(corpus))
        if path == paths.SEARCH_PAGE and query.get("q", "").strip():
            return self._search_page(query["q"].strip(), start)
        if (match := paths.TAG_PAGE.match(path)) and (
            posts := site.tag_posts(tag := match.group(1))
        ):
            return self._tag_page(tag, posts, start)
        if match := paths.POST_PAGE.match(path):
            post = corpus.by_shortcode(match.group(1))
            if post is None or site.is_deleted(post.index):
                return self._not_found()
            return self._html(
                site.renderer.post_page(post, site.base_url, site.image_url, self._post_data(post))
            )
        if (match := paths.REELS_PAGE.match(path)) and (
            posts := site.reels(user := match.group(1))
        ):
            owner = corpus.post(posts[0])
            return self._html(
                site.renderer.feed_page(
                    site.base_url,
                    f"/{user}/reels/",
                    (user, "Reels", f"{owner.owner_full_name} (@{user}) • Instagram reels"),
                    {
                        "feed": paths.CLIPS_FEED,
                        "method": "POST",
                        "params": {"target_user_id": owner.owner_pk, "page_size": "12"},
                        "cursor": "max_id",
                        "start": start,
                    },
                )
            )
        if (match := paths.PROFILE_PAGE.match(path)) and (
            posts := corpus.profile_posts(user := match.group(1))
        ):
            return self._profile_page(user, posts, start)
        return self._not_found()

    def _post_data(self, post: DemoPost) -> str:
        """2026: the post as a data-sjs Relay block; classic: ``__additionalDataLoaded``."""
        if self.site.shapes == "classic":
            payload = payloads.shortcode_media(post, self.site.image_url)
            return rendering.additional_data(f"/p/{post.shortcode}/", payload)
        media = payloads.v1_media(post, self.site.image_url)
        document = payloads.relay_document(paths.POST_QUERY, payloads.shortcode_web_info(media))
        return rendering.sjs_blocks([document])

    def _embedded_window(
        self, posts: list[int], start: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The first page a 2026 page embeds (from the page's own ``?max_id=`` on a resume)."""
        window, cursor = self.site.feed_window(posts, start)
        medias = [payloads.v1_media(self.site.corpus.post(i), self.site.image_url) for i in window]
        return medias, cursor

    def _tag_page(self, tag: str, posts: list[int], start: str | None) -> None:
        site, quoted = self.site, urllib.parse.quote(tag)
        texts = (
            f"#{tag}",
            f"{len(posts):,} posts",
            f"#{tag} hashtag on Instagram • Photos and videos",
        )
        feed = {"feed": f"/api/v1/tags/{quoted}/sections/", "cursor": "max_id", "start": start}
        if site.shapes == "classic":
            return self._html(
                site.renderer.feed_page(site.base_url, f"/explore/tags/{quoted}/", texts, feed)
            )
        try:
            medias, cursor = self._embedded_window(posts, start)
        except ValueError:
            return self._not_found()
        data = payloads.tag_web_info(tag, len(posts), medias, cursor)
        feed |= {"method": "POST", "params": {"tab": "top", "surface": "grid"}, "start": cursor}
        return self._html(
            site.renderer.feed_page(
                site.base_url,
                f"/explore/tags/{quoted}/",
                texts,
                feed | {"embedded": True, "more": cursor is not None},
                [payloads.relay_document(paths.TAG_QUERY, data)],
            )
        )

    def _profile_page(self, user: str, posts: list[int], start: str | None) -> None:
        site = self.site
        first = site.corpus.post(posts[0])
        texts = (
            user,
            f"{first.owner_full_name} • {len(posts):,} posts",
            f"{first.owner_full_name} (@{user}) • Instagram photos and videos",
        )
        if site.shapes == "classic":
            feed = {"feed": f"/api/v1/feed/user/{user}/", "cursor": "max_id", "start": start}
            return self._html(site.renderer.feed_page(site.base_url, f"/{user}/", texts, feed))
        try:
            medias, cursor = self._embedded_window(posts, start)
        except ValueError:
            return self._not_found()
        feed = {
            "feed": "/graphql/query",
            "method": "POST",
            "params": {
                "doc_id": paths.TIMELINE_DOC_ID,
                "fb_api_req_friendly_name": paths.TIMELINE_QUERY,
            },
            "headers": {"X-FB-Friendly-Name": paths.TIMELINE_QUERY},
            "variables": {"username": user, "data": {"count": 12}, "first": 12},
            "cursor": "after",
            "start": cursor,
            "embedded": True,
            "more": cursor is not None,
        }
        blocks = [
            payloads.relay_document(
                paths.PROFILE_QUERY, payloads.profile_header(first, len(posts))
            ),
            payloads.relay_document(
                paths.TIMELINE_QUERY, payloads.timeline_connection(medias, cursor)
            ),
        ]
        return self._html(site.renderer.feed_page(site.base_url, f"/{user}/", texts, feed, blocks))

    def _search_page(self, text: str, start: str | None) -> None:
        site = self.site
        found = site.search_results(text)
        texts = (text, f"{len(found):,} results", f"{text} - Search results • Instagram")
        feed = {
            "feed": paths.SEARCH_FEED,
            "params": {
                "enable_metadata": "true",
                "query": text,
                "search_session_id": str(uuid.uuid4()),
            }
            | ({"rank_token": site.rank_token(text)} if start else {}),
            "cursor": "next_max_id",
            "echo": ["rank_token"],
            "start": start,
        }
        path = f"{paths.SEARCH_PAGE}?{urllib.parse.urlencode({'q': text})}"
        return self._html(site.renderer.feed_page(site.base_url, path, texts, feed))
