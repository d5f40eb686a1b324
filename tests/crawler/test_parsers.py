"""The media walker on real captures (../shared/fixtures/instagram) and own fixtures."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from crawler import blocks, media_records, parsers
from crawler.blocks import Blocked
from demo_site import payloads
from demo_site.generator import DemoCorpus, DemoPost, media_path
from runtime.records import PostRecord, wrong_fields

OWN_FIXTURES = Path(__file__).parent / "fixtures" / "instagram"
CAPTURE_FILES = {  # every capture in the shared folder: media kinds, post count, cursor prefix
    "hashtag.json": ("graphql", 43, "QVFEYy1pYW90TGt4aWF0"),
    "hashtag-2.json": ("graphql", 20, "QVFBT3R2dWFOV25OM3ZE"),
    "medias.json": ("graphql", 12, "QVFCT1Y3cVc2eDZYQkRl"),
    "media.json": ("v1", 1, None),
    "location.html": ("graphql", 33, "2420224628294009909"),
    # 12 timeline posts and 9 more IGTV videos of the same user (edge_felix_video_timeline)
    "profile-additional-data.html": ("graphql", 21, "QVFCSF84Z1I1Tkh4UmF5"),
    "home.html": ("none", 0, None),
}
BLOCK_CAPTURES = {"checkpoint-challenge-content.html": "challenge"}

# One known post per capture: (file, shortcode, caption fragment, hashtags, owner, taken_at,
# image_url prefix, likes, comments, is_video, width, height).
KNOWN_POSTS = [
    (
        "hashtag.json",
        "CKsCopzFQH5",
        "Recreating a day in Paris at home!",
        [
            "happybirthday",
            "50thbirthday",
            "lavieenrose",
            "monamour",
            "blessings",
            "grateful",
            "thankful",
            "husband",
            "life",
            "health",
            "joy",
            "milestonebirthday",
            "romance",
            "paris",
            "france",
        ],
        None,
        "2021-01-30T23:50:30Z",
        "https://scontent-cdg2-1.cdninstagram.com/v/t51.2885-15/e35/"
        "144261939_1366236177044251_594663919212045302_n.jpg?",
        0,
        0,
        True,
        640,
        995,
    ),
    (
        "hashtag.json",
        "CKrfLPHM4a7",
        "I don’t speak boyshit",
        [
            "galerieslafayette",
            "rooftop",
            "rooftopparis",
            "eiffeltower",
            "toureiffel",
            "january",
            "winter",
            "paris",
            "parisianstyle",
            "parisienne",
            "fitness",
            "fitnessgirl",
            "stradivarius",
        ],
        None,
        "2021-01-30T18:39:10Z",
        "https://scontent-cdt1-1.cdninstagram.com/v/t51.2885-15/e35/p1080x1080/"
        "144031504_772540257014394_5182759418352300564_n.jpg?",
        178,
        9,
        False,
        1080,
        1350,
    ),
    (
        "hashtag-2.json",
        "CKtQgmHimX9",
        "Titli : Relaxing on momma's lap.",
        [
            "budgiesofinstagram",
            "budgielove",
            "budgiegram",
            "budgie",
            "budgiesofig",
            "budgies",
            "paris",
            "parrottlovers",
            "parrotlife",
            "parentsofbirds",
            "paradisebird",
            "birbs",
            "birds",
            "instabird",
            "instacute",
            "pets",
            "animalovers",
            "animalofinstagram",
            "animal",
            "discovery",
            "babies",
            "butterfly",
            "titli",
            "paplion",
            "oiseau",
            "oiseaux",
            "perrucheondulée",
            "minon",
            "france",
            "love",
        ],
        None,
        "2021-01-31T11:09:50Z",
        "https://scontent-cdg2-1.cdninstagram.com/v/t51.2885-15/e35/"
        "144018015_752797132279824_5349518413145215145_n.jpg?",
        4,
        0,
        True,
        750,
        937,
    ),
    (
        "medias.json",
        "B7XDCBNlds_",
        "Catching up is #fun to do...",
        [
            "fun",
            "legends",
            "marciklein",
            "anythinggoes",
            "nofilter",
            "snl",
            "alumni",
            "press",
            "hair",
            "style",
            "robertpalmer",
            "addictedtolove",
            "newyork",
            "newyorkcity",
            "nyc",
            "day6",
            "bts",
        ],
        "robertdowneyjr",
        "2020-01-16T00:17:31Z",
        "https://scontent-frt3-1.cdninstagram.com/v/t51.2885-15/e35/s1080x1080/"
        "80054195_164828998171113_1586691303979724398_n.jpg?",
        1581850,
        2561,
        False,
        1080,
        810,
    ),
    (
        "media.json",
        "CAnqPB-Jzcj",
        "Today, #LetsGetLoud for our heroes!",
        ["letsgetloud", "memorialday"],
        "jlo",
        "2020-05-25T17:44:54Z",
        "https://scontent-arn2-2.cdninstagram.com/v/t51.2885-15/"
        "100999294_588574515099288_8259818582928412966_n.jpg?",
        820750,
        4647,
        False,
        1440,
        1440,
    ),
    (
        "location.html",
        "B5rEp67n-w3",
        "their savory crêpes are just exceptional!",
        ["newyorknewyork"],
        None,
        "2019-12-05T01:53:44Z",
        "https://scontent-cdg2-1.cdninstagram.com/v/t51.2885-15/e35/p1080x1080/"
        "74607460_3223523367722884_955674193158361307_n.jpg?",
        2145,
        67,
        False,
        1080,
        1349,
    ),
    (
        "profile-additional-data.html",
        "CAxyPW6luuN",
        "L.A. 1931. Everybody's guilty",
        [],
        "robertdowneyjr",
        "2020-05-29T16:08:52Z",
        "https://instagram.fzrh3-1.fna.fbcdn.net/v/t51.2885-15/e35/"
        "101053070_681654282631683_8658322177567075578_n.jpg?",
        407175,
        3408,
        True,
        480,
        853,
    ),
]


def classify_page(html: str) -> str | None:
    """The block a whole HTML page is, as the crawler judges it (scan, then classify)."""
    return blocks.classify_scan(blocks.scan_html(html))


def parse_file(path: Path) -> parsers.Page:
    return parsers.parse_text(path.read_text("utf-8"), f"file:{path.name}")


def test_every_capture_is_covered(instagram_fixtures: Path) -> None:
    captures = {p.name for p in instagram_fixtures.iterdir() if p.suffix in (".json", ".html")}
    assert captures == set(CAPTURE_FILES) | set(BLOCK_CAPTURES)


@pytest.mark.parametrize("name", sorted(CAPTURE_FILES))
def test_capture_shape_count_and_cursor(instagram_fixtures: Path, name: str) -> None:
    found, count, cursor_prefix = CAPTURE_FILES[name]
    page = parse_file(instagram_fixtures / name)
    assert (page.found, len(page.records)) == (found, count)
    assert len({r["shortcode"] for r in page.records}) == count
    if cursor_prefix is None:
        assert page.next_cursor is None and page.more_available is False
    else:
        assert page.next_cursor.startswith(cursor_prefix) and page.more_available is True
    for record in page.records:
        assert record["source"] == f"file:{name}"
        assert record["url"] == f"https://www.instagram.com/p/{record['shortcode']}/"
        assert record["image_url"].startswith("https://")
        assert wrong_fields(record) == set()  # a runtime.records.PostRecord, as the builder reads


@pytest.mark.parametrize("expected", KNOWN_POSTS, ids=[f"{p[0]}:{p[1]}" for p in KNOWN_POSTS])
def test_capture_known_post(instagram_fixtures: Path, expected: tuple) -> None:
    name, code, caption, hashtags, owner, taken_at, image, likes, comments, video, w, h = expected
    records = {r["shortcode"]: r for r in parse_file(instagram_fixtures / name).records}
    record = records[code]
    assert caption in record["caption"]
    assert record["hashtags"] == hashtags
    assert record.get("owner") == owner
    assert record["taken_at"] == taken_at
    assert record["image_url"].startswith(image)
    assert (record["likes"], record["comments"], record["is_video"]) == (likes, comments, video)
    assert (record["width"], record["height"]) == (w, h)
    assert record["post_id"].isdigit()


def test_graphql_sidecar_lists_every_image(instagram_fixtures: Path) -> None:
    records = {r["shortcode"]: r for r in parse_file(instagram_fixtures / "medias.json").records}
    sidecar = records["B7XDCBNlds_"]
    assert len(sidecar["image_urls"]) == 5
    assert sidecar["image_urls"][0] == sidecar["image_url"]


def test_v1_carousel_picks_largest_candidate_of_each_image(instagram_fixtures: Path) -> None:
    (record,) = parse_file(instagram_fixtures / "media.json").records
    assert record["post_id"] == "2317006284167526179"  # a JSON number in the capture
    assert len(record["image_urls"]) == 3
    assert record["image_urls"][1].startswith(
        "https://scontent-arn2-1.cdninstagram.com/v/t51.2885-15/100790095_"
    )


def test_logged_out_shell_gives_zero_posts(instagram_fixtures: Path) -> None:
    html = (instagram_fixtures / "home.html").read_text("utf-8")
    assert classify_page(html) is None
    assert parsers.parse_html(html, "file:home.html").records == []


def test_challenge_capture_is_a_block(instagram_fixtures: Path) -> None:
    html = (instagram_fixtures / "checkpoint-challenge-content.html").read_text("utf-8")
    assert classify_page(html) == "challenge"
    with pytest.raises(Blocked) as caught:
        parsers.parse_html(html, "file:challenge")
    assert caught.value.kind == "challenge"


@pytest.mark.parametrize("name", ["location.html", "profile-additional-data.html", "home.html"])
def test_content_captures_are_not_blocks(instagram_fixtures: Path, name: str) -> None:
    assert classify_page((instagram_fixtures / name).read_text("utf-8")) is None


def test_profile_page_fills_owner_from_the_user(instagram_fixtures: Path) -> None:
    page = parse_file(instagram_fixtures / "profile-additional-data.html")
    assert {r["owner"] for r in page.records} == {"robertdowneyjr"}


# --- own fixtures: shapes the captures lack ---------------------------------------------------


def own(name: str) -> str:
    return (OWN_FIXTURES / name).read_text("utf-8")


def test_graphql_hashtag_under_graphql_key_a1() -> None:
    page = parsers.parse_json(json.loads(own("tag_a1.json")), "tag:kayak")
    assert page.found == "graphql"
    assert [r["shortcode"] for r in page.records] == ["KayakA1", "KayakB2"]  # top post deduped
    first, video = page.records
    assert first["hashtags"] == ["kayak", "paddle"] and first["likes"] == 31
    assert first["taken_at"] == "2020-09-13T12:26:40Z"
    assert video["is_video"] is True and video["caption"] == "" and video["likes"] == 0
    assert (page.next_cursor, page.more_available) == (None, False)


def test_v1_sections_with_data_wrapper() -> None:
    page = parsers.parse_json(json.loads(own("tag_sections.json")), "tag:sunset")
    assert page.found == "v1"
    codes = [r["shortcode"] for r in page.records]
    assert codes == ["TopSun001", "RecSun002", "RecSun003", "RecSun004"]
    assert (page.next_cursor, page.more_available) == ("QVFDcursorRecent2", True)
    top, carousel, video, fill_item = page.records
    assert top["image_url"] == "https://cdn.example/top1_1080.jpg"  # largest, not first
    assert (top["width"], top["height"], top["owner"]) == (1080, 1350, "bay_walker")
    assert top["hashtags"] == ["sunset", "goldenhour"]
    assert carousel["hashtags"] == ["sunset", "beach"]
    assert carousel["image_urls"] == [
        "https://cdn.example/rec2_a_1440.jpg",
        "https://cdn.example/rec2_b_1080.jpg",
    ]
    assert carousel["image_url"] == carousel["image_urls"][0]
    assert video["is_video"] is True and video["caption"] == ""
    assert fill_item["caption"] == "#sunset from the ferry"


def test_v1_sections_without_data_wrapper_and_top_level() -> None:
    wrapped = json.loads(own("tag_sections.json"))
    unwrapped = parsers.parse_json(wrapped["data"], "tag:sunset")
    recent = wrapped["data"]["recent"]
    top_level = parsers.parse_json(recent, "tag:sunset")  # the demo site's shape
    assert unwrapped.found == top_level.found == "v1"
    assert len(unwrapped.records) == 4
    codes = [r["shortcode"] for r in top_level.records]
    assert codes == ["RecSun002", "RecSun003", "RecSun004", "TopSun001"]
    assert (top_level.next_cursor, top_level.more_available) == ("QVFDcursorRecent2", True)


def test_xdt_shortcode_media() -> None:
    page = parsers.parse_json(json.loads(own("xdt_shortcode_media.json")), "file:x")
    (record,) = page.records  # the carousel's children are parts of it, not posts
    assert page.found == "graphql" and page.is_feed is False
    assert record["shortcode"] == "XdtSide010"
    assert record["hashtags"] == ["lisboa", "streetfood"]
    assert record["image_url"] == "https://cdn.example/side10_a.jpg"
    assert record["image_urls"] == [
        "https://cdn.example/side10_a.jpg",
        "https://cdn.example/side10_b.jpg",
    ]
    assert (record["likes"], record["comments"]) == (345, 12)
    assert (record["owner"], record["taken_at"]) == ("lisboa.eats", "2024-03-09T16:00:00Z")


def test_xdt_web_info_items() -> None:
    page = parsers.parse_json(json.loads(own("xdt_web_info.json")), "file:x")
    (record,) = page.records
    assert page.found == "v1"
    assert record["shortcode"] == "WebInfo020"
    assert record["image_url"] == "https://cdn.example/web20_1440.jpg"
    assert (record["width"], record["height"]) == (1440, 1800)
    assert record["hashtags"] == ["alps", "hiking"]
    assert record["post_id"] == "3300000000000000020"


def test_logged_out_post_page_meta_tags() -> None:
    page = parsers.parse_html(own("post_logged_out.html"), "file:post")
    (record,) = page.records
    assert page.found == "og_meta"
    assert record["shortcode"] == "Og7Meta_x"
    assert record["caption"] == (
        'Rainy Sunday at the market, it\'s "cozy" anyway \u2614 #RainyDay #Mercado'
    )
    assert record["hashtags"] == ["rainyday", "mercado"]
    assert record["owner"] == "ana.costa"
    assert (record["likes"], record["comments"]) == (1204, 37)
    assert record["taken_at"] == "2021-03-07T00:00:00Z"
    assert record["post_id"] == "2512345678901234567"
    assert record["image_url"] == "https://cdn.example/og7meta.jpg?stp=dst&sig=abc"


def test_post_meta_falls_back_to_twitter_image() -> None:
    html = own("post_logged_out.html").replace('property="og:image"', 'property="og:other"')
    (record,) = parsers.parse_html(html, "file:post").records
    assert record["image_url"] == "https://cdn.example/og7meta_twitter.jpg"


def test_reformatted_shared_data_tag_page() -> None:
    page = parsers.parse_html(own("tag_page_reformatted.html"), "tag:surf")
    (record,) = page.records
    assert page.found == "graphql"
    assert (page.next_cursor, page.more_available) == ("SURFCURSOR2", True)
    assert record["shortcode"] == "SurfRe01"
    assert record["caption"] == "Dawn patrol </b> \n#Surf #OCEAN"
    assert record["hashtags"] == ["surf", "ocean"]
    assert record["owner"] == "wave.rider"


def test_additional_data_wins_over_stale_meta_tags() -> None:
    page = parsers.parse_html(own("post_page_additional.html"), "file:p")
    (record,) = page.records
    assert record["caption"] == "Bread day! #Baking #sourdough"
    assert record["owner"] == "crumb_lab"
    assert record["image_urls"] == [
        "https://cdn.example/add01_a.jpg",
        "https://cdn.example/add01_b.jpg",
    ]
    assert (record["width"], record["height"]) == (1080, 1350)
    assert page.found == "graphql"


def without_volatile_fields(record: dict) -> dict:
    """A record minus crawl time and image URL signatures (demo media URLs expire)."""
    kept = {key: value for key, value in record.items() if key != "crawled_at"}
    kept["image_url"] = kept["image_url"].split("?")[0]
    if "image_urls" in kept:
        kept["image_urls"] = [url.split("?")[0] for url in kept["image_urls"]]
    return kept


def test_demo_site_payloads_give_the_generators_records(
    expected_record: Callable[..., PostRecord],
) -> None:
    """Every shape the demo site serves for a post parses to the generator's ground truth."""
    base = "http://127.0.0.1:8000"
    corpus = DemoCorpus(seed=3, n_posts=120)

    def signed_url(post: DemoPost, n: int, max_side: int | None) -> str:
        return f"{base}{media_path(post.pk, n)}?exp=1&sig=ab"

    for index in range(120):
        post = corpus.post(index)
        expected = without_volatile_fields(expected_record(corpus, index, base, "tag:demo"))
        feed = payloads.sections_feed([payloads.v1_media(post, signed_url)], None)
        post_json = payloads.shortcode_media(post, signed_url)
        for payload in (feed, post_json):
            (record,) = parsers.parse_json(payload, "tag:demo", base).records
            assert without_volatile_fields(record) == expected
        description = html.escape(payloads.og_description(post))
        meta_page = (
            f'<meta property="og:description" content="{description}">'
            f'<link rel="canonical" href="{base}/p/{post.shortcode}/">'
        )
        (from_meta,) = parsers.parse_html(meta_page, "tag:demo", base).records
        assert (from_meta["caption"], from_meta["owner"]) == (post.caption, post.owner)
        assert from_meta["taken_at"][:10] == expected["taken_at"][:10]
        assert (from_meta["likes"], from_meta["comments"]) == (post.likes, post.comments)


# --- detection and blocks ---------------------------------------------------------------------


def test_same_post_same_record_across_shapes() -> None:
    """GraphQL node and v1 media converters agree on the fields both shapes carry."""
    node = {
        "shortcode": "Same1",
        "id": "11",
        "display_url": "https://cdn.example/s.jpg",
        "edge_media_to_caption": {"edges": [{"node": {"text": "hi #Tag"}}]},
        "taken_at_timestamp": 1600000000,
        "owner": {"username": "u"},
        "is_video": False,
        "dimensions": {"width": 10, "height": 20},
        "edge_liked_by": {"count": 3},
        "edge_media_to_comment": {"count": 1},
    }
    media = {
        "code": "Same1",
        "pk": 11,
        "caption": {"text": "hi #Tag"},
        "taken_at": 1600000000,
        "user": {"username": "u"},
        "media_type": 1,
        "like_count": 3,
        "comment_count": 1,
        "image_versions2": {
            "candidates": [{"url": "https://cdn.example/s.jpg", "width": 10, "height": 20}]
        },
    }
    from_node = media_records.graphql_node_record(node, "file:a")
    from_media = media_records.v1_media_record(media, "file:a")
    for record in (from_node, from_media):
        record.pop("crawled_at")
    assert from_node == from_media


def test_json_guard_prefix_is_stripped() -> None:
    page = parsers.parse_text("for (;;);" + own("xdt_web_info.json"), "file:x")
    assert page.records[0]["shortcode"] == "WebInfo020"


@pytest.mark.parametrize(
    "payload",
    [{"data": {"viewer": {}}}, {"items": [{"text": "a comment"}]}, [1, 2], {}, None, "text"],
    ids=["unknown-keys", "items-without-codes", "list", "empty", "null", "string"],
)
def test_json_without_media_is_zero_records(payload: object) -> None:
    page = parsers.parse_json(payload, "file:x")
    assert (page.records, page.found, page.is_feed) == ([], "none", False)


def test_wrong_types_inside_a_media_object_are_unknown_shape() -> None:
    corrupt = {"items": [{"code": "X1", "image_versions2": {"candidates": [1, 2]}}]}
    with pytest.raises(parsers.UnknownShape, match=r"malformed v1 media object X1 \(Attr"):
        parsers.parse_json(corrupt, "file:x")


def test_malformed_json_text_is_unknown_shape() -> None:
    with pytest.raises(parsers.UnknownShape, match="malformed JSON"):
        parsers.parse_text('{"data": {', "file:x")


def test_html_that_is_not_instagram_is_unknown_shape() -> None:
    with pytest.raises(parsers.UnknownShape, match="no Instagram post data"):
        parsers.parse_html("<html><title>My blog</title><p>hello</p></html>", "file:x")


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (
            {"message": "Please wait a few minutes before you try again.", "status": "fail"},
            "rate_limit",
        ),
        ({"message": "checkpoint_required", "checkpoint_url": "/challenge/1/x/"}, "challenge"),
        ({"message": "login_required", "status": "fail"}, "login"),
    ],
)
def test_refused_json_responses_are_blocks(payload: dict, kind: str) -> None:
    with pytest.raises(Blocked) as caught:
        parsers.parse_json(payload, "file:x")
    assert caught.value.kind == kind


def test_login_page_is_a_block() -> None:
    assert classify_page(own("login_page.html")) == "login"
    with pytest.raises(Blocked, match="login"):
        parsers.parse_html(own("login_page.html"), "file:login")


@pytest.mark.parametrize(
    ("html", "kind"),
    [
        (
            "<html><body><p>Please wait a few minutes before you try again.</p></body></html>",
            "rate_limit",
        ),
        (
            '<html><head><link rel="canonical" href="https://www.instagram.com/challenge/"></head>'
            "</html>",
            "challenge",
        ),
        (
            '<html><body><form action="/challenge/123/abc/"><button>Send code</button></form>'
            "</body></html>",
            "challenge",
        ),
        (
            "<html><script>var s = 'please wait a few minutes';</script><title>Instagram</title>"
            "</html>",
            None,
        ),
    ],
    ids=["rate-limit-text", "challenge-canonical", "challenge-form", "text-inside-script"],
)
def test_classify_html(html: str, kind: str | None) -> None:
    assert classify_page(html) == kind


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://www.instagram.com/accounts/login/?next=/explore/tags/cat/", "login"),
        ("http://127.0.0.1:8080/challenge/", "challenge"),
        ("https://www.instagram.com/challenge/6242737647/eaCOkYm5HT/", "challenge"),
        ("https://www.instagram.com/explore/tags/challenge/", None),
        ("https://www.instagram.com/p/CKsCopzFQH5/", None),
    ],
)
def test_classify_url(url: str, kind: str | None) -> None:
    assert blocks.classify_url(url) == kind
