"""The Instagram-shaped demo site: tag, profile, search and reels pages that scroll a feed,
post pages, media.

``shapes`` (configs/demo.yaml) picks the generation of the site: "2026" embeds the first page of
a tag, profile or post in the HTML as Relay JSON and scrolls through today's endpoints (POST
``/graphql/query`` for profiles); "classic" serves empty page shells that fetch every page from
the v1 feeds, as the site did before. Keyword search and reels are served in both.

It runs on loopback in a background thread (stdlib ``ThreadingHTTPServer``: the real browser
loads a grid's images in parallel) and can misbehave the way Instagram does (see
:mod:`demo_site.faults`), so the crawler's handling of every failure is tested against a
real HTTP server.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import http.cookies
import json
import logging
import re
import secrets
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

from demo_site import payloads, rendering
from demo_site.faults import Faults
from demo_site.generator import OWNER_PK_BASE, DemoCorpus, DemoPost, media_path
from demo_site.rendering import PageRenderer
from demo_site.settings import DemoSettings
from demo_site.signing import MediaSigner
from runtime.settings import validate

log = logging.getLogger(__name__)

RATE_LIMIT_MESSAGE = "Please wait a few minutes before you try again."
# The bodies Instagram refuses with (as instaloader's and gallery-dl's trackers record them);
# tests/crawler/test_throttle.py checks the block classifier on these same bodies.
REFUSALS: dict[str, tuple[int, dict[str, Any]]] = {
    "http_429": (HTTPStatus.TOO_MANY_REQUESTS, {"message": RATE_LIMIT_MESSAGE, "status": "fail"}),
    "wait_401": (
        HTTPStatus.UNAUTHORIZED,
        {"message": RATE_LIMIT_MESSAGE, "require_login": True, "status": "fail"},
    ),
    "graphql_errors": (
        HTTPStatus.OK,
        {
            "data": None,
            "errors": [
                {
                    "message": "Rate limit exceeded",
                    "severity": "CRITICAL",
                    "code": 1675004,
                    "summary": "Rate limit exceeded",
                    "description": RATE_LIMIT_MESSAGE,
                    "is_silent": False,
                    "is_transient": True,
                    "requires_reauth": False,
                }
            ],
            "extensions": {"is_final": True},
            "status": "ok",
        },
    ),
    "feedback": (
        HTTPStatus.BAD_REQUEST,
        {
            "message": "feedback_required",
            "spam": True,
            "feedback_title": "Try Again Later",
            "feedback_message": "We limit how often you can do certain things on Instagram to "
            "protect our community. Tell us if you think we made a mistake.",
            "feedback_url": "repute/report_problem/scraping/",
            "feedback_action": "report_problem",
            "feedback_appeal_label": "Tell us",
            "restriction_enrollment_data": "",
            "status": "fail",
        },
    ),
}
BROKEN_MEDIA_BODY = (
    b"<!DOCTYPE html><html><body><h1>Sorry, something went wrong.</h1></body></html>"
)
COUNTER_KEYS = (
    "pages",
    "xhr",
    "media",
    "post_pages",
    "status_429",
    "status_401",
    "graphql_errors",
    "feedback_required",
    "login_redirects",
    "logged_out_redirects",
    "challenge_redirects",
    "logins",
    "media_403",
    "media_truncated",
    "media_non_image",
    "status_404",
    "other",
)
_REFUSAL_COUNTERS = {
    "http_429": "status_429",
    "wait_401": "status_401",
    "graphql_errors": "graphql_errors",
    "feedback": "feedback_required",
}
_MEDIA = re.compile(r"^/media/(\d+)(?:_(\d+))?\.jpg$")
_TAG_PAGE = re.compile(r"^/explore/tags/([^/]+)/$")
_TAG_FEED = re.compile(r"^/api/v1/tags/([^/]+)/sections/$")
_USER_FEED = re.compile(r"^/api/v1/feed/user/([^/]+)/$")
_POST_PAGE = re.compile(r"^/p/([A-Za-z0-9_-]+)/$")
_PROFILE_PAGE = re.compile(r"^/([A-Za-z0-9._]+)/$")
_REELS_PAGE = re.compile(r"^/([A-Za-z0-9._]+)/reels/$")
_SEARCH_PAGE = "/explore/search/keyword/"
_SEARCH_FEED = "/api/v1/fbsearch/web/top_serp/"
_CLIPS_FEED = "/api/v1/clips/user/"
_GRAPHQL = frozenset({"/graphql/query", "/graphql/query/", "/api/graphql"})
# What the 2026 pages name their queries (the Relay query id of each data-sjs block).
TIMELINE_QUERY = "PolarisProfilePostsTabContentQuery_connection"
PROFILE_QUERY = "PolarisProfilePageContentQuery"
TAG_QUERY = "PolarisTagPageQuery"
POST_QUERY = "PolarisPostRootQuery"
TIMELINE_DOC_ID = "7950326061742207"  # the doc_id the profile page posts with its variables
REELS_EVERY = 4  # every fourth post of a profile is also one of its reels
_THUMBNAIL = re.compile(r"^s(\d+)x\d+$")


class DemoSite:
    """The demo site over a corpus; as a context manager it serves until the block exits.

    ``config``: its settings, or some keys of ``configs/demo.yaml`` (the rest: its values).
    ``clock`` dates media URL expiry (tests move it instead of sleeping).
    """

    def __init__(
        self,
        corpus: DemoCorpus,
        config: DemoSettings | Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.corpus = corpus
        if not isinstance(config, DemoSettings):
            config = validate(DemoSettings, config or {}, "bad demo config: ")
        self.settings = config
        self.faults = Faults(config)
        secret = hashlib.sha256(f"demo-media:{config.seed}".encode()).digest()
        self.signer = MediaSigner(secret, config.media_ttl_seconds, clock)
        self.renderer = PageRenderer()
        self.base_url = ""
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self.shapes = config.shapes
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._searches: dict[str, list[int]] = {}

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a daemon thread; port 0 picks a free port. Returns the base URL."""
        handler = type("DemoHandler", (_Handler,), {"site": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        bound_host, bound_port = self._server.server_address[:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="demo-site", daemon=True
        )
        self._thread.start()
        log.info("demo site serving %d posts at %s", len(self.corpus), self.base_url)
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> DemoSite:
        if self._server is None:
            self.start(self.settings.host, self.settings.port)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def counters(self) -> dict[str, int]:
        """Requests served so far by kind. ``pages`` counts HTML page loads other than post
        pages (which ``post_pages`` counts), so a crawl's budget is pages + post_pages + xhr."""
        with self._lock:
            counts = dict(self._counts)
        return {key: 0 for key in COUNTER_KEYS} | counts

    def count(self, *keys: str) -> None:
        with self._lock:
            self._counts.update(keys)

    def is_deleted(self, index: int) -> bool:
        return self.faults.is_deleted(index)

    def media_fault(self, index: int, n: int) -> str | None:
        return self.faults.media_fault(index, n)

    def image_url(self, post: DemoPost, n: int, max_side: int | None) -> str:
        """An absolute media URL signed with an expiry, as Instagram's CDN URLs are."""
        path = media_path(post.pk, n)
        stp = f"s{max_side}x{max_side}" if max_side else ""
        return f"{self.base_url}{path}?{self.signer.query(path, stp)}"

    def tag_posts(self, tag: str) -> list[int]:
        """A tag page's posts: with ``tag_top_posts`` set, only that many (the web tag page
        of 2026 shows top posts only; keyword search goes deeper)."""
        posts = self.corpus.tag_posts(tag)
        top = self.settings.tag_top_posts
        return posts[:top] if top else posts

    def reels(self, user: str) -> list[int]:
        return [i for i in self.corpus.profile_posts(user) if i % REELS_EVERY == 0]

    def owner_of(self, user_pk: str) -> str | None:
        """The username of an owner pk (the reels feed is asked for by user id)."""
        k = int(user_pk) - OWNER_PK_BASE if user_pk.isdigit() else -1
        names = self.corpus.owner_names
        return names[k] if 0 <= k < len(names) and self.corpus.profile_posts(names[k]) else None

    def search_results(self, query: str) -> list[int]:
        """Keyword search: the posts of every tag named in the query (``#`` optional), in a
        relevance order of their own (a fixed shuffle per query), not newest first."""
        key = " ".join(query.casefold().split())
        with self._lock:
            cached = self._searches.get(key)
        if cached is not None:
            return cached
        terms = {term.lstrip("#＃") for term in key.split()}
        found = {i for term in terms for i in self.corpus.tag_posts(term)}
        seed = self.settings.seed
        ranked = sorted(found, key=lambda i: hashlib.blake2b(f"{seed}:{key}:{i}".encode()).digest())
        with self._lock:
            self._searches[key] = ranked
        return ranked

    def rank_token(self, query: str) -> str:
        """The search session's token, which every next page must send back."""
        digest = hashlib.blake2b(f"{self.settings.seed}:{query}".encode(), digest_size=16)
        return str(uuid.UUID(bytes=digest.digest()))

    def search_window(self, posts: list[int], max_id: str | None) -> tuple[list[int], str | None]:
        """One page of ranked search results after cursor ``max_id`` (an opaque offset).

        Raises ValueError for a cursor this search never handed out.
        """
        start = 0
        if max_id:
            offset = _decode_offset(max_id)
            if offset is None or not 0 < offset < len(posts):
                raise ValueError(f"invalid next_max_id {max_id!r}")
            start = offset
        end = start + self.settings.page_size
        return posts[start:end], (_encode_offset(end) if end < len(posts) else None)

    def feed_window(self, posts: list[int], max_id: str | None) -> tuple[list[int], str | None]:
        """One page of a newest-first feed after cursor ``max_id`` (the pk of the last post).

        Raises ValueError for a cursor that is not a post of this site.
        """
        start = 0
        if max_id:
            last = self.corpus.index_of_pk(int(max_id)) if max_id.isdigit() else None
            if last is None:
                raise ValueError(f"invalid max_id {max_id!r}")
            start = bisect.bisect_right(posts, -last, key=lambda i: -i)
        size = self.settings.page_size
        window = posts[start : start + size]
        more = start + size < len(posts)
        return window, (str(self.corpus.pk(window[-1])) if more and window else None)


def _encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"serp:{offset}".encode()).decode().rstrip("=")


def _decode_offset(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    kind, _, number = text.partition(":")
    return int(number) if kind == "serp" and number.isdigit() else None


# (posts, cursor) -> (the page's posts, the next cursor); ValueError for a foreign cursor
Window = Callable[[list[int], str | None], tuple[list[int], str | None]]


class _FeedRoute(NamedTuple):
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


def site_from_settings(settings: DemoSettings) -> DemoSite:
    """A (not yet started) site over the corpus the same settings describe."""
    return DemoSite(DemoCorpus.from_settings(settings), settings)


class _Handler(BaseHTTPRequestHandler):
    """Routes one request; all state lives on ``site``."""

    site: DemoSite
    protocol_version = "HTTP/1.1"
    server_version = "DemoInstagram/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s %s", self.address_string(), format % args)

    # --- responses --------------------------------------------------------------------------

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in ({"Cache-Control": "no-store"} | (headers or {})).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _html(self, body: bytes, status: int = HTTPStatus.OK) -> None:
        self._send(status, body, "text/html; charset=utf-8")

    def _json(
        self, obj: Any, status: int = HTTPStatus.OK, headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _redirect(self, location: str, headers: dict[str, str] | None = None) -> None:
        self._send(
            HTTPStatus.FOUND,
            b"",
            "text/html; charset=utf-8",
            {"Location": location} | (headers or {}),
        )

    def _not_found(self) -> None:
        self.site.count("status_404")
        self._html(self.site.renderer.not_found(), HTTPStatus.NOT_FOUND)

    def _logged_in(self) -> bool:
        cookie = http.cookies.SimpleCookie()
        try:
            cookie.load(self.headers.get("Cookie", ""))
        except http.cookies.CookieError:
            return False
        return bool(cookie.get("sessionid") and cookie["sessionid"].value)

    def _blocked(self, path: str) -> bool:
        """Apply the blocks of :mod:`demo_site.faults`; True when the request was answered."""
        block = self.site.faults.block(self._logged_in())
        if block is None or (block.kind == "logged_out" and path == "/"):
            return False  # the home page is where logged-out visitors are sent, not a block
        if block.kind in ("rate_limit", "feedback"):
            answer = block.answer if block.kind == "rate_limit" else "feedback"
            status, body = REFUSALS[answer]
            self.site.count(_REFUSAL_COUNTERS[answer])
            retry = {"Retry-After": str(block.retry_after)} if answer == "http_429" else {}
            self._json(body, status, retry)
        elif block.kind == "logged_out":
            self.site.count("logged_out_redirects")
            self._redirect(block.location or "/")
        else:
            self.site.count(f"{block.kind}_redirects")
            self._redirect(f"{block.location}?{urllib.parse.urlencode({'next': self.path})}")
        return True

    # --- routes -----------------------------------------------------------------------------

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if match := _MEDIA.match(path):
            return self._media(path, match, query)
        if path in ("/robots.txt", "/api/demo/tags"):
            return self._out_of_band(path)
        if path == "/uc":
            return self._drive_download(query.get("id", ""))
        if path.startswith("/api/") or path in _GRAPHQL:
            self.site.count("xhr")
            return self._feed(path, query)
        if _POST_PAGE.match(path):
            self.site.count("post_pages")
        else:
            self.site.count("pages")
        if path == "/accounts/login/":
            return self._html(self.site.renderer.login(self.site.base_url, query.get("next", "/")))
        if path == "/challenge/":
            return self._html(self.site.renderer.challenge(self.site.base_url))
        if self._blocked(path):
            return None
        return self._page(path, query)

    def _out_of_band(self, path: str) -> None:
        """Helpers for scripts (readiness probe, tag list): never blocked, never counted as
        page or XHR, so they leave a crawl's request budget alone."""
        self.site.count("other")
        if path == "/robots.txt":
            return self._send(
                HTTPStatus.OK,
                b"# Instagram-shaped demo site\nUser-agent: *\nAllow: /\n",
                "text/plain; charset=utf-8",
            )
        corpus = self.site.corpus
        return self._json(
            {
                "tags": corpus.tags(),
                "posts": {tag: len(corpus.tag_posts(tag)) for tag in corpus.tags()},
                "n_posts": len(corpus),
                "status": "ok",
            }
        )

    def _drive_download(self, file_id: str) -> None:
        """Google Drive's public download endpoint (``/uc?export=download&id=...``) with post
        shortcodes as file ids, so the original project's ``/predict?image_id=`` form works
        offline in the demo. Out of band like the helpers above."""
        self.site.count("other")
        post = self.site.corpus.by_shortcode(file_id)
        if post is None:
            return self._not_found()
        return self._send(
            HTTPStatus.OK,
            self.site.corpus.render_image(post.index, 0, None),
            "image/jpeg",
            {"Content-Disposition": f'attachment; filename="{file_id}.jpg"'},
        )

    def _page(self, path: str, query: dict[str, str]) -> None:
        site, corpus, start = self.site, self.site.corpus, query.get("max_id")
        if path == "/":
            return self._html(site.renderer.index(corpus))
        if path == _SEARCH_PAGE and query.get("q", "").strip():
            return self._search_page(query["q"].strip(), start)
        if (match := _TAG_PAGE.match(path)) and (posts := site.tag_posts(tag := match.group(1))):
            return self._tag_page(tag, posts, start)
        if match := _POST_PAGE.match(path):
            post = corpus.by_shortcode(match.group(1))
            if post is None or site.is_deleted(post.index):
                return self._not_found()
            return self._html(
                site.renderer.post_page(post, site.base_url, site.image_url, self._post_data(post))
            )
        if (match := _REELS_PAGE.match(path)) and (posts := site.reels(user := match.group(1))):
            owner = corpus.post(posts[0])
            return self._html(
                site.renderer.feed_page(
                    site.base_url,
                    f"/{user}/reels/",
                    (user, "Reels", f"{owner.owner_full_name} (@{user}) • Instagram reels"),
                    {
                        "feed": _CLIPS_FEED,
                        "method": "POST",
                        "params": {"target_user_id": owner.owner_pk, "page_size": "12"},
                        "cursor": "max_id",
                        "start": start,
                    },
                )
            )
        if (match := _PROFILE_PAGE.match(path)) and (
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
        document = payloads.relay_document(POST_QUERY, payloads.shortcode_web_info(media))
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
                [payloads.relay_document(TAG_QUERY, data)],
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
            "params": {"doc_id": TIMELINE_DOC_ID, "fb_api_req_friendly_name": TIMELINE_QUERY},
            "headers": {"X-FB-Friendly-Name": TIMELINE_QUERY},
            "variables": {"username": user, "data": {"count": 12}, "first": 12},
            "cursor": "after",
            "start": cursor,
            "embedded": True,
            "more": cursor is not None,
        }
        blocks = [
            payloads.relay_document(PROFILE_QUERY, payloads.profile_header(first, len(posts))),
            payloads.relay_document(TIMELINE_QUERY, payloads.timeline_connection(medias, cursor)),
        ]
        return self._html(site.renderer.feed_page(site.base_url, f"/{user}/", texts, feed, blocks))

    def _search_page(self, text: str, start: str | None) -> None:
        site = self.site
        found = site.search_results(text)
        texts = (text, f"{len(found):,} results", f"{text} - Search results • Instagram")
        feed = {
            "feed": _SEARCH_FEED,
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
        path = f"{_SEARCH_PAGE}?{urllib.parse.urlencode({'q': text})}"
        return self._html(site.renderer.feed_page(site.base_url, path, texts, feed))

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

    def _feed_route(self, path: str, params: dict[str, str]) -> _FeedRoute | None:
        """What a feed request asks for, or None when it names no feed of this site."""
        site = self.site
        if match := _TAG_FEED.match(path):
            posts = site.tag_posts(match.group(1))
            return _FeedRoute(posts, params.get("max_id"), site.feed_window, payloads.sections_feed)
        if match := _USER_FEED.match(path):
            posts = site.corpus.profile_posts(match.group(1))
            return _FeedRoute(posts, params.get("max_id"), site.feed_window, payloads.user_feed)
        if path == _CLIPS_FEED:
            user = site.owner_of(params.get("target_user_id", ""))
            posts = site.reels(user) if user else []
            return _FeedRoute(posts, params.get("max_id"), site.feed_window, payloads.clips_feed)
        if path == _SEARCH_FEED:
            text = params.get("query", "").strip()
            if params.get("next_max_id") and params.get("rank_token") != site.rank_token(text):
                return None  # a page of a search session that does not exist
            token = site.rank_token(text)
            return _FeedRoute(
                site.search_results(text) if text else [],
                params.get("next_max_id"),
                site.search_window,
                lambda medias, cursor: payloads.top_serp(medias, cursor, token),
            )
        if path in _GRAPHQL:
            variables = _json_object(params.get("variables", ""))
            after = variables.get("after")
            return _FeedRoute(
                site.corpus.profile_posts(str(variables.get("username", ""))),
                after if isinstance(after, str) else None,
                site.feed_window,
                payloads.graphql_timeline,
            )
        return None

    def _media(self, path: str, match: re.Match[str], query: dict[str, str]) -> None:
        site = self.site
        site.count("media")
        refusal = site.signer.refusal(path, query)
        if refusal:
            site.count("media_403")
            return self._send(HTTPStatus.FORBIDDEN, refusal.encode(), "text/plain; charset=utf-8")
        index = site.corpus.index_of_pk(int(match.group(1)))
        n = int(match.group(2) or 0)
        if index is None or n >= site.corpus.post(index).n_images:
            return self._not_found()
        fault = site.media_fault(index, n)
        if fault == "non_image":  # an error page labelled as a JPEG, as CDNs sometimes send
            site.count("media_non_image")
            return self._send(HTTPStatus.OK, BROKEN_MEDIA_BODY, "image/jpeg")
        thumbnail = _THUMBNAIL.match(query.get("stp", ""))
        body = site.corpus.render_image(index, n, int(thumbnail.group(1)) if thumbnail else None)
        if fault == "truncated":
            site.count("media_truncated")
            body = body[: len(body) // 2]
        return self._send(
            HTTPStatus.OK, body, "image/jpeg", {"Cache-Control": "private, max-age=600"}
        )

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        """Feed XHRs posted as forms (2026 tag, profile and reels scrolling) and the login
        form, where any non-empty username and password get a session cookie."""
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode("utf-8", "replace")))
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)  # a tag feed's path holds the tag %-encoded
        if path.startswith("/api/") or path in _GRAPHQL:
            self.site.count("xhr")
            return self._feed(path, dict(urllib.parse.parse_qsl(url.query)) | form)
        if path != "/accounts/login/":
            return self._not_found()
        self.site.count("pages")
        target = form.get("next", "/")
        if not form.get("username") or not form.get("password"):
            return self._html(
                self.site.renderer.login(
                    self.site.base_url,
                    target,
                    "Sorry, your password was incorrect. Please double-check your password.",
                )
            )
        self.site.count("logins")
        if not target.startswith("/") or target.startswith("//"):
            target = "/"  # never an open redirect
        cookie = f"sessionid={secrets.token_hex(16)}; Path=/; HttpOnly; SameSite=Lax"
        return self._redirect(target, {"Set-Cookie": cookie})
