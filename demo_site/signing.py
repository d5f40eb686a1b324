"""Signed, expiring media URLs, so a crawl meets the "URL signature expired" that Instagram's
CDN answers once its links are a few days old."""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Callable

DEFAULT_TTL_SECONDS = 7 * 86_400
BAD_SIGNATURE = "Bad URL signature"
EXPIRED = "URL signature expired"


class MediaSigner:
    """Adds ``exp`` and ``sig`` (HMAC of path, variant and expiry) to media URLs and checks them."""

    def __init__(
        self, secret: bytes, ttl_seconds: int = 0, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret = secret
        self.ttl_seconds = ttl_seconds or DEFAULT_TTL_SECONDS
        self._clock = clock

    def _signature(self, path: str, stp: str, exp: int) -> str:
        message = f"{path}|{stp}|{exp}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def query(self, path: str, stp: str = "") -> str:
        """The query string for ``path``; ``stp`` names a variant such as ``s240x240``."""
        exp = int(self._clock()) + self.ttl_seconds
        fields = ({"stp": stp} if stp else {}) | {
            "exp": str(exp),
            "sig": self._signature(path, stp, exp),
        }
        return urllib.parse.urlencode(fields)

    def refusal(self, path: str, query: dict[str, str]) -> str | None:
        """None when the URL is valid, else the 403 body saying why not."""
        try:
            exp = int(query.get("exp", ""))
        except ValueError:
            return BAD_SIGNATURE
        expected = self._signature(path, query.get("stp", ""), exp)
        if not hmac.compare_digest(expected, query.get("sig", "")):
            return BAD_SIGNATURE
        if self._clock() > exp:
            return EXPIRED
        return None
