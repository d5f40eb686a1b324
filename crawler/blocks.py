"""Recognizing the pages Instagram serves instead of posts: login walls, challenges, rate limits.

A crawler that mistakes a login wall for an empty feed silently collects nothing, so every page
and response is classified before it is parsed. :func:`scan_html` makes the single pass over a
page's HTML that both this module and the ``og:`` post parser in :mod:`crawler.parsers` read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

LOGIN, CHALLENGE, RATE_LIMIT = "login", "challenge", "rate_limit"

_RATE_LIMIT_TEXT = "please wait a few minutes"
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
}


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


def classify_html(html: str) -> str | None:
    """Login dialog or page, challenge page, or "Please wait a few minutes": its kind, else None."""
    return classify_scan(scan_html(html))


def classify_json(obj: Any) -> str | None:
    """The block a JSON API response is (``{"message": "login_required"}``...), if any."""
    if not isinstance(obj, dict):
        return None
    message = str(obj.get("message") or "")
    if obj.get("checkpoint_url") or _JSON_MESSAGES.get(message) == CHALLENGE:
        return CHALLENGE
    if obj.get("require_login") or _JSON_MESSAGES.get(message) == LOGIN:
        return LOGIN
    if _RATE_LIMIT_TEXT in message.lower():
        return RATE_LIMIT
    return None
