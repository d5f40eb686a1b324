"""Crawls of the demo site's 2026 shapes with headless Chromium: a tag's first page read from
the page's data-sjs Relay JSON, a profile scrolled through the GraphQL timeline connection, a
keyword search's media grid (resumed mid-search), a reels feed, and the classic shapes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from demo_site.generator import DemoCorpus
from demo_site.server import DemoSite
from demo_site.topics import SPAM_TAGS
from runtime.records import PostRecord

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("chromium_ready")]

SHAPES_2026 = {"shapes": "2026"}


@pytest.fixture(scope="module")
def corpus() -> DemoCorpus:
    return DemoCorpus(seed=8, n_posts=6_000, n_owners=150)


@pytest.fixture(scope="module")
def site(corpus: DemoCorpus) -> Iterator[DemoSite]:
    with DemoSite(corpus, SHAPES_2026) as demo:
        yield demo


@pytest.fixture(scope="module")
def tag(corpus: DemoCorpus) -> str:
    return next(t for t in corpus.tags() if t not in SPAM_TAGS and len(corpus.tag_posts(t)) > 150)


def _shortcodes(corpus: DemoCorpus, posts: list[int]) -> list[str]:
    return [corpus.post(i).shortcode for i in posts]


def _stored(records: list[dict], source: str) -> list[str]:
    return [r["shortcode"] for r in records if r["source"] == source]


def test_tag_page_alone_yields_its_top_posts_from_the_embedded_relay_json(
    expected_record: Callable[..., PostRecord],
    run_crawl,
    read_posts,
    corpus: DemoCorpus,
    tag: str,
    tmp_path: Path,
) -> None:
    # The tag page shows 24 top posts and nothing more: no XHR can have brought them.
    with DemoSite(corpus, SHAPES_2026 | {"tag_top_posts": 24}) as top_only:
        code, stdout, _ = run_crawl(tmp_path, "--base-url", top_only.base_url, "--tag", tag)
        xhr = top_only.counters["xhr"]
    assert code == 0 and xhr == 0
    assert _stored(read_posts(tmp_path), f"tag:{tag}") == _shortcodes(
        corpus, corpus.tag_posts(tag)[:24]
    )
    state = json.loads((tmp_path / "state.json").read_text("utf-8"))
    assert state["targets"][f"tag:{tag}"]["done"] is True
    record = read_posts(tmp_path)[0]
    expected = expected_record(corpus, corpus.tag_posts(tag)[0], top_only.base_url, f"tag:{tag}")
    for key in ("caption", "hashtags", "owner", "taken_at", "url", "post_id", "likes"):
        assert record[key] == expected[key], key


def test_tag_crawl_continues_from_the_embedded_page_into_the_sections_feed(
    run_crawl, read_posts, site: DemoSite, corpus: DemoCorpus, tag: str, tmp_path: Path
) -> None:
    before = site.counters["xhr"]
    code, _, _ = run_crawl(
        tmp_path, "--base-url", site.base_url, "--tag", tag, "--per-target", "70"
    )
    assert code == 0 and site.counters["xhr"] > before
    assert _stored(read_posts(tmp_path), f"tag:{tag}") == _shortcodes(
        corpus, corpus.tag_posts(tag)[:70]
    )


def test_profile_crawl_follows_the_graphql_timeline_connection(
    run_crawl, read_posts, site: DemoSite, corpus: DemoCorpus, tmp_path: Path
) -> None:
    user = max(corpus.profiles(), key=lambda u: len(corpus.profile_posts(u)))
    posts = corpus.profile_posts(user)[:60]
    assert len(posts) == 60
    before = site.counters["xhr"]
    code, _, _ = run_crawl(
        tmp_path, "--base-url", site.base_url, "--profile", user, "--per-target", "60"
    )
    assert code == 0 and site.counters["xhr"] > before
    assert _stored(read_posts(tmp_path), f"profile:{user}") == _shortcodes(corpus, posts)
    assert {r["owner"] for r in read_posts(tmp_path)} == {user}


def test_search_crawl_harvests_the_media_grid_and_resumes_mid_search(
    run_crawl, read_posts, site: DemoSite, corpus: DemoCorpus, tag: str, tmp_path: Path
) -> None:
    query = f"#{tag}"
    ranked = _shortcodes(corpus, site.search_results(query))
    search = ["--base-url", site.base_url, "--search", query]
    assert run_crawl(tmp_path, *search, "--per-target", "48")[0] == 0
    assert _stored(read_posts(tmp_path), f"search:{query}") == ranked[:48]

    before = site.counters["xhr"]
    code, stdout, _ = run_crawl(tmp_path, *search, "--per-target", "96")
    assert code == 0 and f"search:{query}: 48 new posts" in stdout
    assert _stored(read_posts(tmp_path), f"search:{query}") == ranked[:96]
    assert site.counters["xhr"] - before <= 3  # pages 3 and 4 (+1 at most), not 1 to 4 again


def test_reels_crawl_reads_the_clips_feed_to_its_end(
    run_crawl, read_posts, site: DemoSite, corpus: DemoCorpus, tmp_path: Path
) -> None:
    user = max(corpus.profiles(), key=lambda u: len(site.reels(u)))
    reels = site.reels(user)
    assert len(reels) > 24  # more than one page
    code, stdout, _ = run_crawl(tmp_path, "--base-url", site.base_url, "--reels", user)
    assert code == 0 and "stop reason: targets done" in stdout
    assert _stored(read_posts(tmp_path), f"reels:{user}") == _shortcodes(corpus, reels)


def test_classic_shapes_still_crawl(
    run_crawl, read_posts, corpus: DemoCorpus, tag: str, tmp_path: Path
) -> None:
    """The older site (empty shells, every page by GET from the v1 feeds) stays crawlable."""
    with DemoSite(corpus, {"shapes": "classic"}) as classic:
        code, _, _ = run_crawl(
            tmp_path, "--base-url", classic.base_url, "--tag", tag, "--per-target", "50"
        )
        xhr = classic.counters["xhr"]
    assert code == 0 and xhr >= 3  # pages 1-3 of the feed, none embedded
    assert _stored(read_posts(tmp_path), f"tag:{tag}") == _shortcodes(
        corpus, corpus.tag_posts(tag)[:50]
    )
