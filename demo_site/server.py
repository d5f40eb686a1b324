"""The Instagram-shaped demo site: tag, profile, search and reels pages that scroll a feed,
post pages, media.

``shapes`` (configs/demo.yaml) picks the generation of the site: "2026" embeds the first page of
a tag, profile or post in the HTML as Relay JSON and scrolls through today's endpoints (POST
``/graphql/query`` for profiles); "classic" serves empty page shells that fetch every page from
the v1 feeds, as the site did before. Keyword search and reels are served in both.

It runs on loopback in a background thread (stdlib ``ThreadingHTTPServer``: the real browser
loads a grid's images in parallel) and can misbehave the way Instagram does (see
:mod:`demo_site.faults`), so the crawler's handling of every failure is tested against a
real HTTP server. This module holds the site's state (:class:`DemoSite`: the corpus, feed
windows, counters, the server thread); :mod:`demo_site.routes` answers the requests.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import logging
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from http.server import ThreadingHTTPServer
from typing import Any

from demo_site.faults import Faults
from demo_site.generator import OWNER_PK_BASE, DemoCorpus, DemoPost, media_path
from demo_site.rendering import PageRenderer
from demo_site.routes import Handler
from demo_site.settings import DemoSettings
from demo_site.signing import MediaSigner
from runtime.settings import validate

log = logging.getLogger(__name__)

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
REELS_EVERY = 4  # every fourth post of a profile is also one of its reels


class _Server(ThreadingHTTPServer):
    """The stdlib server, except that a client hanging up mid-answer (a browser quitting, a
    crawl stopped by a login wall) is routine here: logged at debug level, not a traceback
    printed on the terminal of whoever runs the site."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("client %s hung up", client_address)
            return
        super().handle_error(request, client_address)


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
        self.settings = settings = validate(DemoSettings, config or {}, "bad demo config: ")
        self.faults = Faults(settings)
        secret = hashlib.sha256(f"demo-media:{settings.seed}".encode()).digest()
        self.signer = MediaSigner(secret, settings.media_ttl_seconds, clock)
        self.renderer = PageRenderer()
        self.base_url = ""
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self.shapes = settings.shapes
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._searches: dict[str, list[int]] = {}

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a daemon thread; port 0 picks a free port. Returns the base URL."""
        handler = type("DemoHandler", (Handler,), {"site": self})
        self._server = _Server((host, port), handler)
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


def site_from_settings(settings: DemoSettings) -> DemoSite:
    """A (not yet started) site over the corpus the same settings describe."""
    return DemoSite(DemoCorpus.from_settings(settings), settings)
