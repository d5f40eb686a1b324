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
    answer: str = "http_429"  # for "rate_limit": see crawler.settings.RateLimitSection


class Faults:
    """Failure-mode decisions for one running site (thread-safe)."""

    def __init__(self, settings: DemoSettings) -> None:
        self.seed = settings.seed
        self.challenge_after = settings.challenge_after
        self.login_wall_after = settings.login_wall_after
        self.logged_out_home_after = settings.logged_out_home_after
        self.feedback_after = settings.feedback_after
        self.feedback_lasts = settings.feedback_lasts
        limits = settings.rate_limit
        self.every, self.burst = limits.every, limits.burst
        self.retry_after = limits.retry_after
        self.answer = limits.answer
        self.rates = {
            "deleted_rate": settings.deleted_rate,
            "non_image_media_rate": settings.non_image_media_rate,
            "truncated_media_rate": settings.truncated_media_rate,
        }
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
        if self.challenge_after and total > self.challenge_after:
            return Block("challenge", "/challenge/")
        feedback_ends = self.feedback_after + self.feedback_lasts if self.feedback_lasts else total
        if self.feedback_after and self.feedback_after < total <= feedback_ends:
            return Block("feedback")
        if not logged_in:
            if self.login_wall_after and anonymous > self.login_wall_after:
                return Block("login", "/accounts/login/")
            if self.logged_out_home_after and anonymous > self.logged_out_home_after:
                return Block("logged_out", "/")
        if self.every and self.burst and (total - 1) % (self.every + self.burst) >= self.every:
            return Block("rate_limit", retry_after=self.retry_after, answer=self.answer)
        return None

    def _chance(self, kind: str, key: object) -> float:
        """A uniform number in [0, 1) fixed by (seed, kind, key)."""
        digest = hashlib.blake2b(f"{self.seed}:{kind}:{key}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def is_deleted(self, index: int) -> bool:
        """Deleted posts stay in the feeds (they were fetched before) but their page is gone."""
        return self._chance("deleted", index) < self.rates["deleted_rate"]

    def media_fault(self, index: int, n: int) -> str | None:
        """ "non_image", "truncated" or None for image ``n`` of post ``index``."""
        key = f"{index}_{n}"
        if self._chance("non_image", key) < self.rates["non_image_media_rate"]:
            return "non_image"
        if self._chance("truncated", key) < self.rates["truncated_media_rate"]:
            return "truncated"
        return None
