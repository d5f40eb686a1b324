"""The demo site's settings: their types and limits (the values: configs/demo.yaml, and the
``demo`` section of configs/crawl.yaml for ``hashtag-crawl crawl --demo``).

Checked once, before a corpus is drawn (runtime.settings), by ``serve-demo`` and by the crawler's
settings model, whose ``demo`` section this is.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from demo_site.topics import TOPICS
from runtime.settings import Count, Port, Positive, Section, Settings, Share


class RateLimitSection(Section):
    every: Count
    burst: Count
    retry_after: Count
    answer: Literal["http_429", "wait_401", "graphql_errors"]


class DemoSettings(Settings):
    """The demo site (demo_site): its corpus, its server, its failure modes."""

    stage = "demo"

    seed: int
    n_posts: Positive
    n_topics: int = Field(ge=1, le=len(TOPICS))
    n_owners: Positive
    n_tags: Positive | None
    english_share: Share
    repost_rate: Share
    near_duplicate_rate: Share
    carousel_rate: Share
    host: str
    port: Port  # 0: a free port
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
