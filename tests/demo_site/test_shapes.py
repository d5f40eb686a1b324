"""The demo site's 2026 shapes over real HTTP: data-sjs Relay first pages, the GraphQL profile
connection, keyword search's media grid and the reels feed, each walked to its end."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from demo_site.generator import DemoCorpus
from demo_site.server import DemoSite
from runtime.errors import UsageError
from runtime.records import PostRecord

_SJS = re.compile(
    r'<script type="application/json" data-content-len="(\d+)" data-sjs>(.*?)</script>'
)


@pytest.fixture(scope="module")
def corpus() -> DemoCorpus:
    return DemoCorpus(seed=5, n_posts=4_000, n_owners=60)


@pytest.fixture(scope="module")
def site(corpus: DemoCorpus) -> Iterator[DemoSite]:
    with DemoSite(corpus, {"shapes": "2026", "page_size": 12}) as running:
        yield running


def relay_results(page: str) -> dict[str, dict[str, Any]]:
    """Query id -> ``result.data`` of every data-sjs block, read along the real nesting."""
    found = {}
    for length, text in _SJS.findall(page):
        assert int(length) == len(text.encode())
        (scheduled,) = json.loads(text)["require"]
        assert scheduled[:2] == ["ScheduledServerJS", "handle"]
        (stream,) = scheduled[3][0]["__bbox"]["require"]
        assert stream[0] == "RelayPrefetchedStreamCache"
        query_id, box = stream[3]
        assert box["__bbox"]["complete"] is True
        found[query_id] = box["__bbox"]["result"]["data"]
    return found


def codes(medias: list[dict[str, Any]]) -> list[str]:
    return [m["code"] for m in medias]


def grid(sections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["media"] for s in sections for m in s["layout_content"]["medias"]]


def newest_first(corpus: DemoCorpus, posts: list[int]) -> list[str]:
    return [corpus.post(i).shortcode for i in posts]


def busy(names: list[str], posts_of: Any, low: int = 30) -> str:
    return next(name for name in names if low < len(posts_of(name)) < 400)


def test_tag_page_embeds_its_top_grid_and_scrolls_by_post(
    site: DemoSite, corpus: DemoCorpus
) -> None:
    tag = busy(corpus.tags(), corpus.tag_posts)
    page = requests.get(f"{site.base_url}/explore/tags/{tag}/", timeout=10).text
    info = relay_results(page)["PolarisTagPageQuery"]["xdt_api__v1__tags__web_info"]
    assert info["name"] == tag and "recent" not in info
    seen = codes(grid(info["top"]["sections"]))
    cursor = info["top"]["next_max_id"]
    while cursor:
        feed = requests.post(
            f"{site.base_url}/api/v1/tags/{tag}/sections/",
            data={"max_id": cursor, "tab": "top"},
            timeout=10,
        ).json()
        seen += codes(grid(feed["sections"]))
        cursor = feed["next_max_id"]
        assert feed["more_available"] == (cursor is not None)
    assert seen == newest_first(corpus, corpus.tag_posts(tag))


def test_resumed_tag_page_embeds_the_page_after_its_cursor(
    site: DemoSite, corpus: DemoCorpus
) -> None:
    tag = busy(corpus.tags(), corpus.tag_posts)
    after = corpus.post(corpus.tag_posts(tag)[11]).pk
    page = requests.get(f"{site.base_url}/explore/tags/{tag}/?max_id={after}", timeout=10).text
    info = relay_results(page)["PolarisTagPageQuery"]["xdt_api__v1__tags__web_info"]
    assert codes(grid(info["top"]["sections"])) == newest_first(
        corpus, corpus.tag_posts(tag)[12:24]
    )


def test_profile_page_embeds_the_timeline_connection_and_graphql_continues(
    site: DemoSite, corpus: DemoCorpus
) -> None:
    user = busy(corpus.profiles(), corpus.profile_posts)
    relay = relay_results(requests.get(f"{site.base_url}/{user}/", timeout=10).text)
    assert relay["PolarisProfilePageContentQuery"]["user"]["username"] == user
    connection = relay["PolarisProfilePostsTabContentQuery_connection"]
    seen: list[str] = []
    while True:
        timeline = connection["xdt_api__v1__feed__user_timeline_graphql_connection"]
        seen += codes([edge["node"] for edge in timeline["edges"]])
        info = timeline["page_info"]
        assert info["has_next_page"] == (info["end_cursor"] is not None)
        if not info["has_next_page"]:
            break
        variables = {"username": user, "after": info["end_cursor"], "first": 12}
        answer = requests.post(
            f"{site.base_url}/graphql/query",
            data={"doc_id": "1", "variables": json.dumps(variables)},
            timeout=10,
        ).json()
        assert answer["status"] == "ok" and answer["extensions"]["is_final"]
        connection = answer["data"]
    assert seen == newest_first(corpus, corpus.profile_posts(user))


def test_post_page_embeds_the_shortcode_web_info(site: DemoSite, corpus: DemoCorpus) -> None:
    post = corpus.post(7)
    page = requests.get(f"{site.base_url}/p/{post.shortcode}/", timeout=10).text
    info = relay_results(page)["PolarisPostRootQuery"]["xdt_api__v1__media__shortcode__web_info"]
    (media,) = info["items"]
    assert media["code"] == post.shortcode and media["caption"]["text"] == post.caption
    assert "__additionalDataLoaded" not in page and 'property="og:description"' in page


def _search_pages(base_url: str, query: str) -> Iterator[dict[str, Any]]:
    params = {"enable_metadata": "true", "query": query, "search_session_id": "s"}
    while True:
        answer = requests.get(
            f"{base_url}/api/v1/fbsearch/web/top_serp/", params=params, timeout=10
        )
        assert answer.status_code == 200
        yield (payload := answer.json())
        found = payload["media_grid"]
        assert found["has_more"] == (found["next_max_id"] is not None)
        if not found["has_more"]:
            return
        params |= {"next_max_id": found["next_max_id"], "rank_token": payload["rank_token"]}


def test_keyword_search_pages_its_media_grid_in_an_order_of_its_own(
    site: DemoSite, corpus: DemoCorpus
) -> None:
    tag = busy(corpus.tags(), corpus.tag_posts)
    page = requests.get(
        f"{site.base_url}/explore/search/keyword/", params={"q": f"#{tag}"}, timeout=10
    )
    assert page.status_code == 200 and "/api/v1/fbsearch/web/top_serp/" in page.text
    seen = [
        code
        for p in _search_pages(site.base_url, f"#{tag}")
        for code in codes(grid(p["media_grid"]["sections"]))
    ]
    expected = newest_first(corpus, corpus.tag_posts(tag))
    assert sorted(seen) == sorted(expected) and len(set(seen)) == len(seen)
    assert seen != expected  # ranked, not newest first
    # the same words give the same ranking, so a resumed search continues where it stopped
    again = [
        code
        for p in _search_pages(site.base_url, f"  #{tag.upper()} ")
        for code in codes(grid(p["media_grid"]["sections"]))
    ]
    assert again == seen


def test_search_refuses_foreign_cursors_and_sessions(site: DemoSite, corpus: DemoCorpus) -> None:
    tag = busy(corpus.tags(), corpus.tag_posts)
    first = next(_search_pages(site.base_url, tag))
    url = f"{site.base_url}/api/v1/fbsearch/web/top_serp/"
    cursor = first["media_grid"]["next_max_id"]
    wrong_token = requests.get(
        url, params={"query": tag, "next_max_id": cursor, "rank_token": "x"}, timeout=10
    )
    assert wrong_token.status_code == 404
    bad_cursor = requests.get(
        url,
        params={"query": tag, "next_max_id": "zzz", "rank_token": first["rank_token"]},
        timeout=10,
    )
    assert bad_cursor.status_code == 400
    nothing = requests.get(url, params={"query": "#nosuchtagatall"}, timeout=10)
    assert nothing.status_code == 404


def test_reels_feed_pages_items_media_by_paging_info(site: DemoSite, corpus: DemoCorpus) -> None:
    user = next(u for u in corpus.profiles() if len(site.reels(u)) > 12)
    page = requests.get(f"{site.base_url}/{user}/reels/", timeout=10)
    config = json.loads(re.search(r'id="feed-config">(.*?)</script>', page.text).group(1))
    form, seen = dict(config["params"]), []
    while True:
        feed = requests.post(f"{site.base_url}/api/v1/clips/user/", data=form, timeout=10).json()
        assert all(item["media"]["product_type"] == "clips" for item in feed["items"])
        seen += codes([item["media"] for item in feed["items"]])
        if not feed["paging_info"]["more_available"]:
            break
        form["max_id"] = feed["paging_info"]["max_id"]
    assert seen == newest_first(corpus, site.reels(user))
    assert set(seen) < set(newest_first(corpus, corpus.profile_posts(user)))


def test_tag_top_posts_caps_the_tag_page_but_not_search(corpus: DemoCorpus) -> None:
    tag = busy(corpus.tags(), corpus.tag_posts)
    with DemoSite(corpus, {"tag_top_posts": 9, "page_size": 12}) as site:
        page = requests.get(f"{site.base_url}/explore/tags/{tag}/", timeout=10).text
        top = relay_results(page)["PolarisTagPageQuery"]["xdt_api__v1__tags__web_info"]["top"]
        assert len(grid(top["sections"])) == 9 and top["more_available"] is False
        found = sum(
            len(grid(p["media_grid"]["sections"])) for p in _search_pages(site.base_url, tag)
        )
        assert found == len(corpus.tag_posts(tag)) > 9


@pytest.mark.parametrize(
    "config, message",
    [
        ({"shapes": "2019"}, "shapes must be '2026' or 'classic'"),
        ({"tag_top_posts": 0}, "tag_top_posts"),
    ],
)
def test_bad_shape_config_is_refused(
    corpus: DemoCorpus, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        DemoSite(corpus, config)


def test_every_2026_answer_parses_to_the_expected_records(
    expected_record: Callable[..., PostRecord], site: DemoSite, corpus: DemoCorpus
) -> None:
    """The crawler's parser reads each 2026 shape the site serves: the same posts, the same
    fields as the generator's ground truth, and the cursor the next request needs."""
    from crawler.parsers import parse_text

    tag = busy(corpus.tags(), corpus.tag_posts)
    user = busy(corpus.profiles(), corpus.profile_posts)
    base = site.base_url
    profile = corpus.profile_posts(user)
    answers = {
        "tag page": (
            requests.get(f"{base}/explore/tags/{tag}/", timeout=10).text,
            corpus.tag_posts(tag)[:12],
        ),
        "profile page": (requests.get(f"{base}/{user}/", timeout=10).text, profile[:12]),
        "profile scroll": (
            requests.post(
                f"{base}/graphql/query",
                data={
                    "variables": json.dumps(
                        {"username": user, "after": str(corpus.pk(profile[11]))}
                    )
                },
                timeout=10,
            ).text,
            profile[12:24],
        ),
        "search": (
            requests.get(
                f"{base}/api/v1/fbsearch/web/top_serp/", params={"query": tag}, timeout=10
            ).text,
            site.search_results(tag)[:12],
        ),
        "post page": (requests.get(f"{base}/p/{corpus.post(3).shortcode}/", timeout=10).text, [3]),
    }
    reel_user = next(u for u in corpus.profiles() if len(site.reels(u)) > 12)
    reel_owner = corpus.post(site.reels(reel_user)[0]).owner_pk
    answers["reels"] = (
        requests.post(
            f"{base}/api/v1/clips/user/", data={"target_user_id": reel_owner}, timeout=10
        ).text,
        site.reels(reel_user)[:12],
    )
    for name, (body, posts) in answers.items():
        page = parse_text(body, "x:y", base)
        assert [r["shortcode"] for r in page.records] == newest_first(corpus, posts), name
        for record, index in zip(page.records, posts, strict=True):
            expected = expected_record(corpus, index, base, "x:y")
            for key in ("caption", "owner", "taken_at", "post_id", "likes", "width"):
                assert record[key] == expected[key], (name, key)
        if name != "post page":
            assert page.is_feed and page.more_available and page.next_cursor, name
