"""hashtag-crawl's settings: their types and limits (the values: configs/crawl.yaml for
``crawl``, configs/demo.yaml for ``serve-demo`` and the ``demo`` section of ``crawl --demo``).

Checked once, before a browser starts or a demo corpus is drawn (runtime.settings): a mistyped
``--set`` value is one line and exit 2, not a crash in the middle of a crawl.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from runtime.settings import Section, Settings

Count = Annotated[int, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]
Share = Annotated[float, Field(ge=0, le=1)]


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


class RateLimitSection(Section):
    every: Count
    burst: Count
    retry_after: Count
    answer: Literal["http_429", "wait_401", "graphql_errors"]


class DemoSettings(Settings):
    """The embedded demo site (crawler.demo): its corpus, its server, its failure modes."""

    stage = "demo"

    seed: int
    n_posts: Positive
    n_topics: int = Field(ge=1, le=40)
    n_owners: Positive
    n_tags: Positive | None
    english_share: Share
    repost_rate: Share
    near_duplicate_rate: Share
    carousel_rate: Share
    host: str
    port: int = Field(ge=0, le=65535)
    page_size: Positive
    shapes: Literal["2026", "classic"]
    tag_top_posts: Positive | None
    rate_limit: RateLimitSection
    login_wall_after: Count
    logged_out_home_after: Count
    challenge_after: Count
    feedback_after: Count
    feedback_lasts: Count
    media_ttl_seconds: Count
    truncated_media_rate: Share
    non_image_media_rate: Share
    deleted_rate: Share

    @field_validator("shapes", mode="before")
    @classmethod
    def _unquoted_year(cls, value: Any) -> Any:
        """``shapes: 2026`` unquoted is a YAML integer."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


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
