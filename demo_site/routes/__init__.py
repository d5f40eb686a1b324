"""The demo site's request handler, one route family per module: ``pages`` (HTML), ``feeds``
(the JSON feed APIs), ``media`` (images and out-of-band helpers), and ``base`` (answers, the
session cookie, the blocks). This module only dispatches, and answers the login form."""

from __future__ import annotations

import secrets
import urllib.parse

from demo_site.routes import paths
from demo_site.routes.feeds import FeedRoutes
from demo_site.routes.media import MediaRoutes
from demo_site.routes.pages import PageRoutes


class Handler(PageRoutes, FeedRoutes, MediaRoutes):
    """Routes one request to its family; all state lives on ``site``."""

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if match := paths.MEDIA.match(path):
            return self._media(path, match, query)
        if path in ("/robots.txt", "/api/demo/tags"):
            return self._out_of_band(path)
        if path == "/uc":
            return self._drive_download(query.get("id", ""))
        if path.startswith("/api/") or path in paths.GRAPHQL:
            self.site.count("xhr")
            return self._feed(path, query)
        if paths.POST_PAGE.match(path):
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

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        """Feed XHRs posted as forms (2026 tag, profile and reels scrolling) and the login
        form, where any non-empty username and password get a session cookie."""
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode("utf-8", "replace")))
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)  # a tag feed's path holds the tag %-encoded
        if path.startswith("/api/") or path in paths.GRAPHQL:
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
