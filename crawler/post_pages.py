"""Filling a post's record from its own page, for the fields the feed left out.

Feeds of the current site leave out some fields (a carousel's other images, a caption cut
short); configs/crawl.yaml ``crawl.post_page_for`` names the fields worth one more request per
post. The page is fetched in the page's own context (an in-page ``fetch``), with its cookies.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from selenium.webdriver.remote.webdriver import WebDriver

from crawler import blocks, parsers
from crawler.politeness import Politeness
from runtime.records import PostRecord

log = logging.getLogger(__name__)

_FETCH_TEXT_SCRIPT = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {credentials: "include"})
  .then(r => r.text().then(t => done([r.status, t]))).catch(e => done([0, String(e)]));
"""


class PostPages:
    """Opens post pages for records that lack one of ``fields``; counts the pages opened."""

    def __init__(
        self, driver: WebDriver, politeness: Politeness, base_url: str, fields: Sequence[str]
    ) -> None:
        self.driver = driver
        self.politeness = politeness
        self.base_url = base_url
        self.fields = fields
        self.opened = 0

    def fill(self, source: str, record: PostRecord) -> None:
        """Fill the record's empty fields from its post page, if a wanted one is empty."""
        if all(record.get(name) not in (None, "") for name in self.fields):
            return
        self.politeness.wait_turn()
        self.opened += 1
        status, html = self.driver.execute_async_script(_FETCH_TEXT_SCRIPT, record["url"])
        if status != 200:
            log.info("post page %s: HTTP %s; keeping the feed's fields", record["url"], status)
            return
        try:
            found = parsers.parse_html(html, source, self.base_url).records
        except (blocks.Blocked, parsers.UnknownShape) as exc:
            log.info("post page %s unusable: %s", record["url"], exc)
            return
        # A post page also embeds other posts (more from the owner, related): take this one's.
        same = next((r for r in found if r["shortcode"] == record["shortcode"]), {})
        for name, value in same.items():
            if record.get(name) in (None, "", []):
                record[name] = value  # type: ignore[literal-required]
