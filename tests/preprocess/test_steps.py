"""The build's single steps: model text, labels, dedup, splits."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from preprocess.dedup import (
    DuplicatePair,
    NearDuplicateIndex,
    drop_duplicate_images,
    drop_repeated_posts,
)
from preprocess.image_stage import ImageResult
from preprocess.labels import (
    count_hashtags,
    label_indices,
    load_stoplist,
    select_labels,
    sqrt_balance_weights,
)
from preprocess.readers import Post
from preprocess.settings import DatasetSettings
from preprocess.splits import assign_splits, hash_fraction
from runtime.errors import UsageError
from runtime.hashtags import extract_hashtags
from runtime.model_text import model_text
from runtime.settings import validate


def make_post(
    code: str,
    caption: str = "",
    owner: str | None = None,
    image_path: str | None = None,
    labels: list[int] | None = None,
) -> Post:
    return Post(
        shortcode=code,
        caption=caption,
        image_url=f"http://x/{code}.jpg",
        image_path=image_path,
        owner=owner,
        taken_at=None,
        labels=labels or [],
    )


# text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caption", "demojize", "expected"),
    [
        ("Sunset ❤️ at the #Beach with @ana https://x.y/p#frag", False, "Sunset ❤️ at the with"),
        ("Sunset ❤️ #beach#sea", True, "Sunset red heart"),
        ("＃ＢＥＡＣＨ only", False, "only"),
        ("keep my_snake_case 🐍", True, "keep my_snake_case snake"),
        (None, False, ""),
    ],
)
def test_model_text(caption: str | None, demojize: bool, expected: str) -> None:
    text = model_text(caption, demojize)
    assert text == expected
    assert extract_hashtags(text) == []


# labels --------------------------------------------------------------------------------------


def test_shipped_stoplist_holds_engagement_spam() -> None:
    stoplist = load_stoplist()
    assert {"follow4follow", "like4like", "l4l", "f4f", "instagood", "photooftheday"} <= stoplist
    assert "beach" not in stoplist


def test_stoplist_file_is_normalized_and_skips_comments(tmp_path) -> None:
    path = tmp_path / "stop.txt"
    path.write_text("# comment\n\nＦ４Ｆ\nLike4Like\n", "utf-8")
    assert load_stoplist(path) == {"f4f", "like4like"}
    with pytest.raises(UsageError, match="cannot read hashtag stoplist"):
        load_stoplist(tmp_path / "absent.txt")


def test_counts_once_per_post_and_once_per_owner_repeat() -> None:
    counts = count_hashtags(
        [
            ("ana", ["beach", "sun"]),
            ("ana", ["sun", "beach"]),  # the same hashtag block again: counted once
            ("ana", ["beach"]),
            (None, ["beach"]),
            (None, ["beach"]),  # no owner: nothing to tie the posts together
        ]
    )
    assert counts == Counter(beach=4, sun=1)


def test_select_labels_top_k_min_count_stoplist_ties() -> None:
    counts = Counter(beach=5, sun=3, sea=3, f4f=9, rare=1)
    assert select_labels(counts, top_k=10, min_count=2, stoplist=frozenset({"f4f"})) == [
        "beach",
        "sea",
        "sun",
    ]
    assert select_labels(counts, top_k=2, min_count=1, stoplist=frozenset()) == ["f4f", "beach"]
    assert label_indices(["sun", "x", "beach", "sun"], {"beach": 0, "sun": 2}) == [0, 2]


def test_sqrt_balance_weights() -> None:
    weights = sqrt_balance_weights([[0], [1], [0, 1]], label_counts=[100, 4])
    raw = [0.1, 0.5, 0.3]
    assert weights == pytest.approx([w / 0.3 for w in raw])
    assert sum(weights) / len(weights) == pytest.approx(1.0)
    assert weights[1] > weights[2] > weights[0]


# dedup ---------------------------------------------------------------------------------------


def test_repeated_posts_keep_first_copy_but_prefer_a_local_image() -> None:
    posts = [
        make_post("A", "a", "ana"),
        make_post("B", "same words", "ana"),
        make_post("A", "a", "ana", image_path="/tmp/a.jpg"),
        make_post("C", "same words", "ana"),  # a repost: same caption, same owner
        make_post("D", "same words", "ben"),
        make_post("E", "", "ana"),
        make_post("F", "", "ana"),  # empty captions are not duplicates of each other
    ]
    kept, dropped = drop_repeated_posts(posts)
    assert [p.shortcode for p in kept] == ["A", "B", "D", "E", "F"]
    assert kept[0].image_path == "/tmp/a.jpg"
    assert dropped == [("A", "same_shortcode"), ("C", "same_caption_and_owner")]


def _image(key: str, pixels: str, phash: int, ok: bool = True) -> ImageResult:
    return ImageResult(
        key,
        ok=ok,
        reason=None if ok else "http_404",
        sha256=pixels,
        path=f"images/{pixels}.jpg",
        pixel_sha256=pixels,
        phash=f"{phash:016x}",
    )


def test_duplicate_images_exact_and_near() -> None:
    base = 0x0123_4567_89AB_CDEF
    posts = [make_post(code) for code in "ABCDEF"]
    images = {
        "A": _image("A", "p1", base),
        "B": _image("B", "p1", base),  # same pixels
        "C": _image("C", "p2", base ^ 0b111111),  # 6 bits away: near duplicate
        "D": _image("D", "p3", base ^ 0b1111111),  # 7 bits away: distinct
        "E": _image("E", "p4", base, ok=False),  # failed: left for the image stage
    }
    kept, dropped, pairs = drop_duplicate_images(posts, images, max_distance=6)
    assert [p.shortcode for p in kept] == ["A", "D", "E", "F"]
    assert dropped == [("B", "same_image"), ("C", "near_duplicate_image")]
    assert pairs == [
        DuplicatePair("A", "B", "same_image", 0),
        DuplicatePair("A", "C", "near_duplicate_image", 6),
    ]
    kept, dropped, _ = drop_duplicate_images(posts, images, max_distance=-1)
    assert [p.shortcode for p in kept] == ["A", "C", "D", "E", "F"]


@pytest.mark.parametrize("distance", [0, 3, 6, 10])
def test_near_duplicate_index_matches_brute_force(distance: int) -> None:
    rng = random.Random(distance)
    stored = [rng.getrandbits(64) for _ in range(300)]
    queries = [s ^ sum(1 << b for b in rng.sample(range(64), rng.randint(0, 12))) for s in stored]
    queries += [rng.getrandbits(64) for _ in range(100)]
    index = NearDuplicateIndex(distance)
    for value in stored:
        index.add(value)
    for query in queries:
        expected = any((query ^ s).bit_count() <= distance for s in stored)
        assert (index.neighbour(query) is not None) == expected


# splits --------------------------------------------------------------------------------------

FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}


def test_splits_are_deterministic_and_stable_under_growth() -> None:
    posts = [make_post(f"P{i}", owner=f"o{i % 7}", labels=[0]) for i in range(200)]
    first = assign_splits(posts, "post", FRACTIONS)
    grown = assign_splits(
        posts + [make_post(f"Q{i}", labels=[0]) for i in range(50)], "post", FRACTIONS
    )
    for name in first:
        assert {p.shortcode for p in first[name]} <= {p.shortcode for p in grown[name]}
    assert 120 < len(first["train"]) < 190 and first["val"] and first["test"]
    assert hash_fraction("x") == hash_fraction("x") != hash_fraction("x", salt="other")


def test_split_by_owner_keeps_accounts_together() -> None:
    posts = [make_post(f"P{i}", owner=f"o{i % 9}", labels=[0]) for i in range(90)]
    splits = assign_splits(posts, "owner", FRACTIONS)
    owners = {name: {p.owner for p in split} for name, split in splits.items()}
    assert not owners["train"] & owners["val"]
    assert not owners["train"] & owners["test"]
    assert not owners["val"] & owners["test"]


def test_every_label_appears_in_train() -> None:
    posts = [make_post(f"P{i}", labels=[i]) for i in range(60)]  # each label on one post
    splits = assign_splits(posts, "post", FRACTIONS)
    assert {p.labels[0] for p in splits["train"]} == set(range(60))


@pytest.mark.parametrize(
    ("by", "fractions", "message"),
    [
        ("day", FRACTIONS, "splits.by must be 'post' or 'owner', got 'day'"),
        ("post", {"train": 0.5, "val": 0.1, "test": 0.1}, "splits.fractions must be shares that"),
        ("post", {"train": 1.0, "val": -0.1, "test": 0.1}, "splits.fractions.val must be at least"),
        ("post", {"holdout": 0.0}, "unknown config key splits.fractions.holdout"),
    ],
)
def test_bad_split_settings(by: str, fractions: dict[str, float], message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        validate(DatasetSettings, {"splits": {"by": by, "fractions": fractions}})
