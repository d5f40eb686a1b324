"""Recognizing the answers Instagram gives instead of posts: login walls, challenges, throttling.

A crawler that mistakes a login wall for an empty feed silently collects nothing, and one that
takes throttling for a login wall stops a crawl that only had to wait, so every page and response
is classified before it is parsed, the way instaloader and gallery-dl read them:

- throttling (wait, then go on): HTTP 429; HTTP 401 ``{"message": "Please wait a few minutes
  before you try again.", "require_login": true}`` (also a bare ``require_login`` 401 on a
  logged-in session); GraphQL ``errors`` at HTTP 200 with ``data: null`` ("Rate limit exceeded",
  code 1675004); a "Please wait a few minutes" page;
- stops (exit 3, state saved): ``feedback_required`` (HTTP 400, the "Try Again Later" action
  block), ``checkpoint_required`` / ``challenge_required`` and ``/challenge/`` pages, and the
  login wall: a redirect to ``/accounts/login/``, or to ``/`` (what logged-out browsers get).

:func:`scan_html` makes the single pass over a page's HTML that both this module and the
``og:`` post parser in :mod:`crawler.parsers` read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

LOGIN, CHALLENGE, RATE_LIMIT, FEEDBACK = "login", "challenge", "rate_limit", "feedback"

# Chromium's net:: errors that mean the site cannot be reached from here at all (no network, a
# name that does not resolve, nothing listening): not throttling. On the crawl's first page they
# end it at once (exit 1); later they may be a passing outage, and back off like any failure.
UNREACHABLE_ERRORS = frozenset(
    {
        "ERR_NAME_NOT_RESOLVED",
        "ERR_NAME_RESOLUTION_FAILED",
        "ERR_CONNECTION_REFUSED",
        "ERR_ADDRESS_UNREACHABLE",
        "ERR_INTERNET_DISCONNECTED",
        "ERR_NETWORK_ACCESS_DENIED",
    }
)
_NET_ERROR = re.compile(r"\bnet::(ERR_[A-Z_]+)")


def unreachable_error(message: str) -> str | None:
    """The ``net::ERR_*`` code in a page-load failure if it says the site is unreachable."""
    match = _NET_ERROR.search(message)
    return match.group(1) if match and match.group(1) in UNREACHABLE_ERRORS else None


_RATE_LIMIT_TEXT = "please wait a few minutes"
# GraphQL's own throttling answer: {"data": null, "errors": [{"code": 1675004, ...}]} at HTTP 200.
GRAPHQL_RATE_LIMIT_CODE = 1675004
_GRAPHQL_RATE_LIMIT_TEXT = "rate limit"
# Keys Instagram puts into window._sharedData.entry_data on these pages (and nowhere else).
_SCRIPT_MARKERS = {
    '"challengeType"': CHALLENGE,
    '"Challenge":[': CHALLENGE,
    '"LoginAndSignupPage":[': LOGIN,
}
# JSON bodies of refused API calls: {"message": "checkpoint_required", ...} and friends.
_JSON_MESSAGES = {
    "checkpoint_required": CHALLENGE,
    "challenge_required": CHALLENGE,
    "login_required": LOGIN,
    "feedback_required": FEEDBACK,
}


@dataclass(frozen=True)
class Refusal:
    """A refused response: its ``kind`` and the ``reason`` the crawl summary reports."""

    kind: str
    reason: str


class Blocked(Exception):
    """The remote side refused us with a page that is not content; ``kind`` says which."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass
class PageScan:
    """What one pass over an HTML page found; attribute values have entities decoded."""

    meta: dict[str, str] = field(default_factory=dict)  # og:*, twitter:*, al:* -> content
    canonical: str | None = None
    title: str = ""
    scripts: list[str] = field(default_factory=list)  # inline script bodies, verbatim
    form_actions: list[str] = field(default_factory=list)
    has_password_input: bool = False
    text: str = ""  # visible text, outside script and style


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scan = PageScan()
        self._open: str | None = None  # "script", "style" or "title" while inside one
        self._chunks: list[str] = []
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "meta":
            key = values.get("property") or values.get("name")
            if key and "content" in values:
                self.scan.meta.setdefault(key.lower(), values["content"])
        elif tag == "link" and "canonical" in values.get("rel", "").lower().split():
            self.scan.canonical = self.scan.canonical or values.get("href")
        elif tag == "form":
            self.scan.form_actions.append(values.get("action", ""))
        elif tag == "input":
            name, kind = values.get("name", "").lower(), values.get("type", "").lower()
            self.scan.has_password_input |= "password" in (name, kind)
        elif tag in ("script", "style", "title"):
            self._open, self._chunks = tag, []

    def handle_endtag(self, tag: str) -> None:
        if tag != self._open:
            return
        body = "".join(self._chunks)
        if tag == "script" and body.strip():
            self.scan.scripts.append(body)
        elif tag == "title":
            self.scan.title = body.strip()
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open:
            self._chunks.append(data)
        else:
            self._text.append(data)

    def close(self) -> None:
        super().close()
        self.scan.text = " ".join(" ".join(self._text).split())


def scan_html(html: str) -> PageScan:
    """Parse ``html`` once with the standard library's tolerant HTML parser."""
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    return scanner.scan


def classify_url(url: str) -> str | None:
    """The block a URL (a redirect target, a canonical link) stands for, if any."""
    path = urlsplit(url).path.lower()
    if path.startswith("/accounts/login"):
        return LOGIN
    if path.startswith("/challenge"):  # not /explore/tags/challenge/
        return CHALLENGE
    return None


def classify_scan(scan: PageScan) -> str | None:
    """The block a scanned page is, if any: checked before its posts are parsed."""
    for url in (scan.canonical or "", scan.meta.get("og:url", ""), *scan.form_actions):
        kind = classify_url(url)
        if kind:
            return kind
    for script in scan.scripts:
        compact = "".join(script.split())  # markers survive any reformatting
        for marker, kind in _SCRIPT_MARKERS.items():
            if marker in compact:
                return kind
    if scan.has_password_input:
        return LOGIN
    if _RATE_LIMIT_TEXT in scan.text.lower():
        return RATE_LIMIT
    return None


def classify_json(obj: Any) -> str | None:
    """The block a JSON API response is (``{"message": "login_required"}``...), if any.

    "Please wait a few minutes" wins over the ``require_login: true`` it comes with: Instagram
    sends that pair to throttled sessions, logged in or not, and the peers retry it.
    """
    if not isinstance(obj, dict):
        return None
    message = str(obj.get("message") or "")
    if _JSON_MESSAGES.get(message) == FEEDBACK:
        return FEEDBACK
    if obj.get("checkpoint_url") or _JSON_MESSAGES.get(message) == CHALLENGE:
        return CHALLENGE
    if _RATE_LIMIT_TEXT in message.lower() or _graphql_rate_limited(obj):
        return RATE_LIMIT
    if obj.get("require_login") or _JSON_MESSAGES.get(message) == LOGIN:
        return LOGIN
    return None


def _graphql_rate_limited(obj: dict[str, Any]) -> bool:
    """GraphQL ``errors`` saying "rate limit" (code 1675004) with no data to go with them."""
    errors = obj.get("errors")
    if obj.get("data") or not isinstance(errors, list):
        return False
    return any(
        isinstance(error, dict)
        and (
            error.get("code") == GRAPHQL_RATE_LIMIT_CODE
            or _GRAPHQL_RATE_LIMIT_TEXT in f"{error.get('message')} {error.get('summary')}".lower()
        )
        for error in errors
    )


def classify_redirect(url: str) -> str | None:
    """The block a page load or XHR that ended at ``url`` ran into: login and challenge pages,
    and the home page ``/``, where Instagram sends logged-out browsers instead of a tag page
    (the crawler never asks for ``/`` itself)."""
    kind = classify_url(url)
    if kind is None and urlsplit(url).path in ("", "/"):
        return LOGIN
    return kind


def classify_response(status: int, document: Any, logged_in: bool) -> Refusal | None:
    """The refusal an HTTP answer is, from its status and its body decoded as JSON (None when
    the body is not JSON: :func:`crawler.parsers.json_or_none`), if any.

    ``logged_in`` decides a bare ``require_login`` 401: a login wall for a logged-out browser,
    throttling for a logged-in session (Instagram's way of saying "slow down" to one).
    """
    kind = classify_json(document)
    if kind == RATE_LIMIT or status == 429:
        return Refusal(RATE_LIMIT, _throttle_reason(status, document))
    if kind == LOGIN and status == 401 and logged_in:
        return Refusal(RATE_LIMIT, "HTTP 401 require_login on a logged-in session")
    if kind is not None:
        return Refusal(kind, f"HTTP {status} {kind}")
    return None


def _throttle_reason(status: int, obj: Any) -> str:
    if status == 429:
        return "HTTP 429"
    if isinstance(obj, dict) and _graphql_rate_limited(obj):
        return f"GraphQL rate limit errors at HTTP {status}"
    return f"HTTP {status} 'Please wait a few minutes'"
