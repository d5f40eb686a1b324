"""The steps of ``hashtag-build-dataset build``, each a function of posts that can run alone.

A filtering step returns a :class:`StepResult`: the posts it kept and the shortcode and reason of
each one it dropped (img2dataset's (key, value, error) idea), which the build counts for the
funnel and lists in the drop log (:mod:`preprocess.drop_log`). A step that adds what it
learnt (hashtags, language, labels, image) returns new posts and never edits the ones it was
given: :class:`~preprocess.readers.Post` is frozen, so no step depends on another having
filled a field in place.

The funnel's order (deduped -> language -> labelled -> image ok) is not the order of work in
one place: the image dedup needs each image's pixel hashes, so :func:`fetch_candidate_images`
runs before it, and it fetches only the images of posts that the language and label steps
would keep (a kept language, some hashtag), so an off-language post costs no download.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from preprocess import langid
from preprocess.dedup import DuplicatePair, drop_duplicate_images, drop_repeated_posts
from preprocess.drop_log import Dropped, reasons
from preprocess.image_stage import ImageJob, ImageResult, fetch_images
from preprocess.labels import count_hashtags, label_indices, select_labels
from preprocess.readers import Post
from preprocess.settings import ImageSettings
from runtime.hashtags import extract_hashtags
from runtime.model_text import model_text
from runtime.progress import progress_bar

LANGID_BATCH = 2048
LANGUAGE_DROPS = {langid.UNDETERMINED: "undetermined", langid.MIXED: "mixed"}
"""The funnel's name for a language decision that drops a post, when not ``other_language``."""

Images = Mapping[str, ImageResult]


@dataclass
class StepResult:
    """What one step kept, in input order, and what it dropped: (shortcode, reason) each."""

    kept: list[Post]
    drops: list[Dropped] = field(default_factory=list)

    @property
    def dropped(self) -> Counter[str]:
        """The drops counted by reason."""
        return reasons(self.drops)


def drop_repeats(posts: Sequence[Post]) -> StepResult:
    """Dedup, first pass: the same shortcode, or the same caption from the same owner."""
    kept, dropped = drop_repeated_posts(posts)
    return StepResult(kept, dropped)


def with_text(posts: Sequence[Post], demojize: bool) -> list[Post]:
    """Each post with its hashtags and the caption as the model reads it."""
    return [
        replace(p, hashtags=extract_hashtags(p.caption), text=model_text(p.caption, demojize))
        for p in posts
    ]


def with_languages(posts: Sequence[Post], detector: langid.Detector, progress: bool) -> list[Post]:
    """Each post with the language of its caption, detected in batches for the progress bar."""
    labelled: list[Post] = []
    batches = range(0, len(posts), LANGID_BATCH)
    for start in progress_bar(batches, desc="language", unit="batch", disable=not progress):
        batch = posts[start : start + LANGID_BATCH]
        predictions = detector.detect_batch([p.caption for p in batch])
        for post, (lang, confidence) in zip(batch, predictions, strict=True):
            labelled.append(replace(post, lang=lang, lang_confidence=confidence))
    return labelled


def fetch_candidate_images(
    posts: Sequence[Post],
    keep: Collection[str],
    cache_dir: Path,
    settings: ImageSettings,
    progress: bool,
) -> dict[str, ImageResult]:
    """The image of every post that can still reach the dataset (a kept language, some
    hashtag), by shortcode: the others leave at the language or label step whatever it is."""
    wanted = [p for p in posts if p.hashtags and p.lang in keep]
    jobs = [ImageJob(p.shortcode, p.image_url, p.image_path) for p in wanted]
    return fetch_images(jobs, cache_dir, settings, progress)


def drop_duplicate_pictures(
    posts: Sequence[Post], images: Images, max_distance: int
) -> tuple[StepResult, list[DuplicatePair]]:
    """Dedup, second pass: the same pixels, or a perceptual hash within ``max_distance``;
    also each dropped post with the one it repeats, for the report."""
    kept, dropped, pairs = drop_duplicate_images(posts, images, max_distance)
    return StepResult(kept, dropped), pairs


def keep_languages(posts: Sequence[Post], keep: Collection[str]) -> StepResult:
    """Posts whose caption is in a kept language; the others as ``undetermined`` (too short
    or unclear to judge), ``mixed`` (a kept language and another) or ``other_language``."""
    kept = [p for p in posts if p.lang in keep]
    dropped = [
        (p.shortcode, LANGUAGE_DROPS.get(p.lang, "other_language"))
        for p in posts
        if p.lang not in keep
    ]
    return StepResult(kept, dropped)


def choose_labels(
    posts: Sequence[Post],
    images: Images | None,
    top_k: int,
    min_count: int,
    stoplist: frozenset[str],
) -> tuple[list[str], Counter[str]]:
    """The label vocabulary and every hashtag's count, over the posts that will be in the
    dataset: those with a good image (a label only posts without one carry would be empty), or
    all of them in a text-only build (``images`` None)."""
    kept = posts if images is None else [p for p in posts if image_ok(images, p)]
    counts = count_hashtags((p.owner, p.hashtags) for p in kept)
    return select_labels(counts, top_k, min_count, stoplist), counts


def keep_labelled(posts: Sequence[Post], labels: Sequence[str]) -> StepResult:
    """Each post with the indexes of its hashtags among ``labels``; those with none leave."""
    index_of = {tag: index for index, tag in enumerate(labels)}
    with_labels = [replace(p, labels=label_indices(p.hashtags, index_of)) for p in posts]
    kept = [p for p in with_labels if p.labels]
    return StepResult(kept, [(p.shortcode, "no_label") for p in with_labels if not p.labels])


def keep_good_images(posts: Sequence[Post], images: Images) -> StepResult:
    """Each post with its cached image; those whose image failed leave under its reason."""
    kept = [
        replace(p, image=images[p.shortcode].path, image_sha256=images[p.shortcode].sha256)
        for p in posts
        if image_ok(images, p)
    ]
    dropped = [
        (p.shortcode, images[p.shortcode].reason or "") for p in posts if not image_ok(images, p)
    ]
    return StepResult(kept, dropped)


def with_weights(posts: Sequence[Post], weights: Sequence[float]) -> list[Post]:
    """Each post with its sampling weight."""
    return [replace(p, weight=w) for p, w in zip(posts, weights, strict=True)]


def image_ok(images: Images, post: Post) -> bool:
    """Whether ``post``'s image was fetched and accepted."""
    result = images.get(post.shortcode)
    return result is not None and result.ok
