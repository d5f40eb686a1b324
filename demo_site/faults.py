"""The demo site's failure modes: which request is blocked, which post is gone, which image is bad.

Real crawls meet throttling (429, 401 "Please wait a few minutes", GraphQL rate-limit errors),
``feedback_required`` blocks, login walls (to ``/accounts/login/`` or, logged out, to ``/``),
challenges, deleted posts and broken media; the demo site reproduces each when its
``configs/demo.yaml`` key is set, so the crawler's handling is tested against a live server.
Per-post and per-image faults are a fixed function of the seed, so they repeat run to run;
per-request blocks follow request counts kept under a lock.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from demo_site.settings import DemoSettings


@dataclass(frozen=True)
class Block:
    """How to answer a blocked request: a redirect to ``location``, a refusal with a body."""

    kind: str  # "challenge", "login", "logged_out", "feedback" or "rate_limit"
    location: str | None = None
    retry_after: int = 0
    answer: str = "http_429"  # for "rate_limit": see demo_site.settings.RateLimitSection


class Faults:
    """Failure-mode decisions for one running site (thread-safe)."""

    def __init__(self, settings: DemoSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._requests = self._anonymous = 0

    def block(self, logged_in: bool) -> Block | None:
        """Count one page/XHR request and say whether it is blocked.

        The challenge wins over ``feedback_required`` (which lifts after ``feedback_lasts``
        requests, as Instagram's action blocks lift after hours), then the login walls, then
        throttling: within a cycle of ``every + burst`` requests the last ``burst`` are refused.
        """
        with self._lock:
            self._requests += 1
            self._anonymous += not logged_in
            total, anonymous = self._requests, self._anonymous
        site = self.settings
        if site.challenge_after and total > site.challenge_after:
            return Block("challenge", "/challenge/")
        feedback_ends = site.feedback_after + site.feedback_lasts if site.feedback_lasts else total
        if site.feedback_after and site.feedback_after < total <= feedback_ends:
            return Block("feedback")
        if not logged_in:
            if site.login_wall_after and anonymous > site.login_wall_after:
                return Block("login", "/accounts/login/")
            if site.logged_out_home_after and anonymous > site.logged_out_home_after:
                return Block("logged_out", "/")
        limits = site.rate_limit
        if (
            limits.every
            and limits.burst
            and (total - 1) % (limits.every + limits.burst) >= limits.every
        ):
            return Block("rate_limit", retry_after=limits.retry_after, answer=limits.answer)
        return None

    def _chance(self, kind: str, key: object) -> float:
        """A uniform number in [0, 1) fixed by (seed, kind, key)."""
        digest = hashlib.blake2b(
            f"{self.settings.seed}:{kind}:{key}".encode(), digest_size=8
        ).digest()
        return int.from_bytes(digest, "big") / 2**64

    def is_deleted(self, index: int) -> bool:
        """Deleted posts stay in the feeds (they were fetched before) but their page is gone."""
        return self._chance("deleted", index) < self.settings.deleted_rate

    def media_fault(self, index: int, n: int) -> str | None:
        """ "non_image", "truncated" or None for image ``n`` of post ``index``."""
        key = f"{index}_{n}"
        if self._chance("non_image", key) < self.settings.non_image_media_rate:
            return "non_image"
        if self._chance("truncated", key) < self.settings.truncated_media_rate:
            return "truncated"
        return None
