"""The crawl loop: open each target's feed, scroll, harvest the feed's JSON, store new posts.

Posts come from the responses the page itself loads (see :mod:`crawler.network`), read by
:mod:`crawler.responses` (a page of posts, or a refusal); a post page is opened only when the
feed lacks a field the config asks for (:mod:`crawler.post_pages`), and images are downloaded
with ``--download-images`` (:mod:`crawler.media`). Every batch is fsynced to
``posts.jsonl`` before ``state.json`` moves the target's cursor past it, so a crawl killed at any
moment resumes without losing or duplicating a post.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote, urlsplit

from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver
from tqdm import tqdm

from crawler import blocks, parsers
from crawler.browser import first_line
from crawler.media import ImageDownloader
from crawler.network import NetworkTap
from crawler.politeness import Politeness
from crawler.post_pages import PostPages
from crawler.responses import ResponseReader, Throttled
from crawler.settings import CrawlerSettings
from crawler.state import CrawlState, TargetState, load_state, save_state
from crawler.store import PostStore
from crawler.summary import CrawlSummary
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
_STALLED_ADVICE = "check that the site opens in a browser from this machine"


class _Stalled(Exception):
    """The feed stopped answering scrolls without saying it was finished."""


class Crawler:
    """One browser session crawling a list of targets into one output folder."""

    def __init__(
        self,
        driver: WebDriver,
        out_dir: Path,
        settings: CrawlerSettings,
        politeness: Politeness,
        downloader: ImageDownloader | None = None,
        show_progress: bool = True,
    ) -> None:
        self.driver = driver
        self.settings = settings  # the command's own model: the loop reads settings.crawl
        self.base_url = settings.base_url.rstrip("/")
        self.politeness = politeness
        self.downloader = downloader
        self.show_progress = show_progress
        self.store = PostStore(out_dir / "posts.jsonl")
        if self.store.repaired_bytes:
            log.warning("cut a torn last line off posts.jsonl (%d B)", self.store.repaired_bytes)
        self.state_path = out_dir / "state.json"
        self.state: CrawlState = load_state(self.state_path, self.store.path)
        self.tap = NetworkTap(driver, self.base_url)
        self.responses = ResponseReader(driver, self.base_url, self.state_path, self._save)
        self.post_pages = PostPages(driver, politeness, self.base_url, settings.crawl.post_page_for)
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
            self.summary.post_pages = self.post_pages.opened
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
            except Throttled as exc:  # leave the page, sleep, then reopen at the saved cursor
                self._sleep_off(exc)
            except _Stalled as exc:
                self._save()
                try:
                    self.politeness.failure(f"{target.source}: {exc}")
                except RemoteStop as stop:
                    raise self.responses.resumable(str(stop), _STALLED_ADVICE) from None
        log.info(
            "%s: %d posts stored%s", target.source, progress.posts, " (feed end)" * progress.done
        )

    def _sleep_off(self, exc: Throttled) -> None:
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
            raise self.responses.resumable(
                str(stop), "let the account rest an hour or more"
            ) from None

    def _open_feed(self, target: Target, progress: TargetState) -> None:
        url = self.base_url + target.path
        if progress.cursor and self.settings.crawl.resume_param:
            joiner = "&" if "?" in url else "?"  # a search's page already has its query
            url += f"{joiner}{self.settings.crawl.resume_param}={quote(progress.cursor, safe='')}"
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
        self.responses.stop_if_blocked(blocks.classify_redirect(landed), landed)

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
        Throttled when the site refuses (the page is left for the sleep)."""
        idle = 0
        while not progress.done and self._room(progress) > 0:
            arrived = self._harvest(target, progress)
            idle = 0 if arrived else idle + 1
            if idle > self.settings.crawl.idle_scrolls:
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
        deadline = time.monotonic() + self.settings.crawl.response_timeout_s
        while time.monotonic() < deadline:
            responses = self.tap.drain()
            self._account_requests(progress)
            refused: Throttled | None = None
            arrived = False
            for response in responses:
                try:
                    page = self.responses.page(target, response)
                except Throttled as exc:
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
            time.sleep(self.settings.crawl.poll_interval_s)
        return False

    def _account_requests(self, progress: TargetState) -> None:
        progress.requests += self.tap.requests - self._noted_requests
        self._noted_requests = self.tap.requests
        self.politeness.note_requests(self.tap.take_requests_by_type())

    def _store_page(self, target: Target, progress: TargetState, page: parsers.Page) -> None:
        fresh = {r["shortcode"]: r for r in page.records if r["shortcode"] not in self.store}
        batch = list(fresh.values())[: self._room(progress)]
        for record in batch:
            self.post_pages.fill(target.source, record)
        if self.downloader is not None:
            self.summary.images_saved += self.downloader.save_all(batch)
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

    def _save(self) -> None:
        save_state(self.state, self.state_path)
