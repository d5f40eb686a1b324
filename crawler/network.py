"""Harvesting what the page downloaded: Chrome's performance log plus CDP response bodies.

The feed's own XHR responses carry every post field, so reading them is both cheaper (one
request per 24 posts on Instagram's tag feeds) and less conspicuous than opening post pages.
This module also counts the browser's requests to the site (the crawl's cost metric) and sorts
them by query type for the politeness budgets (:func:`crawler.politeness.query_type`).
"""

from __future__ import annotations

import base64
import collections
import fnmatch
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver

from crawler.browser import BLOCKED_URL_PATTERNS
from crawler.politeness import query_type

log = logging.getLogger(__name__)

BODY_TYPES = frozenset({"XHR", "Fetch", "Document"})
MEDIA_TYPES = frozenset({"Image", "Media"})
# How long a refusal (HTTP 4xx/5xx) whose body the page has not read yet is held back, waiting
# for the page to read it (Instagram's client reads the JSON to show its message): the body tells
# throttling from a block. After that it is reported with whatever body there is.
UNREAD_ERROR_GRACE_S = 1.0

# Fallback for a WebDriver endpoint that refuses goog/cdp/execute (some hosted grids): read the
# body by sending the same request again from inside the page: same method, same form body
# (today's feeds are POSTs whose cursor is in the body). It costs one more request per
# response, which is counted; the marker header keeps the copy itself from being harvested.
REFETCH_HEADER = "X-Crawler-Refetch"
_REFETCH_SCRIPT = f"""
const [url, method, body, type] = arguments;
const done = arguments[arguments.length - 1];
const headers = {{"{REFETCH_HEADER}": "1"}};
if (type) headers["Content-Type"] = type;
const send = method === "GET" || method === "HEAD" ? {{}} : {{body: body}};
fetch(url, {{method: method, credentials: "include", headers: headers, ...send}})
  .then(r => r.text()).then(done).catch(e => done(null));
"""


@dataclass(frozen=True)
class Response:
    """One finished response from the site, with its body as text."""

    url: str
    status: int
    resource_type: str
    headers: dict[str, str]
    body: str
    redirected: bool = False  # it ended at ``url`` after the site redirected the request

    @property
    def retry_after_s(self) -> float | None:
        """``Retry-After`` in seconds (the HTTP-date form is not used by Instagram)."""
        try:
            return float(self.headers["retry-after"])
        except (KeyError, ValueError):
            return None


@dataclass
class NetworkTap:
    """Incremental reader of one driver's performance log, limited to the site's origin."""

    driver: WebDriver
    base_url: str
    requests: int = 0
    cdp_bodies: bool = True
    _origin: str = field(init=False)
    # requestId -> the DevTools request (url, method, headers, postData) until its response
    _requests: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)
    # requestId -> (responseReceived params, request) until the body is there
    _awaiting_body: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(
        default_factory=dict, init=False
    )
    _unread_errors: dict[str, tuple[dict[str, Any], dict[str, Any], float]] = field(
        default_factory=dict, init=False
    )
    _by_type: collections.Counter[str] = field(default_factory=collections.Counter, init=False)

    def __post_init__(self) -> None:
        self._origin = _origin(self.base_url)

    def drain(self) -> list[Response]:
        """Responses finished since the last call, in the order they finished."""
        finished: list[Response] = []
        for entry in self.driver.execute("getLog", {"type": "performance"})["value"]:
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            method = message.get("method")
            if method == "Network.requestWillBeSent":
                self._note_request(params)
            elif method == "Network.responseReceived":
                request = self._requests.pop(params.get("requestId"), None)
                if request is None or params.get("type") not in BODY_TYPES:
                    continue
                params["redirected"] = params["response"]["url"] != request["url"]
                if not _may_stay_unread(params["response"], request["url"]):
                    self._awaiting_body[params["requestId"]] = (params, request)
                elif (response := self._with_body(params, request, refetch=False)).body or (
                    response.status < 400
                ):
                    finished.append(response)
                else:
                    self._unread_errors[params["requestId"]] = (params, request, time.monotonic())
            elif method == "Network.loadingFinished":
                request_id = params.get("requestId")
                if (received := self._awaiting_body.pop(request_id, None)) is not None:
                    finished.append(self._with_body(*received, refetch=True))
                elif (unread := self._unread_errors.pop(request_id, None)) is not None:
                    finished.append(self._with_body(*unread[:2], refetch=False))
            elif method == "Network.loadingFailed":
                self._requests.pop(params.get("requestId"), None)
                self._awaiting_body.pop(params.get("requestId"), None)
                if (unread := self._unread_errors.pop(params.get("requestId"), None)) is not None:
                    finished.append(self._with_body(*unread[:2], refetch=False))
        return finished + self._overdue_errors()

    def _overdue_errors(self) -> list[Response]:
        """Refusals the page has not read within the grace: reported with what body there is
        (the status alone still tells a 429); never fetched again, which would be a request to a
        site that just refused one."""
        now = time.monotonic()
        overdue = [
            rid
            for rid, (*_, since) in self._unread_errors.items()
            if now - since >= UNREAD_ERROR_GRACE_S
        ]
        return [
            self._with_body(*self._unread_errors.pop(rid)[:2], refetch=False) for rid in overdue
        ]

    def take_requests_by_type(self) -> collections.Counter[str]:
        """Budgeted requests (see :func:`query_type`) made since the last call, by query type."""
        taken, self._by_type = self._by_type, collections.Counter()
        return taken

    def _note_request(self, params: dict[str, Any]) -> None:
        """Count a request to the site (media and blocked URLs excluded) and remember it."""
        request = params.get("request", {})
        url = request.get("url", "")
        if params.get("type") in MEDIA_TYPES or _origin(url) != self._origin or _blocked(url):
            return
        self.requests += 1
        kind = query_type(
            url, params.get("type", ""), request.get("headers"), request.get("postData")
        )
        if kind:
            self._by_type[kind] += 1
        if REFETCH_HEADER not in params["request"].get("headers", {}):
            self._requests.setdefault(params["requestId"], params["request"])

    def _with_body(
        self, received: dict[str, Any], request: dict[str, Any], refetch: bool
    ) -> Response:
        """The response with its body ("" when it cannot be had)."""
        response = received["response"]
        return Response(
            url=response["url"],
            status=int(response.get("status", 0)),
            resource_type=received.get("type", ""),
            headers={k.lower(): str(v) for k, v in response.get("headers", {}).items()},
            body=self._body(received["requestId"], request, refetch),
            redirected=received.get("redirected", False),
        )

    def _body(self, request_id: str, request: dict[str, Any], refetch: bool) -> str:
        url = request["url"]
        if self.cdp_bodies:
            try:
                got = self.driver.execute_cdp_cmd(
                    "Network.getResponseBody", {"requestId": request_id}
                )
            except WebDriverException as exc:
                if "unknown command" not in str(exc).lower():
                    log.debug("no body for %s: %s", url, exc.msg)
                    return ""
                log.warning("this WebDriver refuses CDP; re-fetching response bodies in the page")
                self.cdp_bodies = False
            else:
                raw = got.get("body", "")
                if got.get("base64Encoded"):
                    return base64.b64decode(raw).decode("utf-8", errors="replace")
                return raw
        if not refetch:
            return ""
        headers = {k.lower(): v for k, v in (request.get("headers") or {}).items()}
        replay = (url, request.get("method", "GET"), request.get("postData"))
        return (
            self.driver.execute_async_script(_REFETCH_SCRIPT, *replay, headers.get("content-type"))
            or ""
        )


def _may_stay_unread(response: dict[str, Any], request_url: str) -> bool:
    """An error, or a redirect to another page: the page's script may never read the body,
    and Chrome never finishes loading an unread fetch body, so such a response is reported
    as soon as its headers arrive with whatever body is already there (an error whose body is
    not there yet waits for it a little, see UNREAD_ERROR_GRACE_S)."""
    return int(response.get("status", 0)) >= 400 or response["url"] != request_url


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _blocked(url: str) -> bool:
    return any(fnmatch.fnmatchcase(url, pattern) for pattern in BLOCKED_URL_PATTERNS)
