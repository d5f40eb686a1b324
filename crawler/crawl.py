"""The crawl loop: open each target's feed, scroll, harvest the feed's JSON, store new posts.

Posts come from the responses the page itself loads (see :mod:`crawler.network`); a post page is
fetched only when the feed lacks a field the config asks for. Every batch is fsynced to
``posts.jsonl`` before ``state.json`` moves the target's cursor past it, so a crawl killed at any
moment resumes without losing or duplicating a post.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver
from tqdm import tqdm

from crawler import blocks, parsers
from crawler.browser import first_line
from crawler.media import ImageDownloader
from crawler.network import NetworkTap, Response
from crawler.politeness import Politeness, query_type
from crawler.settings import CrawlerSettings
from crawler.state import CrawlState, TargetState, load_state, save_state
from crawler.store import PostStore
from crawler.targets import Target
from runtime.errors import PipelineError, RemoteStop
from runtime.progress import progress_bar

log = logging.getLogger(__name__)

_SCROLL_SCRIPT = "window.scrollTo(0, document.body.scrollHeight);"
# Chromium answers some network errors with its own error page instead of raising. That page
# also stands in for an HTTP error with an empty body (e.g. a bare 429), which the network tap
# handles, so only a net::ERR_* code counts here.
_NET_ERROR_SCRIPT = """
if (!document.URL.startsWith("chrome-error:")) return null;
return (document.body.innerText.match(/ERR_[A-Z_]+/) || [null])[0];
"""
_FETCH_TEXT_SCRIPT = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {credentials: "include"})
  .then(r => r.text().then(t => done([r.status, t]))).catch(e => done([0, String(e)]));
"""
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
_STALLED_ADVICE = "check that the site opens in a browser from this machine"
_NEXT_STEP = {
    blocks.LOGIN: "the session has expired: export fresh cookies for --cookies",
    blocks.CHALLENGE: "clear the checkpoint in a browser logged in to this account",
    blocks.FEEDBACK: "wait some hours before crawling with this account again",
}


@dataclass(frozen=True)
class CrawlSettings:
    """The loop's knobs, read from the ``crawl`` section of configs/crawl.yaml."""

    base_url: str
    limit: int | None
    per_target: int | None
    response_timeout_s: float
    poll_interval_s: float
    idle_scrolls: int
    resume_param: str | None
    post_page_for: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: CrawlerSettings) -> CrawlSettings:
        loop = settings.crawl
        return cls(
            base_url=settings.base_url.rstrip("/"),
            limit=settings.limit,
            per_target=settings.per_target,
            response_timeout_s=loop.response_timeout_s,
            poll_interval_s=loop.poll_interval_s,
            idle_scrolls=loop.idle_scrolls,
            resume_param=loop.resume_param,
            post_page_for=tuple(loop.post_page_for),
        )


@dataclass
class CrawlSummary:
    """What this run did; printed at the end and logged to crawl.log."""

    posts_per_target: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    elapsed_s: float = 0.0
    stop_reason: str = ""
    post_pages: int = 0
    media_failures: dict[str, int] = field(default_factory=dict)
    images_saved: int = 0
    sleeps: dict[str, tuple[int, float]] = field(default_factory=dict)  # reason -> (count, s)

    @property
    def posts(self) -> int:
        return sum(self.posts_per_target.values())

    @property
    def requests_per_1000_posts(self) -> float | None:
        return 1000.0 * self.requests / self.posts if self.posts else None

    def lines(self) -> list[str]:
        per_1000 = self.requests_per_1000_posts
        out = ["crawl summary"]
        out += [f"  {key}: {count} new posts" for key, count in self.posts_per_target.items()]
        out += [
            f"  posts: {self.posts}",
            f"  requests used: {self.requests} (post pages opened: {self.post_pages})",
            "  requests per 1,000 posts: " + (f"{per_1000:.1f}" if per_1000 is not None else "n/a"),
            f"  elapsed: {self.elapsed_s:.1f} s",
            f"  stop reason: {self.stop_reason}",
        ]
        if self.images_saved or self.media_failures:
            failures = ", ".join(f"{k} {v}" for k, v in sorted(self.media_failures.items()))
            out.append(f"  images saved: {self.images_saved}; failed: {failures or 'none'}")
        total = sum(seconds for _, seconds in self.sleeps.values())
        out.append(f"  slept: {total:.1f} s" + ("" if self.sleeps else " (no waits)"))
        out += [
            f"    {reason}: {count} x, {seconds:.1f} s"
            for reason, (count, seconds) in sorted(self.sleeps.items())
        ]
        return out


class _Throttled(Exception):
    """Instagram said "slow down" (see :mod:`crawler.blocks`) to a request of query ``family``."""

    def __init__(self, reason: str, family: str | None, retry_after_s: float | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.family = family
        self.retry_after_s = retry_after_s


class _Stalled(Exception):
    """The feed stopped answering scrolls without saying it was finished."""


class Crawler:
    """One browser session crawling a list of targets into one output folder."""

    def __init__(
        self,
        driver: WebDriver,
        out_dir: Path,
        settings: CrawlSettings,
        politeness: Politeness,
        downloader: ImageDownloader | None = None,
        show_progress: bool = True,
    ) -> None:
        self.driver = driver
        self.settings = settings
        self.politeness = politeness
        self.downloader = downloader
        self.show_progress = show_progress
        self.store = PostStore(out_dir / "posts.jsonl")
        if self.store.repaired_bytes:
            log.warning("cut a torn last line off posts.jsonl (%d B)", self.store.repaired_bytes)
        self.state_path = out_dir / "state.json"
        self.state: CrawlState = load_state(self.state_path, self.store.path)
        self.tap = NetworkTap(driver, settings.base_url)
        self.summary = CrawlSummary()
        self._noted_requests = 0
        self._throttled = 0  # refusals in a row, across targets: the backoff attempt number
        self._pages_opened = 0  # feed pages that loaded, this run
        self._progress: tqdm | None = None

    def run(self, targets: list[Target]) -> CrawlSummary:
        """Crawl the targets in order; RemoteStop propagates after the state is saved."""
        started = time.monotonic()
        self._progress = progress_bar(
            total=self.settings.limit,
            initial=len(self.store),
            unit="post",
            disable=not self.show_progress,
        )
        try:
            for target in targets:
                if self._limit_reached():
                    break
                self._crawl_target(target)
            self.summary.stop_reason = "limit reached" if self._limit_reached() else "targets done"
        except PipelineError as exc:  # a RemoteStop, or a site not reachable at all
            self.summary.stop_reason = str(exc)
            raise
        finally:
            self._progress.close()
            self.summary.elapsed_s = time.monotonic() - started
            self.summary.requests = self.tap.requests
            if self.downloader:
                self.summary.media_failures = dict(self.downloader.failures)
            self.summary.stop_reason = self.summary.stop_reason or "interrupted"
            self.summary.sleeps = {
                reason: (count, self.politeness.slept_s[reason])
                for reason, count in self.politeness.sleep_counts.items()
            }
            self.state.stop_reason = self.summary.stop_reason
            save_state(self.state, self.state_path)
        return self.summary

    def _limit_reached(self) -> bool:
        return self.settings.limit is not None and len(self.store) >= self.settings.limit

    def _room(self, progress: TargetState) -> int:
        """How many more posts this target may still add under --limit and --per-target."""
        rooms = []
        if self.settings.limit is not None:
            rooms.append(self.settings.limit - len(self.store))
        if self.settings.per_target is not None:
            rooms.append(self.settings.per_target - progress.posts)
        return max(min(rooms), 0) if rooms else sys.maxsize

    def _crawl_target(self, target: Target) -> None:
        progress = self.state.target(target.source)
        self.summary.posts_per_target.setdefault(target.source, 0)
        while not progress.done and self._room(progress) > 0:
            try:
                self._open_feed(target, progress)
                self._follow_feed(target, progress)
            except _Throttled as exc:  # leave the page, sleep, then reopen at the saved cursor
                self._sleep_off(exc)
            except _Stalled as exc:
                self._save()
                try:
                    self.politeness.failure(f"{target.source}: {exc}")
                except RemoteStop as stop:
                    raise self._resumable(str(stop), _STALLED_ADVICE) from None
        log.info(
            "%s: %d posts stored%s", target.source, progress.posts, " (feed end)" * progress.done
        )

    def _sleep_off(self, exc: _Throttled) -> None:
        """Sleep long on a blank page: the feed page's own script would retry while it is open
        (Instagram's does), so the sleep would not be one."""
        self._throttled += 1
        self._save()
        try:
            self.driver.get("about:blank")
        except WebDriverException as error:
            log.debug("could not leave the page before sleeping: %s", first_line(error))
        try:
            self.politeness.throttled(self._throttled, exc.reason, exc.family, exc.retry_after_s)
        except RemoteStop as stop:
            raise self._resumable(str(stop), "let the account rest an hour or more") from None

    def _resumable(self, what: str, advice: str) -> RemoteStop:
        """The stop's one line: what happened, where the state is, what to do before resuming."""
        return RemoteStop(
            f"{what}; state saved in {self.state_path}: {advice}, then run the same command "
            "to resume"
        )

    def _open_feed(self, target: Target, progress: TargetState) -> None:
        url = self.settings.base_url + target.path
        if progress.cursor and self.settings.resume_param:
            joiner = "&" if "?" in url else "?"  # a search's page already has its query
            url += f"{joiner}{self.settings.resume_param}={quote(progress.cursor, safe='')}"
        self.tap.drain()  # leftovers of the previous page belong to no target
        self._account_requests(progress)
        self.politeness.wait_turn()
        log.debug("opening %s", url)
        try:
            self.driver.get(url)
        except TimeoutException:
            raise _Stalled(f"page load timed out: {url}") from None
        except WebDriverException as exc:  # e.g. net::ERR_NAME_NOT_RESOLVED when offline
            self._load_failed(url, first_line(exc))
        net_error = self.driver.execute_script(_NET_ERROR_SCRIPT)
        if net_error:  # a failure now, not after every scroll has waited for a feed response
            self._load_failed(url, f"net::{net_error}")
        self._pages_opened += 1
        landed = self.driver.current_url  # one WebDriver round trip
        self._stop_if_blocked(blocks.classify_redirect(landed), landed)

    def _load_failed(self, url: str, reason: str) -> NoReturn:
        """A page load failed. Before any page has opened, a site that cannot be reached at all
        (no network, a name that does not resolve, a refused connection) is no throttling to
        wait out: the crawl ends now, in one line, with its state saved. Later, back off."""
        code = blocks.unreachable_error(reason)
        if code and not self._pages_opened:
            raise PipelineError(
                f"cannot reach {urlsplit(url).netloc}: net::{code} on the first page {url} "
                f"(no network, a name that does not resolve, or nothing listening); state saved "
                f"in {self.state_path}: check the network and --base-url, then run the same "
                "command to resume"
            )
        raise _Stalled(f"page load failed: {url}: {reason}")

    def _follow_feed(self, target: Target, progress: TargetState) -> None:
        """Scroll until the feed ends or the quota is met; _Stalled when scrolls go unanswered,
        _Throttled when the site refuses (the page is left for the sleep)."""
        idle = 0
        while not progress.done and self._room(progress) > 0:
            arrived = self._harvest(target, progress)
            idle = 0 if arrived else idle + 1
            if idle > self.settings.idle_scrolls:
                raise _Stalled(f"no feed response after {idle} scrolls")
            if progress.done or self._room(progress) == 0:
                return
            self.politeness.wait_turn()
            try:
                self.driver.execute_script(_SCROLL_SCRIPT)
            except WebDriverException as exc:
                raise _Stalled(f"scroll failed: {first_line(exc)}") from None

    def _harvest(self, target: Target, progress: TargetState) -> bool:
        """Wait for feed responses and store their posts; True if a feed page arrived."""
        deadline = time.monotonic() + self.settings.response_timeout_s
        while time.monotonic() < deadline:
            responses = self.tap.drain()
            self._account_requests(progress)
            refused: _Throttled | None = None
            arrived = False
            for response in responses:
                try:
                    page = self._parse(target, response)
                except _Throttled as exc:
                    refused = exc
                    continue
                if page is not None:
                    self._store_page(target, progress, page)
                    arrived |= page.is_feed
            if arrived:
                self._throttled = 0
                self.politeness.success()
            if refused:
                raise refused
            if arrived:
                return True
            time.sleep(self.settings.poll_interval_s)
        return False

    def _account_requests(self, progress: TargetState) -> None:
        progress.requests += self.tap.requests - self._noted_requests
        self._noted_requests = self.tap.requests
        self.politeness.note_requests(self.tap.take_requests_by_type())

    def _parse(self, target: Target, response: Response) -> parsers.Page | None:
        """The posts page a response carries; None for responses that are not a feed."""
        classify_url = blocks.classify_redirect if response.redirected else blocks.classify_url
        self._stop_if_blocked(classify_url(response.url), response)
        # Only a 401's require_login depends on the session; reading cookies costs a round trip.
        logged_in = response.status == 401 and self._logged_in()
        document = parsers.json_or_none(response.body)  # decoded once, for both readings
        refusal = blocks.classify_response(response.status, document, logged_in)
        if refusal is not None:
            self._stop_if_blocked(refusal.kind, response, refusal.reason)
        if urlsplit(response.url).path.startswith("/p/"):
            return None  # post pages are fetched and parsed by _fill_from_post_page
        try:
            if document is not None:
                page = parsers.parse_json(document, target.source, self.settings.base_url)
            else:
                page = parsers.parse_text(response.body, target.source, self.settings.base_url)
        except blocks.Blocked as exc:
            self._stop_if_blocked(exc.kind, response)
            return None
        except parsers.UnknownShape:
            log.debug("ignoring a response that is not Instagram JSON or HTML: %s", response.url)
            return None
        if _SINGLE_MEDIA_PATH.match(urlsplit(response.url).path):
            page.is_feed = False
        if not page.records and not page.is_feed:
            return None  # e.g. the logged-out shell, whose feed arrives by XHR
        return page

    def _stop_if_blocked(
        self, kind: str | None, where: Response | str, reason: str = "'Please wait' page"
    ) -> None:
        """RemoteStop (state saved) for a login wall, challenge or feedback_required; _Throttled
        for throttling."""
        if kind is None:
            return
        if kind == blocks.RATE_LIMIT and isinstance(where, Response):
            family = query_type(where.url, where.resource_type)
            raise _Throttled(reason, family and family.split(":")[0], where.retry_after_s)
        url = where.url if isinstance(where, Response) else where
        self._save()
        if kind == blocks.LOGIN and not self._logged_in():
            advice = _LOGGED_OUT_ADVICE
        else:
            advice = _NEXT_STEP.get(kind, "fix the cause")
        raise self._resumable(f"{_STOP_NAMES.get(kind, kind)} at {url}", advice)

    def _logged_in(self) -> bool:
        """Whether the browser holds a session cookie for the site (asked only about a refusal,
        while the browser is on the site's page)."""
        try:
            cookies = self.driver.get_cookies()
        except WebDriverException:
            return False
        return any(c.get("name") == "sessionid" and c.get("value") for c in cookies)

    def _store_page(self, target: Target, progress: TargetState, page: parsers.Page) -> None:
        fresh = {r["shortcode"]: r for r in page.records if r["shortcode"] not in self.store}
        batch = list(fresh.values())[: self._room(progress)]
        for record in batch:
            self._fill_from_post_page(target, record)
        self._download_images(batch)
        added = self.store.add(batch)
        progress.posts += len(added)
        self.summary.posts_per_target[target.source] += len(added)
        if self._progress is not None:
            self._progress.update(len(added))
        if page.is_feed and len(batch) == len(fresh):
            # Only a page stored in full moves the cursor: a page cut by the quota is read
            # again by a later run with a larger quota.
            progress.cursor = page.next_cursor
            progress.done = not page.more_available or not page.next_cursor
        self._save()

    def _fill_from_post_page(self, target: Target, record: dict[str, Any]) -> None:
        """Open the post page (as an in-page fetch) for fields the feed left out."""
        if all(record.get(name) not in (None, "") for name in self.settings.post_page_for):
            return
        self.politeness.wait_turn()
        self.summary.post_pages += 1
        status, html = self.driver.execute_async_script(_FETCH_TEXT_SCRIPT, record["url"])
        if status != 200:
            log.info("post page %s: HTTP %s; keeping the feed's fields", record["url"], status)
            return
        try:
            found = parsers.parse_html(html, target.source, self.settings.base_url).records
        except (blocks.Blocked, parsers.UnknownShape) as exc:
            log.info("post page %s unusable: %s", record["url"], exc)
            return
        # A post page also embeds other posts (more from the owner, related): take this one's.
        same = next((r for r in found if r["shortcode"] == record["shortcode"]), {})
        for name, value in same.items():
            if record.get(name) in (None, "", []):
                record[name] = value

    def _download_images(self, batch: list[dict[str, Any]]) -> None:
        if self.downloader is None:
            return
        for record in batch:
            path, reason = self.downloader.fetch(record)
            if path:
                record["image_path"] = path
                self.summary.images_saved += 1
            else:
                log.info("image of %s not saved: %s", record["shortcode"], reason)

    def _save(self) -> None:
        save_state(self.state, self.state_path)


def report_summary(summary: CrawlSummary, log_path: Path) -> None:
    """Print the summary on stdout (even under --quiet) and keep a copy in crawl.log."""
    text = "\n".join(summary.lines())
    print(text)
    with open(log_path, "a", encoding="utf-8") as handle:
        handle.write(text + "\n")
