"""``hashtag-crawl crawl``'s settings: their types and limits (the values: configs/crawl.yaml).

Its ``demo`` section, for ``crawl --demo``, is the demo site's own model
(demo_site.settings.DemoSettings, values from configs/demo.yaml), the one import of the demo
site the settings make (docs/architecture.md, the import rule).

Checked once, before a browser starts or a demo corpus is drawn (runtime.settings): a mistyped
``--set`` value is one line and exit 2, not a crash in the middle of a crawl.
"""

from __future__ import annotations

from pydantic import Field

from demo_site.settings import DemoSettings
from runtime.settings import Count, Positive, Seconds, Section, Settings


class PolitenessSettings(Settings):
    """The ``politeness`` section (crawler.politeness; the YAML explains each key)."""

    stage = "crawl"
    section = "politeness"

    delay_mean_s: Seconds
    delay_max_s: Seconds
    budget_requests: Count
    budget_window_s: Seconds
    graphql_budget_requests: Count
    graphql_budget_window_s: Seconds
    api_budget_requests: Count
    backoff_base_s: Seconds
    backoff_max_s: Seconds
    backoff_margin_s: Seconds
    backoff_attempts: Count
    stall_pause_s: Seconds
    max_consecutive_failures: Count


class BrowserSettings(Settings):
    """How to start the browser (crawler.browser): the ``browser`` section."""

    stage = "crawl"
    section = "browser"

    chromedriver: str | None
    remote_url: str | None
    profile_dir: str | None
    headless: bool
    page_load_timeout_s: float = Field(gt=0)
    window_size: str = Field(pattern=r"^\d+,\d+$")


class LoopSection(Section):
    """The crawl loop's knobs (crawler.crawl)."""

    response_timeout_s: float = Field(gt=0)
    poll_interval_s: float = Field(gt=0)
    idle_scrolls: Count
    resume_param: str | None
    post_page_for: list[str]  # record fields (Contract 1)


class MediaSection(Section):
    timeout_s: float = Field(gt=0)


class CrawlerSettings(Settings):
    """``hashtag-crawl crawl``."""

    stage = "crawl"

    base_url: str
    out: str = Field(min_length=1)
    limit: Positive | None
    per_target: Positive | None
    download_images: bool
    politeness: PolitenessSettings
    browser: BrowserSettings
    crawl: LoopSection
    media: MediaSection
    demo: DemoSettings  # crawl.yaml holds only overrides of configs/demo.yaml
