"""Politeness: randomized delays, a sliding-window request budget, backoff, failure limits.

Instagram answers impolite clients with 429s, "Please wait a few minutes" and finally a login
wall; pacing ourselves is cheaper than any of those. Clock, sleep and RNG are injectable so
tests run the real logic without waiting.
"""

from __future__ import annotations

import collections
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from runtime.errors import RemoteStop, UsageError

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "delay_mean_s": 1.5,  # mean pause before each page load or scroll
    "delay_max_s": 6.0,  # cap of the exponential draw
    "budget_requests": 200,  # at most this many browser requests ...
    "budget_window_s": 660.0,  # ... per sliding window (11 minutes)
    "backoff_base_s": 30.0,
    "backoff_max_s": 600.0,
    "backoff_attempts": 5,
    "max_consecutive_failures": 5,
}


def checked_config(config: dict[str, Any]) -> dict[str, Any]:
    """The ``politeness`` section over the defaults, every value a non-negative number of the
    default's type: checked before the browser starts, so a typo in ``--set`` is a usage error
    instead of a crash in the middle of a crawl."""
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise UsageError(f"unknown politeness setting(s): {', '.join(unknown)}")
    checked = {}
    for key, default in DEFAULTS.items():
        value = config.get(key, default)
        try:
            checked[key] = type(default)(value)
        except (TypeError, ValueError):
            raise UsageError(f"politeness.{key} must be a number, got {value!r}") from None
        if checked[key] < 0 or isinstance(value, bool):
            raise UsageError(f"politeness.{key} must be a non-negative number, got {value!r}")
    return checked


class Politeness:
    """Paces one crawler process; every waiting decision goes through here."""

    def __init__(
        self,
        config: dict[str, Any] | None = None,
        *,
        no_delay: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = checked_config(config or {})
        self.no_delay = no_delay
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._window: collections.deque[tuple[float, int]] = collections.deque()
        self._in_window = 0
        self.consecutive_failures = 0

    def wait_turn(self) -> float:
        """Pause before the next action: a random delay, then room in the request budget."""
        waited = 0.0
        if not self.no_delay:
            mean = self.config["delay_mean_s"]
            delay = self._rng.expovariate(1.0 / mean) if mean > 0 else 0.0
            waited += self._pause(min(delay, self.config["delay_max_s"]))
        waited += self._wait_for_budget()
        return waited

    def note_requests(self, count: int) -> None:
        """Record requests the browser actually made, so the window counts real traffic."""
        if count > 0:
            self._window.append((self._clock(), count))
            self._in_window += count

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Sleep before retry ``attempt`` (1-based): Retry-After when given, else exponential with
        full jitter. Raises RemoteStop once the attempts are exhausted."""
        if attempt > self.config["backoff_attempts"]:
            raise RemoteStop(f"rate limited: still refused after {attempt - 1} backoffs")
        if retry_after is not None and retry_after >= 0:
            delay = float(retry_after)
        else:
            ceiling = self.config["backoff_base_s"] * 2 ** (attempt - 1)
            delay = self._rng.uniform(0, min(ceiling, self.config["backoff_max_s"]))
        log.warning("rate limited; backing off %.1f s (attempt %d)", delay, attempt)
        return self._pause(delay)

    def success(self) -> None:
        self.consecutive_failures = 0

    def failure(self, reason: str) -> None:
        """Count a failure; too many in a row means we are blocked in a way we cannot see."""
        self.consecutive_failures += 1
        log.warning("failure %d in a row: %s", self.consecutive_failures, reason)
        if self.consecutive_failures >= self.config["max_consecutive_failures"]:
            raise RemoteStop(f"{self.consecutive_failures} consecutive failures, last: {reason}")

    def _wait_for_budget(self) -> float:
        limit = self.config["budget_requests"]
        window = self.config["budget_window_s"]
        waited = 0.0
        while True:
            now = self._clock()
            while self._window and self._window[0][0] <= now - window:
                self._in_window -= self._window.popleft()[1]
            if self._in_window < limit or not self._window:
                return waited
            until = self._window[0][0] + window - now
            log.info(
                "request budget of %d per %.0f s used up; waiting %.0f s", limit, window, until
            )
            waited += self._pause(max(until, 0.01))

    def _pause(self, seconds: float) -> float:
        if seconds > 0:
            self._sleep(seconds)
        return seconds
