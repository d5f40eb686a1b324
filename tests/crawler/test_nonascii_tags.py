"""Tags outside ASCII crawl as cheaply as ASCII ones, in real Chromium (issue 19, part 8).

A tag's feed URL carries the tag %-encoded (``/api/v1/tags/%EC%9A%B4%EB%8F%99/sections/``);
the demo site once decoded it for GET but not for the feed's POST, so every scroll of a Korean
tag went unanswered and the crawl moved only by stalling and reloading. The demo corpus has
Korean and Japanese tags only, so each script here is an alias of an ASCII tag's posts: the
URL handling under test is the same, and the ASCII tag crawled in the same run is the peer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo_site.generator import DemoCorpus
from demo_site.server import DemoSite
from demo_site.topics import SPAM_TAGS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("chromium_ready")]

PER_TARGET = 72  # the page's embedded first page and two scrolled feed pages
# One tag per script: Korean, Japanese, Arabic, Cyrillic, accented Latin (typed capitalised:
# the crawler casefolds tags, as Instagram does).
SCRIPTS = {
    "운동": "운동",
    "赤ちゃん": "赤ちゃん",
    "رياضة": "رياضة",
    "спорт": "спорт",
    "Café": "café",
}


class AliasedSite(DemoSite):
    """The demo site with extra tags, each serving the posts of one of the corpus's tags."""

    def __init__(self, corpus: DemoCorpus, aliases: dict[str, str]) -> None:
        super().__init__(corpus)
        self.aliases = aliases

    def tag_posts(self, tag: str) -> list[int]:
        return super().tag_posts(self.aliases.get(tag, tag))


def _disjoint_tags(corpus: DemoCorpus, count: int, size: int) -> list[str]:
    """``count`` ASCII topic tags whose first ``size`` posts do not overlap (a post stored
    under one tag is not stored again under another, which would cost extra feed pages)."""
    chosen: list[str] = []
    seen: set[int] = set()
    for tag in corpus.tags():
        head = set(corpus.tag_posts(tag)[:size])
        if tag.isascii() and tag not in SPAM_TAGS and len(head) == size and not head & seen:
            chosen.append(tag)
            seen |= head
    assert len(chosen) >= count
    return chosen[:count]


@pytest.fixture(scope="module")
def corpus() -> DemoCorpus:
    return DemoCorpus(seed=3, n_posts=20_000)


@pytest.fixture
def aliased(corpus: DemoCorpus) -> Iterator[tuple[AliasedSite, str]]:
    """The site, and the ASCII peer tag (the others are served under SCRIPTS' names)."""
    ascii_tag, *sources = _disjoint_tags(corpus, len(SCRIPTS) + 1, PER_TARGET)
    aliases = dict(zip(SCRIPTS.values(), sources, strict=True))
    with AliasedSite(corpus, aliases) as site:
        yield site, ascii_tag


def test_non_ascii_tags_crawl_without_stalls_at_the_ascii_cost(
    run_crawl, read_posts, aliased: tuple[AliasedSite, str], tmp_path: Path
) -> None:
    site, ascii_tag = aliased
    tags = [ascii_tag, *SCRIPTS]
    args = [arg for tag in tags for arg in ("--tag", tag)]

    code, stdout, stderr = run_crawl(
        tmp_path, "--base-url", site.base_url, *args, "--per-target", str(PER_TARGET)
    )

    assert code == 0, stderr
    log = (tmp_path / "crawl.log").read_text("utf-8")
    assert "no feed response" not in log and "failure" not in log
    assert site.counters["status_404"] == 0
    state = json.loads((tmp_path / "state.json").read_text("utf-8"))["targets"]
    peer = state[f"tag:{ascii_tag}"]
    assert peer["posts"] == PER_TARGET
    for typed, stored in SCRIPTS.items():
        progress = state[f"tag:{stored}"]
        assert progress["posts"] == PER_TARGET, typed
        assert progress["requests"] <= peer["requests"] + 1, (typed, progress, peer)
    sources = {record["source"] for record in read_posts(tmp_path)}
    assert sources == {f"tag:{tag}" for tag in [ascii_tag, *SCRIPTS.values()]}
