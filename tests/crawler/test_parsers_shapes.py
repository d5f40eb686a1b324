"""Every response shape of issue 9, from captures built after the public descriptions
(instaloader's structures, gallery-dl's and yt-dlp's Instagram extractors, instagrapi): the
walker must find the same posts whatever envelope, wrapper key or page they arrive in."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from crawler import parsers
from crawler.blocks import Blocked

FIXTURES = Path(__file__).parent / "fixtures" / "instagram"
CDN = "https://scontent.cdninstagram.com/v/t51.29350-15"


def parse(name: str, source: str = "tag:test") -> parsers.Page:
    return parsers.parse_text((FIXTURES / name).read_text("utf-8"), source)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text("utf-8"))


def codes(page: parsers.Page) -> list[str]:
    return [record["shortcode"] for record in page.records]


def by_code(page: parsers.Page) -> dict[str, dict[str, Any]]:
    return {record["shortcode"]: record for record in page.records}


def stable(page: parsers.Page) -> dict[str, dict[str, Any]]:
    """The records by shortcode without their crawl time."""
    return {
        code: {k: v for k, v in r.items() if k != "crawled_at"} for code, r in by_code(page).items()
    }


# (file, media kinds, shortcodes in document order, next cursor, more available, is a feed page)
SHAPES = [
    # tag web_info via GraphQL: data.xdt_api__v1__tags__web_info.data.{top,recent}
    ("tag_web_info_xdt.json", "v1", ["TagTop0001", "TagCar0002", "TagClp0003"],
     "QVFBcmVjZW50X3NlY3Rpb25zX2N1cnNvcg==", True, True),
    # profile scrolling: data.xdt_api__v1__feed__user_timeline_graphql_connection.edges[].node
    ("profile_timeline_xdt.json", "v1", ["Prof0001", "Prof0002", "Prof0003"],
     "3500000000000000003_61002", True, True),
    # logged-out profile (web_profile_info): data.user.edge_owner_to_timeline_media
    ("profile_web_info.json", "graphql", ["LoProf001", "LoProf002", "LoProf003"],
     "QVFEcHJvZmlsZV90aW1lbGluZV9jdXJzb3I=", True, True),
    # tagged posts: data.user.edge_user_to_photos_of_you
    ("tagged_posts.json", "graphql", ["Tagged001", "Tagged002"], None, False, True),
    # reels / clips: items[].media with paging_info, and the GraphQL connection of the same
    ("clips_user.json", "v1", ["Reel0001", "Reel0002"], "QVFBY2xpcHNfbWF4X2lk", True, True),
    ("clips_user_xdt.json", "v1", ["Reel0001", "Reel0002"], "QVFBY2xpcHNfeGR0X2N1cnNvcg==", False,
     True),
    # keyword search: fbsearch top_serp media_grid.sections (grid, clips, fill items)
    ("search_top_serp.json", "v1", ["Srch0001", "Srch0003", "Srch0002"],
     "QVFBc2VhcmNoX25leHRfbWF4X2lk", True, True),
    # location feeds: ?__a=1&__d=dis native_location_data and /api/v1/locations/<id>/sections/
    ("location_a1.json", "v1", ["Loc00001", "Loc00002"], "QVFBbG9jYXRpb25fcmVjZW50", True, True),
    ("location_sections.json", "v1", ["Loc00003", "Loc00002"], "QVFBbG9jYXRpb25fc2VjdGlvbnM=",
     True, True),
    # post pages: xdt_shortcode_media, xdt_api__v1__media__shortcode__web_info, media info
    ("xdt_shortcode_media.json", "graphql", ["XdtSide010"], None, False, False),
    ("xdt_web_info.json", "v1", ["WebInfo020"], None, False, False),
    ("media_info.json", "v1", ["WebInfo020"], None, False, True),
    # ?__a=1 forms: graphql.hashtag, graphql.shortcode_media, graphql.user, __d=dis items
    ("tag_a1.json", "graphql", ["KayakA1", "KayakB2"], None, False, True),
    ("a1_post.json", "graphql", ["A1Post001"], None, False, False),
    ("a1_post_dis.json", "v1", ["A1Dis0001"], None, False, True),
    ("a1_profile.json", "graphql", ["LoProf001", "LoProf002", "LoProf003"],
     "QVFEcHJvZmlsZV90aW1lbGluZV9jdXJzb3I=", True, True),
    # a 2019 window._sharedData blob saved as JSON on its own
    ("shared_data_tag_2019.json", "graphql", ["Shd2019a", "Shd2019b"],
     "QVFEc2hhcmVkX2RhdGFfMjAxOQ==", True, True),
    # HTML: data-sjs Relay payloads (2024-2026) and the older embedded blobs (2018-2022)
    ("tag_page_sjs.html", "v1", ["TagTop0001", "TagCar0002", "TagClp0003"],
     "QVFBcmVjZW50X3NlY3Rpb25zX2N1cnNvcg==", True, True),
    ("profile_page_sjs.html", "v1", ["Prof0001", "Prof0002", "Prof0003"],
     "3500000000000000003_61002", True, True),
    ("post_page_sjs.html", "v1", ["XigPost01"], None, False, False),
    ("search_page_sjs.html", "v1", ["Srch0001", "Srch0003", "Srch0002"],
     "QVFBc2VhcmNoX25leHRfbWF4X2lk", True, True),
    ("tag_page_reformatted.html", "graphql", ["SurfRe01"], "SURFCURSOR2", True, True),
    ("post_page_additional.html", "graphql", ["AddData01"], None, False, False),
]  # fmt: skip


@pytest.mark.parametrize("shape", SHAPES, ids=[shape[0] for shape in SHAPES])
def test_shape(shape: tuple) -> None:
    name, found, shortcodes, cursor, more, is_feed = shape
    page = parse(name)
    assert page.found == found
    assert codes(page) == shortcodes
    assert (page.next_cursor, page.more_available, page.is_feed) == (cursor, more, is_feed)
    for record in page.records:
        assert record["image_url"].startswith("https://")
        assert record["post_id"].isdigit()
        assert record["url"] == f"https://www.instagram.com/p/{record['shortcode']}/"


def test_every_fixture_file_is_covered() -> None:
    named = {shape[0] for shape in SHAPES}
    others = {"login_page.html", "post_logged_out.html", "tag_sections.json"}  # test_parsers.py
    assert {path.name for path in FIXTURES.iterdir()} == named | others


def test_v1_record_fields_from_a_wrapped_web_info() -> None:
    records = by_code(parse("tag_web_info_xdt.json", "tag:sunset"))
    top = records["TagTop0001"]
    assert top["caption"] == "First light over the bay #Sunset #GoldenHour"
    assert top["hashtags"] == ["sunset", "goldenhour"]
    assert top["image_url"].startswith(f"{CDN}/TagTop0001.jpg?")  # the largest candidate
    assert (top["width"], top["height"], top["owner"]) == (1080, 1350, "ana.rivera")
    assert top["taken_at"] == "2024-10-27T03:33:20Z"
    assert (top["likes"], top["comments"], top["is_video"]) == (10, 1, False)
    assert top["source"] == "tag:sunset"
    clip = records["TagClp0003"]
    assert (clip["is_video"], clip["likes"], clip["width"]) == (True, 900, 720)


def test_carousel_is_one_post_with_its_first_image_and_the_parents_caption() -> None:
    v1_carousel = by_code(parse("tag_web_info_xdt.json"))["TagCar0002"]
    assert v1_carousel["caption"] == "Two views, one #sunset 🌅 #beach"  # not the children's alt
    assert v1_carousel["image_urls"][0] == v1_carousel["image_url"]
    assert [url.split("?")[0] for url in v1_carousel["image_urls"]] == [
        f"{CDN}/TagCar0002_0.jpg",
        f"{CDN}/TagCar0002_1.jpg",
    ]
    assert (v1_carousel["width"], v1_carousel["height"]) == (1440, 1800)
    graphql_carousel = by_code(parse("a1_post.json"))["A1Post001"]
    assert len(graphql_carousel["image_urls"]) == 2
    assert graphql_carousel["image_url"] == f"{CDN}/A1PostC1_1080.jpg"
    assert graphql_carousel["hashtags"] == ["food", "porto"]


def test_carousel_children_and_related_posts_are_not_posts() -> None:
    """Children carry their own shortcode and display_url, yet belong to their carousel."""
    assert codes(parse("a1_post.json")) == ["A1Post001"]  # not A1PostC1/C2, not Related01
    assert codes(parse("xdt_shortcode_media.json")) == ["XdtSide010"]


def test_accessibility_caption_is_never_the_caption() -> None:
    records = by_code(parse("profile_timeline_xdt.json"))
    assert records["Prof0002"]["caption"] == ""  # caption: null, alt text present
    assert records["Prof0002"]["hashtags"] == []
    node = load("a1_post.json")["graphql"]["shortcode_media"]
    node["edge_media_to_caption"] = {"edges": []}
    (record,) = parsers.parse_json(node, "file:x").records
    assert record["caption"] == ""


def test_logged_out_profile_names_the_owner_from_the_user() -> None:
    records = parse("profile_web_info.json").records
    assert {record["owner"] for record in records} == {"cy.sea"}
    video = by_code(parse("profile_web_info.json"))["LoProf002"]
    assert (video["is_video"], video["width"], video["height"]) == (True, 720, 1280)


def test_tagged_posts_keep_their_own_owners_not_the_tagged_user() -> None:
    records = by_code(parse("tagged_posts.json"))
    assert records["Tagged001"]["owner"] == "ana.rivera"
    assert "owner" not in records["Tagged002"]  # only its owner's id is given


def test_the_same_post_twice_in_one_document_is_one_record() -> None:
    """Search repeats Srch0001 in a fill item; the 2019 tag page has it in top and recent."""
    for name in ("search_top_serp.json", "shared_data_tag_2019.json", "location_a1.json"):
        found = codes(parse(name))
        assert len(found) == len(set(found)), name


def test_a_later_sighting_only_fills_what_the_first_lacks() -> None:
    full = load("xdt_web_info.json")["data"]["xdt_api__v1__media__shortcode__web_info"]["items"][0]
    bare = {key: full[key] for key in ("code", "pk", "image_versions2")}
    page = parsers.parse_json({"grid": [bare], "detail": {"items": [full]}}, "file:x")
    (record,) = page.records
    assert record["caption"] == ""  # the first sighting's fields stay
    assert (record["owner"], record["likes"]) == ("alpine_ann", 56)  # the rest is filled in


def test_unseen_wrapper_keys_do_not_matter() -> None:
    """The media list of a known response, moved under wrapper keys never seen before."""
    connection = load("profile_timeline_xdt.json")["data"][
        "xdt_api__v1__feed__user_timeline_graphql_connection"
    ]
    wrapped = {
        "data": {"xdt_api__v2__brand_new_surface": {"payload": [{"result": connection}]}},
        "extensions": {"server_metadata": {"request_start_time_ms": 1}},
        "telemetry_2027": {"edges": [], "more_available": None},
    }
    page = parsers.parse_json(wrapped, "profile:bo_trails")
    assert codes(page) == ["Prof0001", "Prof0002", "Prof0003"]
    assert (page.next_cursor, page.more_available) == ("3500000000000000003_61002", True)
    assert stable(page) == stable(parse("profile_timeline_xdt.json", "profile:bo_trails"))


def test_media_nested_deeper_than_the_recursion_limit() -> None:
    media = load("xdt_web_info.json")["data"]["xdt_api__v1__media__shortcode__web_info"]["items"]
    document: Any = {"items": media}
    for depth in range(5000):
        document = {f"level_{depth}": [document]}
    assert codes(parsers.parse_json(document, "file:x")) == ["WebInfo020"]


def test_same_post_same_record_in_every_envelope() -> None:
    """Contract 1: the post's record does not depend on where the media object was found."""
    assert stable(parse("tag_page_sjs.html")) == stable(parse("tag_web_info_xdt.json"))
    assert stable(parse("profile_page_sjs.html")) == stable(parse("profile_timeline_xdt.json"))
    assert stable(parse("search_page_sjs.html")) == stable(parse("search_top_serp.json"))
    assert stable(parse("clips_user_xdt.json")) == stable(parse("clips_user.json"))
    assert stable(parse("a1_profile.json")) == stable(parse("profile_web_info.json"))
    assert stable(parse("xdt_web_info.json")) == stable(parse("media_info.json"))


def test_relay_payload_found_however_deep_the_bbox_nesting() -> None:
    html = (FIXTURES / "profile_page_sjs.html").read_text("utf-8")
    assert html.count('"__bbox"') >= 4  # ScheduledServerJS -> __bbox -> require -> ... nested
    assert 'data-sjs>{"require"' in html
    assert codes(parsers.parse_html(html, "profile:bo_trails")) == [
        "Prof0001",
        "Prof0002",
        "Prof0003",
    ]


def test_data_sjs_wins_over_the_post_pages_meta_tags() -> None:
    (record,) = parse("post_page_sjs.html").records
    assert record["caption"] == "Night swim 🌙 #ocean #nightswim"  # og: holds a cut caption
    assert (record["owner"], record["likes"], record["comments"]) == ("cy.sea", 77, 4)
    assert record["taken_at"] == "2024-10-27T03:41:40Z"  # the exact time, not the og: day


def test_page_shell_without_media_is_zero_posts() -> None:
    html = (FIXTURES / "tag_page_sjs.html").read_text("utf-8")
    start = html.index('<script type="application/json" data-content-len')
    shell = html[:start] + "</body></html>"
    page = parsers.parse_html(shell, "tag:sunset")
    assert (page.records, page.found, page.is_feed) == ([], "none", False)


def test_profile_without_posts_is_an_ended_feed() -> None:
    profile = load("profile_web_info.json")
    timeline = profile["data"]["user"]["edge_owner_to_timeline_media"]
    timeline.update(count=0, edges=[], page_info={"has_next_page": False, "end_cursor": None})
    page = parsers.parse_json(profile, "profile:cy.sea")
    assert (page.records, page.is_feed, page.more_available) == ([], True, False)


def test_story_items_are_not_posts() -> None:
    story = copy.deepcopy(load("media_info.json")["items"][0])
    story.update(product_type="story", code="StoryItem1", expiring_at=1720086400)
    page = parsers.parse_json({"reels": {"61002": {"items": [story]}}}, "file:x")
    assert page.records == []


def test_block_in_a_graphql_wrapper_is_still_a_block() -> None:
    with pytest.raises(Blocked):
        parsers.parse_json({"message": "checkpoint_required", "checkpoint_url": "/c/"}, "f")


@pytest.mark.parametrize(
    "text",
    ["just some notes", "", "PNG\x00\x01binary-ish"],
    ids=["prose", "empty", "binary-ish"],
)
def test_text_that_is_neither_json_nor_html(text: str) -> None:
    with pytest.raises(parsers.UnknownShape, match="not JSON or HTML"):
        parsers.parse_text(text, "file:x")
