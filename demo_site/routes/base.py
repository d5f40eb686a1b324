"""What every route family of the demo site shares: writing an answer, reading the session
cookie, and the blocks of :mod:`demo_site.faults` (a refusal, a login wall, a challenge)."""

from __future__ import annotations

import http.cookies
import json
import logging
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from demo_site.refusals import REFUSAL_COUNTERS, REFUSALS

if TYPE_CHECKING:
    from demo_site.server import DemoSite

log = logging.getLogger(__name__)


class Routes(BaseHTTPRequestHandler):
    """The base of the route families; all state lives on ``site``."""

    site: DemoSite
    protocol_version = "HTTP/1.1"
    server_version = "DemoInstagram/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s %s", self.address_string(), format % args)

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
            self.site.count(REFUSAL_COUNTERS[answer])
            retry = {"Retry-After": str(block.retry_after)} if answer == "http_429" else {}
            self._json(body, status, retry)
        elif block.kind == "logged_out":
            self.site.count("logged_out_redirects")
            self._redirect(block.location or "/")
        else:
            self.site.count(f"{block.kind}_redirects")
            self._redirect(f"{block.location}?{urllib.parse.urlencode({'next': self.path})}")
        return True
