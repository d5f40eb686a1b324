"""What the site answered, read for the crawl loop: a page of posts, nothing, or a refusal.

A refusal is one of two things: throttling (:class:`Throttled`, which the loop sleeps off and
retries) or a stop the crawl cannot get past on its own (a login wall, a challenge,
``feedback_required``: a :class:`~runtime.errors.RemoteStop`, raised once the state is saved, with
the one line saying what to do before the same command resumes).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver

from crawler import blocks, parsers
from crawler.network import Response
from crawler.politeness import query_type
from crawler.targets import Target
from runtime.errors import RemoteStop

log = logging.getLogger(__name__)

# One post's info (/api/v1/media/<pk>/info/): its posts are kept, but its "more_available":
# false speaks of that post, not of the target's feed.
_SINGLE_MEDIA_PATH = re.compile(r"^/api/v1/media/[^/]+/info/")
# Each stop's name, and what to do about it before the same command resumes the crawl.
_STOP_NAMES = {
    blocks.LOGIN: "login wall",
    blocks.CHALLENGE: "challenge page",
    blocks.FEEDBACK: "feedback_required (Instagram's 'Try Again Later' block)",
}
_LOGGED_OUT_ADVICE = "pass --cookies FILE (cookies of a logged-in browser) or --login"
_NEXT_STEP = {
    blocks.LOGIN: "the session has expired: export fresh cookies for --cookies",
    blocks.CHALLENGE: "clear the checkpoint in a browser logged in to this account",
    blocks.FEEDBACK: "wait some hours before crawling with this account again",
}


class Throttled(Exception):
    """Instagram said "slow down" (see :mod:`crawler.blocks`) to a request of query ``family``."""

    def __init__(self, reason: str, family: str | None, retry_after_s: float | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.family = family
        self.retry_after_s = retry_after_s


class ResponseReader:
    """Reads the responses of one browser session for one output folder.

    ``save`` writes the crawl state; it runs before any stop is raised, so the stop's line can
    promise that the same command resumes.
    """

    def __init__(
        self, driver: WebDriver, base_url: str, state_path: Path, save: Callable[[], None]
    ) -> None:
        self.driver = driver
        self.base_url = base_url
        self.state_path = state_path
        self.save = save

    def page(self, target: Target, response: Response) -> parsers.Page | None:
        """The posts page a response carries; None for responses that are not a feed."""
        classify_url = blocks.classify_redirect if response.redirected else blocks.classify_url
        self.stop_if_blocked(classify_url(response.url), response)
        # Only a 401's require_login depends on the session; reading cookies costs a round trip.
        logged_in = response.status == 401 and self.logged_in()
        document = parsers.json_or_none(response.body)  # decoded once, for both readings
        refusal = blocks.classify_response(response.status, document, logged_in)
        if refusal is not None:
            self.stop_if_blocked(refusal.kind, response, refusal.reason)
        if urlsplit(response.url).path.startswith("/p/"):
            return None  # post pages are fetched and parsed by crawler.post_pages
        try:
            if document is not None:
                page = parsers.parse_json(document, target.source, self.base_url)
            else:
                page = parsers.parse_text(response.body, target.source, self.base_url)
        except blocks.Blocked as exc:
            self.stop_if_blocked(exc.kind, response)
            return None
        except parsers.UnknownShape:
            log.debug("ignoring a response that is not Instagram JSON or HTML: %s", response.url)
            return None
        if _SINGLE_MEDIA_PATH.match(urlsplit(response.url).path):
            page.is_feed = False
        if not page.records and not page.is_feed:
            return None  # e.g. the logged-out shell, whose feed arrives by XHR
        return page

    def stop_if_blocked(
        self, kind: str | None, where: Response | str, reason: str = "'Please wait' page"
    ) -> None:
        """RemoteStop (state saved) for a login wall, challenge or feedback_required; Throttled
        for throttling."""
        if kind is None:
            return
        if kind == blocks.RATE_LIMIT and isinstance(where, Response):
            family = query_type(where.url, where.resource_type)
            raise Throttled(reason, family and family.split(":")[0], where.retry_after_s)
        url = where.url if isinstance(where, Response) else where
        self.save()
        if kind == blocks.LOGIN and not self.logged_in():
            advice = _LOGGED_OUT_ADVICE
        else:
            advice = _NEXT_STEP.get(kind, "fix the cause")
        raise self.resumable(f"{_STOP_NAMES.get(kind, kind)} at {url}", advice)

    def resumable(self, what: str, advice: str) -> RemoteStop:
        """The stop's one line: what happened, where the state is, what to do before resuming."""
        return RemoteStop(
            f"{what}; state saved in {self.state_path}: {advice}, then run the same command "
            "to resume"
        )

    def logged_in(self) -> bool:
        """Whether the browser holds a session cookie for the site (asked only about a refusal,
        while the browser is on the site's page)."""
        try:
            cookies = self.driver.get_cookies()
        except WebDriverException:
            return False
        return any(c.get("name") == "sessionid" and c.get("value") for c in cookies)
