"""Politeness: random pauses, sliding-window request budgets, long sleeps when throttled.

Instagram answers impolite clients with 429s, "Please wait a few minutes" and finally a login
wall; pacing ourselves is cheaper than any of those. The pacing is instaloader's
``RateController``: a random pause (exponential draw, capped) before every request, a sliding
window budget per query type, one for all GraphQL queries together and one for the other JSON
API (``/api/v1/``). Only Instagram's API requests and page loads count (see :func:`query_type`);
telemetry beacons do not. Throttled, it sleeps at least as long as the peers do: until the
oldest request in the refused family's window has left it plus a margin (instaloader), and at
least a base sleep (gallery-dl) that doubles with each refusal in a row. The values, no looser
than the peers', are the ``politeness`` section of configs/crawl.yaml. Clock, sleep and RNG are
injectable so tests run the real logic without waiting.
"""

from __future__ import annotations

import collections
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from crawler.settings import PolitenessSettings
from runtime.errors import RemoteStop
from runtime.settings import validate

log = logging.getLogger(__name__)

PAGE, API, GRAPHQL = "page", "api", "graphql"
BUDGET_WAIT, RANDOM_PAUSE, STALLED = "request budget", "random pauses", "stalled feed or page load"
# Same-origin requests that are not queries for content: Instagram's telemetry and logging
# beacons and its route/bootstrap XHRs. They are neither counted nor paced.
_TELEMETRY_PREFIXES = ("/logging/", "/ajax/", "/falco", "/api/v1/web/fxcal/", "/qp/batch_fetch")


def query_type(
    url: str,
    resource_type: str,
    headers: Mapping[str, str] | None = None,
    post_data: str | None = None,
) -> str | None:
    """The budget a browser request counts against, or None for one that counts against none.

    ``page`` for a page load; ``graphql:NAME`` for a GraphQL query (``X-FB-Friendly-Name``, else
    its ``doc_id`` or ``query_hash`` from the URL or the POSTed form); ``api`` for the rest of
    the JSON API (``/api/v1/``).
    """
    parts = urlsplit(url)
    path = parts.path
    if path.startswith(_TELEMETRY_PREFIXES):
        return None
    if resource_type == "Document":
        return PAGE
    if path.startswith(("/graphql", "/api/graphql")):
        lowered = {key.lower(): value for key, value in (headers or {}).items()}
        fields = parse_qs(parts.query) | parse_qs(post_data or "")
        name = (
            lowered.get("x-fb-friendly-name")
            or (fields.get("doc_id") or fields.get("query_hash") or [""])[0]
        )
        return f"{GRAPHQL}:{name}" if name else GRAPHQL
    if path.startswith("/api/v1/"):
        return API
    return None


class Politeness:
    """Paces one crawler process; every waiting decision goes through here and is tallied."""

    def __init__(
        self,
        config: PolitenessSettings | Mapping[str, Any] | None = None,
        *,
        no_delay: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = validate(PolitenessSettings, config or {}, "politeness: ")
        self.no_delay = no_delay
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._sent: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self.consecutive_failures = 0
        self.sleep_counts: collections.Counter[str] = collections.Counter()
        self.slept_s: collections.Counter[str] = collections.Counter()

    def wait_turn(self) -> float:
        """Pause before the next action: a random delay, then room in every request budget.
        ``no_delay`` (loopback sites only, checked by the CLI) skips both."""
        if self.no_delay:
            return 0.0
        mean = self.config.delay_mean_s
        delay = self._rng.expovariate(1.0 / mean) if mean > 0 else 0.0
        return self._pause(min(delay, self.config.delay_max_s), RANDOM_PAUSE) + (
            self._wait_for_budget()
        )

    def note_requests(self, counts: Mapping[str, int]) -> None:
        """Record requests the browser actually made, by query type, so budgets see real traffic."""
        now = self._clock()
        for kind, count in counts.items():
            self._sent[kind].extend([now] * count)

    def throttled(
        self, attempt: int, reason: str, family: str | None, retry_after: float | None = None
    ) -> float:
        """Sleep after refusal ``attempt`` (1-based, refusals in a row) of a request of query
        ``family`` (``page``, ``api``, ``graphql``). Raises RemoteStop once attempts run out.

        The sleep is the longest of: the doubling backoff with jitter (from ``backoff_base_s``),
        ``Retry-After``, and the time until the family's window has room plus a margin.
        """
        if attempt > self.config.backoff_attempts:
            raise RemoteStop(f"throttled ({reason}): still refused after {attempt - 1} sleeps")
        doubling = self.config.backoff_base_s * 2 ** (attempt - 1) * self._rng.uniform(1, 1.25)
        delay = max(
            min(doubling, self.config.backoff_max_s),
            retry_after or 0.0,
            self._window_clears_in(family) + self.config.backoff_margin_s if family else 0.0,
        )
        log.warning("throttled (%s); sleeping %.1f s (attempt %d)", reason, delay, attempt)
        return self._pause(delay, reason)

    def success(self) -> None:
        self.consecutive_failures = 0

    def failure(self, reason: str) -> None:
        """Count a failure and sleep before the retry (a stalled feed is often quiet throttling,
        so it is never reloaded at once); too many in a row means a block we cannot see."""
        self.consecutive_failures += 1
        log.warning("failure %d in a row: %s", self.consecutive_failures, reason)
        if self.consecutive_failures >= self.config.max_consecutive_failures:
            raise RemoteStop(f"{self.consecutive_failures} consecutive failures, last: {reason}")
        pause = self.config.stall_pause_s * 2 ** (self.consecutive_failures - 1)
        self._pause(min(pause, self.config.backoff_max_s), STALLED)

    def _budgets(self) -> list[tuple[list[str], int, float]]:
        """(query types sharing a budget, their limit, its window) for every budget in force."""
        per_type, window = self.config.budget_requests, self.config.budget_window_s
        graphql = [kind for kind in self._sent if kind.split(":")[0] == GRAPHQL]
        budgets = [([kind], per_type, window) for kind in self._sent]
        budgets.append(
            (
                graphql,
                self.config.graphql_budget_requests,
                self.config.graphql_budget_window_s,
            )
        )
        budgets.append(([API], self.config.api_budget_requests, window))
        return budgets

    def _wait_for_budget(self) -> float:
        waited = 0.0
        while True:
            now = self._clock()
            self._forget_before(
                now - max(self.config.budget_window_s, self.config.graphql_budget_window_s)
            )
            until = 0.0
            for kinds, limit, window in self._budgets():
                recent = sorted(
                    t for kind in kinds for t in self._sent.get(kind, ()) if t > now - window
                )
                if limit and len(recent) >= limit:
                    until = max(until, recent[len(recent) - limit] + window - now)
            if until <= 0:
                return waited
            log.info("request budget used up; waiting %.0f s", until)
            waited += self._pause(max(until, 0.01), BUDGET_WAIT)

    def _window_clears_in(self, family: str) -> float:
        """Seconds until the oldest request of ``family`` still in its window has left it: the
        window is taken to be full, since the site just said so (instaloader's reading)."""
        config = self.config
        window = config.graphql_budget_window_s if family == GRAPHQL else config.budget_window_s
        now = self._clock()
        recent = [
            t
            for kind, sent in self._sent.items()
            if kind.split(":")[0] == family
            for t in sent
            if t > now - window
        ]
        return max(min(recent) + window - now, 0.0) if recent else 0.0

    def _forget_before(self, cutoff: float) -> None:
        for sent in self._sent.values():
            while sent and sent[0] <= cutoff:
                sent.popleft()

    def _pause(self, seconds: float, reason: str) -> float:
        if seconds > 0:
            self.sleep_counts[reason] += 1
            self.slept_s[reason] += seconds
            self._sleep(seconds)
        return seconds
