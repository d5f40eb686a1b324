"""The Instagram-shaped demo site: tag/profile shells that scroll a v1 feed, post pages, media.

It runs on loopback in a background thread (stdlib ``ThreadingHTTPServer``: the real browser
loads a grid's images in parallel) and can misbehave the way Instagram does (see
:mod:`crawler.demo.faults`), so the crawler's handling of every failure is tested against a
real HTTP server.
"""

from __future__ import annotations

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
from collections import Counter
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from crawler.demo import payloads
from crawler.demo.faults import Faults
from crawler.demo.generator import DemoCorpus, DemoPost, media_path
from crawler.demo.rendering import PageRenderer
from crawler.demo.signing import MediaSigner
from runtime.config import default_config

log = logging.getLogger(__name__)

RATE_LIMIT_MESSAGE = "Please wait a few minutes before you try again."
# The bodies Instagram refuses with (as instaloader's and gallery-dl's trackers record them).
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
            "feedback_appeal_label": "Tell us",
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
_THUMBNAIL = re.compile(r"^s(\d+)x\d+$")


def check_site_config(config: dict[str, Any]) -> None:
    """Raise ValueError naming the first server key whose value cannot work."""
    if not isinstance(config.get("page_size"), int) or config["page_size"] < 1:
        raise ValueError(f"page_size must be a positive integer, got {config.get('page_size')!r}")


class DemoSite:
    """The demo site over a corpus; as a context manager it serves until the block exits.

    ``config`` holds keys of ``configs/demo.yaml``; missing keys take those defaults.
    ``clock`` dates media URL expiry (tests move it instead of sleeping).
    """

    def __init__(
        self,
        corpus: DemoCorpus,
        config: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.corpus = corpus
        self.config = {**default_config("demo"), **(config or {})}
        check_site_config(self.config)
        self.faults = Faults(self.config)
        secret = hashlib.sha256(f"demo-media:{self.config.get('seed', 0)}".encode()).digest()
        self.signer = MediaSigner(secret, int(self.config.get("media_ttl_seconds") or 0), clock)
        self.renderer = PageRenderer()
        self.base_url = ""
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

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
            self.start(self.config.get("host") or "127.0.0.1", int(self.config.get("port") or 0))
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
        size = int(self.config["page_size"])
        window = posts[start : start + size]
        more = start + size < len(posts)
        return window, (str(self.corpus.pk(window[-1])) if more and window else None)


def site_from_config(config: dict[str, Any]) -> DemoSite:
    """A (not yet started) site over the corpus the same config describes."""
    return DemoSite(DemoCorpus.from_config(config), config)


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
        """Apply the blocks of :mod:`crawler.demo.faults`; True when the request was answered."""
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
        if path.startswith("/api/"):
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
        return self._page(path, query.get("max_id"))

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
        shortcodes as file ids, so the seed's ``/predict?image_id=`` form works offline in the
        demo. Out of band like the helpers above."""
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

    def _page(self, path: str, start: str | None) -> None:
        site, corpus = self.site, self.site.corpus
        if path == "/":
            return self._html(site.renderer.index(corpus))
        if (match := _TAG_PAGE.match(path)) and (posts := corpus.tag_posts(tag := match.group(1))):
            quoted = urllib.parse.quote(tag)
            return self._html(
                site.renderer.feed_shell(
                    site.base_url,
                    f"/explore/tags/{quoted}/",
                    f"/api/v1/tags/{quoted}/sections/",
                    f"#{tag}",
                    f"{len(posts):,} posts",
                    f"#{tag} hashtag on Instagram • Photos and videos",
                    start,
                )
            )
        if match := _POST_PAGE.match(path):
            post = corpus.by_shortcode(match.group(1))
            if post is None or site.is_deleted(post.index):
                return self._not_found()
            return self._html(site.renderer.post_page(post, site.base_url, site.image_url))
        if (match := _PROFILE_PAGE.match(path)) and (
            posts := corpus.profile_posts(user := match.group(1))
        ):
            full_name = corpus.post(posts[0]).owner_full_name
            return self._html(
                site.renderer.feed_shell(
                    site.base_url,
                    f"/{user}/",
                    f"/api/v1/feed/user/{user}/",
                    user,
                    f"{full_name} • {len(posts):,} posts",
                    f"{full_name} (@{user}) • Instagram photos and videos",
                    start,
                )
            )
        return self._not_found()

    def _feed(self, path: str, query: dict[str, str]) -> None:
        if self._blocked(path):
            return None
        corpus = self.site.corpus
        if match := _TAG_FEED.match(path):
            posts, shape = corpus.tag_posts(match.group(1)), payloads.sections_feed
        elif match := _USER_FEED.match(path):
            posts, shape = corpus.profile_posts(match.group(1)), payloads.user_feed
        else:
            posts, shape = [], payloads.user_feed
        if not posts:
            self.site.count("status_404")
            return self._json({"message": "Page not found", "status": "fail"}, HTTPStatus.NOT_FOUND)
        try:
            window, cursor = self.site.feed_window(posts, query.get("max_id"))
        except ValueError as exc:
            return self._json({"message": str(exc), "status": "fail"}, HTTPStatus.BAD_REQUEST)
        medias = [payloads.v1_media(corpus.post(i), self.site.image_url) for i in window]
        return self._json(shape(medias, cursor))

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
        """The login form: any non-empty username and password get a session cookie."""
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode("utf-8", "replace")))
        if urllib.parse.urlsplit(self.path).path != "/accounts/login/":
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
