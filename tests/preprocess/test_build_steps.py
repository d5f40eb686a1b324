"""The build's named steps, one at a time: what each keeps, what it drops and why, and that no
step edits the posts it was given."""

from __future__ import annotations

import dataclasses
import io
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from preprocess import build_steps as steps
from preprocess import langid
from preprocess.image_stage import ImageResult
from preprocess.readers import Post
from preprocess.settings import DatasetSettings, ImageSettings


def post(code: str, caption: str = "", owner: str | None = None, **learnt: object) -> Post:
    return dataclasses.replace(
        Post(code, caption, f"http://127.0.0.1:9/{code}.jpg", None, owner, None), **learnt
    )


def ok(code: str, pixels: str = "", phash: str = "0000000000000000") -> ImageResult:
    return ImageResult(
        code, ok=True, sha256=f"sha-{code}", path=f"images/{code}.jpg",
        pixel_sha256=pixels or f"px-{code}", phash=phash,
    )  # fmt: skip


def failed(code: str, reason: str) -> ImageResult:
    return ImageResult(code, ok=False, reason=reason)


def test_posts_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        post("a").lang = "en"  # type: ignore[misc]


def test_drop_repeats_counts_by_reason() -> None:
    posts = [post("a", "x", "o"), post("a", "y"), post("b", "x", "o"), post("c", "x")]
    result = steps.drop_repeats(posts)
    assert [p.shortcode for p in result.kept] == ["a", "c"]
    assert result.dropped == Counter(same_shortcode=1, same_caption_and_owner=1)


def test_with_text_returns_new_posts() -> None:
    given = [post("a", "Sunny day #Beach #sea @ana")]
    (annotated,) = steps.with_text(given, demojize=False)
    assert annotated.hashtags == ["beach", "sea"] and annotated.text == "Sunny day"
    assert given[0].hashtags == [] and given[0].text == ""


class CountingDetector:
    """Stands in for a language-id backend (the step only calls ``detect_batch``); it records
    the batch sizes it was given."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def detect_batch(self, texts: list[str]) -> list[tuple[str, float]]:
        self.batches.append(len(texts))
        return [("en", 0.9) if "the" in t else (langid.UNDETERMINED, 0.0) for t in texts]


def test_with_languages_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(steps, "LANGID_BATCH", 2)
    detector = CountingDetector()
    given = [post(str(i), c) for i, c in enumerate(["the cat", "ok", "the end"])]
    posts = steps.with_languages(given, detector, False)  # type: ignore[arg-type]
    assert [(p.lang, p.lang_confidence) for p in posts] == [
        ("en", 0.9), (langid.UNDETERMINED, 0.0), ("en", 0.9),
    ]  # fmt: skip
    assert detector.batches == [2, 1]
    assert [p.lang for p in given] == [langid.UNDETERMINED] * 3


def test_keep_languages_names_why() -> None:
    langs = ["en", "fr", langid.UNDETERMINED, langid.MIXED]
    posts = [post(str(i), lang=lang) for i, lang in enumerate(langs)]
    keep = DatasetSettings(language={"keep": ["en"]}).kept_languages
    result = steps.keep_languages(posts, keep)
    assert [p.lang for p in result.kept] == ["en"]
    assert result.dropped == Counter(other_language=1, undetermined=1, mixed=1)
    language = {"keep": ["en"], "keep_undetermined": True, "keep_mixed": True}
    keep = DatasetSettings(language=language).kept_languages
    result = steps.keep_languages(posts, keep)
    assert [p.lang for p in result.kept] == ["en", langid.UNDETERMINED, langid.MIXED]
    assert result.dropped == Counter(other_language=1)


def jpeg(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(buffer, "JPEG")
    return buffer.getvalue()


def test_only_posts_that_can_be_kept_cost_an_image(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(jpeg((200, 0, 0)))
    local = {"image_url": None, "image_path": str(tmp_path / "a.jpg")}
    posts = [
        post("a", hashtags=["sea"], lang="en", **local),
        post("b", hashtags=[], lang="en", **local),  # no hashtag: no label can be had
        post("c", hashtags=["sea"], lang="fr", **local),  # leaves at the language step
    ]
    settings = ImageSettings(processes=0)
    images = steps.fetch_candidate_images(posts, {"en"}, tmp_path / "cache", settings, False)
    assert list(images) == ["a"] and images["a"].ok


def test_duplicate_pictures_keep_the_first_and_pass_failures_through() -> None:
    posts = [post("a"), post("b"), post("c"), post("d")]
    images = {
        "a": ok("a", pixels="same"),
        "b": ok("b", pixels="same"),
        "c": failed("c", "http_404"),
        "d": ok("d", phash="0000000000000001"),
    }
    result, pairs = steps.drop_duplicate_pictures(posts, images, max_distance=2)
    assert [p.shortcode for p in result.kept] == ["a", "c"]
    assert result.dropped == Counter(same_image=1, near_duplicate_image=1)
    assert [(p.kept, p.dropped, p.distance) for p in pairs] == [("a", "b", 0), ("a", "d", 1)]


def test_labels_are_chosen_over_posts_with_a_good_image() -> None:
    posts = [post(c, owner=c, hashtags=["sea", "sun"]) for c in "abc"]
    posts.append(post("d", owner="d", hashtags=["sea", "rain", "rain2"]))
    images = {"a": ok("a"), "b": ok("b"), "c": ok("c"), "d": failed("d", "timeout")}
    labels, counts = steps.choose_labels(posts, images, 10, 2, frozenset({"sun"}))
    assert labels == ["sea"]
    assert counts == Counter(sea=3, sun=3)


def test_keep_labelled_sets_indexes_and_counts_the_rest() -> None:
    posts = [post("a", hashtags=["sun", "sea"]), post("b", hashtags=["rain"])]
    result = steps.keep_labelled(posts, ["sea", "sun"])
    assert [(p.shortcode, p.labels) for p in result.kept] == [("a", [0, 1])]
    assert result.dropped == Counter(no_label=1)
    assert posts[0].labels == []


def test_keep_good_images_attaches_the_image_or_counts_its_failure() -> None:
    posts = [post("a"), post("b"), post("c")]
    images = {"a": ok("a"), "b": failed("b", "http_404"), "c": failed("c", "http_404")}
    result = steps.keep_good_images(posts, images)
    assert [(p.image, p.image_sha256) for p in result.kept] == [("images/a.jpg", "sha-a")]
    assert result.dropped == Counter(http_404=2)


def test_with_weights() -> None:
    weighted = steps.with_weights([post("a"), post("b")], [0.5, 2.0])
    assert [p.weight for p in weighted] == [0.5, 2.0]
