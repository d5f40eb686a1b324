"""The demo post generator: deterministic, multilingual, tagged, indexed, drawable."""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from demo_site.generator import (
    TAG_CHANCES,
    DemoCorpus,
    DemoPost,
    pk_from_shortcode,
    shortcode_from_pk,
)
from demo_site.pictures import MOTIF_COLOURS, MOTIF_SHAPES, SHAPES, TEXTURES
from demo_site.topics import LANGUAGES, SPAM_TAGS, TOPICS
from runtime.errors import UsageError
from runtime.hashtags import extract_hashtags
from runtime.records import PostRecord

EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")


@pytest.fixture(scope="module")
def corpus() -> DemoCorpus:
    return DemoCorpus(seed=7, n_posts=2_000)


def _pixels(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), dtype=np.float32)


def test_same_seed_same_posts_and_other_seed_differs(corpus: DemoCorpus) -> None:
    again = DemoCorpus(seed=7, n_posts=2_000)
    other = DemoCorpus(seed=8, n_posts=2_000)
    sample = range(0, 2_000, 37)
    assert [corpus.post(i) for i in sample] == [again.post(i) for i in sample]
    assert corpus.tags() == again.tags()
    assert corpus.render_image(5) == again.render_image(5)
    differing = sum(corpus.post(i).caption != other.post(i).caption for i in sample)
    assert differing > 0.9 * len(sample)


def test_language_mix_is_about_seventy_percent_english(corpus: DemoCorpus) -> None:
    langs = Counter(corpus.post(i).lang for i in range(2_000))
    assert set(langs) == set(LANGUAGES)
    assert 0.62 <= langs["en"] / 2_000 <= 0.78


def test_every_post_carries_the_hashtags_it_is_indexed_under(corpus: DemoCorpus) -> None:
    indexed: dict[int, set[str]] = {}
    for tag in corpus.tags():
        for i in corpus.tag_posts(tag):
            indexed.setdefault(i, set()).add(tag)
    for i in range(2_000):
        post = corpus.post(i)
        assert post.hashtags, post.caption
        assert post.hashtags == extract_hashtags(post.caption)
        assert set(post.hashtags) == set(corpus.post_tags(i)) == indexed[i]


def test_captions_carry_emoji_mentions_urls_and_inline_tags(corpus: DemoCorpus) -> None:
    captions = [corpus.post(i).caption for i in range(500)]
    assert sum(bool(EMOJI.search(c)) for c in captions) > 450
    assert sum("@" in c for c in captions) > 50
    assert sum("http" in c for c in captions) > 20
    first_lines = [c.split("\n")[0] for c in captions]
    assert sum(len(extract_hashtags(line)) > 0 for line in first_lines) > 100  # inline tags
    assert any(tag in corpus.tags() for tag in SPAM_TAGS)


def test_korean_and_japanese_posts_carry_tags_in_their_own_script(corpus: DemoCorpus) -> None:
    asian = [p for p in map(corpus.post, range(2_000)) if p.lang in ("ko", "ja")]
    local = [p for p in asian if any(not tag.isascii() for tag in p.hashtags)]
    assert len(local) > len(asian) / 3
    assert any("＃" in p.caption for p in local)  # the full-width sign is a hashtag sign too
    assert any(not tag.isascii() for tag in corpus.tags())


def test_feeds_are_newest_first_and_owned(corpus: DemoCorpus) -> None:
    for tag in corpus.tags()[:5]:
        times = [corpus.post(i).taken_at for i in corpus.tag_posts(tag)]
        assert times == sorted(times, reverse=True)
    user = corpus.profiles()[0]
    posts = corpus.profile_posts(user)
    assert posts and all(corpus.post(i).owner == user for i in posts)
    assert posts == sorted(posts, reverse=True)
    assert sum(len(corpus.profile_posts(u)) for u in corpus.profiles()) == 2_000
    span_days = (corpus.post(1_999).taken_at - corpus.post(0).taken_at) / 86_400
    assert 650 <= span_days <= 740


def test_reposts_repeat_an_image_and_near_duplicates_jitter_it(corpus: DemoCorpus) -> None:
    reposts = [p for p in map(corpus.post, range(2_000)) if p.repost_of is not None]
    dups = [p for p in map(corpus.post, range(2_000)) if p.near_duplicate_of is not None]
    assert len(reposts) > 20 and len(dups) > 20
    repost = reposts[0]
    original = corpus.post(repost.repost_of)
    assert original.repost_of is None
    assert repost.hashtags == original.hashtags and original.caption in repost.caption
    assert corpus.render_image(repost.index) == corpus.render_image(original.index)
    assert {p.owner == corpus.post(p.repost_of).owner for p in reposts} == {True, False}
    dup = dups[0]
    near, base = (
        _pixels(corpus.render_image(dup.index)),
        _pixels(corpus.render_image(dup.near_duplicate_of)),
    )
    assert near.shape == base.shape
    assert 0 < np.abs(near - base).mean() < 40
    assert dup.topic == corpus.post(dup.near_duplicate_of).topic


def test_pictures_show_the_motifs_of_exactly_the_posts_topic_tags(corpus: DemoCorpus) -> None:
    assert len(MOTIF_SHAPES) == len(MOTIF_COLOURS) == len(TAG_CHANCES)  # one per tag slot
    topics = {topic.name: topic for topic in TOPICS}

    def draws_its_own(post: DemoPost) -> bool:  # not a near-duplicate, nor a repost of one
        original = post if post.repost_of is None else corpus.post(post.repost_of)
        return original.near_duplicate_of is None

    originals = [p for p in map(corpus.post, range(300)) if draws_its_own(p)]
    for post in originals:
        tags = topics[post.topic].tags
        shown = {tags[slot] for slot in corpus.picture_slots(post.index)}
        assert shown == set(corpus.post_tags(post.index)) & set(tags)  # no spam, no local tag
    assert {len(corpus.picture_slots(p.index)) for p in originals} >= {1, 2, 3, 4}
    dups = [p for p in map(corpus.post, range(2_000)) if p.near_duplicate_of is not None]
    for dup in dups:  # a re-upload shows what the picture it copies shows
        assert corpus.picture_slots(dup.index) == corpus.picture_slots(dup.near_duplicate_of)


def test_shortcodes_round_trip_and_unknown_codes_miss(corpus: DemoCorpus) -> None:
    post = corpus.post(123)
    assert re.fullmatch(r"[A-Za-z0-9_-]{11}", post.shortcode)
    assert pk_from_shortcode(shortcode_from_pk(int(post.pk))) == int(post.pk)
    assert corpus.by_shortcode(post.shortcode) == post
    assert corpus.by_shortcode("AAAAAAAAAAA") is None
    assert corpus.by_shortcode("not*valid") is None
    with pytest.raises(IndexError):
        corpus.post(2_000)


def test_fifty_thousand_posts_construct_and_the_last_is_available() -> None:
    big = DemoCorpus(seed=0, n_posts=50_000)
    last = big.post(49_999)
    assert last.index == 49_999 and last.hashtags
    assert big.by_shortcode(last.shortcode) == last
    Image.open(io.BytesIO(big.render_image(49_999))).verify()


def test_images_decode_at_their_size_and_carousels_have_every_image(corpus: DemoCorpus) -> None:
    carousel = next(p for p in map(corpus.post, range(2_000)) if p.is_carousel)
    for n in range(carousel.n_images):
        image = Image.open(io.BytesIO(corpus.render_image(carousel.index, n)))
        assert image.format == "JPEG" and image.size == (carousel.width, carousel.height)
    with pytest.raises(IndexError):
        corpus.render_image(carousel.index, carousel.n_images)
    thumb = Image.open(io.BytesIO(corpus.render_image(carousel.index, 0, max_side=150)))
    assert max(thumb.size) == 150


def test_topics_differ_in_mean_colour() -> None:
    corpus = DemoCorpus(seed=1, n_posts=3_000)
    by_topic: dict[str, list[int]] = {}
    for i in range(3_000):
        by_topic.setdefault(corpus.post(i).topic, []).append(i)

    def mean_colour(topic: str) -> np.ndarray:
        return np.mean(
            [_pixels(corpus.render_image(i)).mean(axis=(0, 1)) for i in by_topic[topic][:5]], axis=0
        )

    assert np.abs(mean_colour("snow") - mean_colour("stars")).max() > 60
    assert np.abs(mean_colour("beach") - mean_colour("forest")).max() > 30


def test_topic_table_is_complete_and_its_tags_are_normalized_hashtags() -> None:
    assert len(TOPICS) == 40 and len({t.name for t in TOPICS}) == 40
    for topic in TOPICS:
        assert set(topic.words) == set(LANGUAGES)
        assert topic.shape in SHAPES and topic.texture in TEXTURES
        assert len(topic.palette) >= 3 and len(set(topic.tags)) == len(topic.tags)
        for tag in topic.tags:
            assert extract_hashtags(f"#{tag}") == [tag]


def test_expected_record_is_a_contract_one_record(
    corpus: DemoCorpus, expected_record: Callable[..., PostRecord]
) -> None:
    carousel = next(p for p in map(corpus.post, range(2_000)) if p.is_carousel)
    record = expected_record(corpus, carousel.index, "http://127.0.0.1:9/", "tag:x")
    assert record["url"] == f"http://127.0.0.1:9/p/{carousel.shortcode}/"
    assert record["image_url"] == f"http://127.0.0.1:9/media/{carousel.pk}.jpg"
    assert record["image_urls"][1] == f"http://127.0.0.1:9/media/{carousel.pk}_1.jpg"
    assert record["hashtags"] == carousel.hashtags and record["owner"] == carousel.owner
    assert record["taken_at"].endswith("Z") and record["source"] == "tag:x"


def test_size_options_are_honoured_and_checked() -> None:
    small = DemoCorpus(seed=2, n_posts=50, n_topics=3, n_owners=5, n_tags=4)
    assert len(small.tags()) == 4
    assert {small.post(i).topic for i in range(50)} <= {t.name for t in TOPICS[:3]}
    assert len({small.post(i).owner for i in range(50)}) <= 5
    with pytest.raises(UsageError, match="^bad demo config: n_topics must be at most 40, got 41$"):
        DemoCorpus(n_topics=41)
