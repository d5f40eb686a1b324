"""``hashtag-build-dataset build``: raw posts to the dataset directory, top to bottom.

The stages follow the funnel of DESIGN.md: read -> parsed -> deduped -> language -> labelled
-> image ok. Images are fetched once, before the image dedup that needs their pixels, and only
for posts that can still end up in the dataset (a kept language, at least one hashtag); the
cache makes re-runs fetch only what is missing. Everything is written into a temporary sibling
of ``out`` that replaces it only when complete, so an interrupted build leaves the previous
dataset intact.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from preprocess import langid
from preprocess.choices import check_choices
from preprocess.dedup import DuplicatePair, drop_duplicate_images, drop_repeated_posts
from preprocess.funnel import Funnel
from preprocess.images import ImageJob, ImageResult, fetch_images, link_into
from preprocess.labels import (
    count_hashtags,
    label_indices,
    load_stoplist,
    select_labels,
    sqrt_balance_weights,
)
from preprocess.language_drops import language_drops
from preprocess.readers import Post, detect_format, read_input
from preprocess.report import ReportData, gallery_of, shown_pairs, write_report
from preprocess.splits import assign_splits, check_fractions
from preprocess.text import model_text
from preprocess.writer import (
    input_fingerprint,
    write_labels,
    write_manifest,
    write_split,
    write_stats,
)
from runtime.errors import PipelineError, UsageError
from runtime.files import staged_directory
from runtime.hashtags import extract_hashtags
from runtime.outputs import check_output_dir
from runtime.progress import progress_bar

LANGID_BATCH = 2048
CAPTION_LENGTH_EDGES = [0, 1, 25, 50, 100, 200, 400, 800, 1600, 2200]
PHASH_BITS = 64
LANGUAGE_CODE = re.compile(r"[a-z]{2}")
"""What every backend returns for a language it names: an ISO 639-1 code."""
UNREACHABLE = frozenset({"connection", "timeout"})
"""Image failures that say the host is down or gone, not that one image is bad."""


def build_dataset(config: dict[str, Any], progress: bool = True) -> Funnel:
    """Build the dataset ``config`` describes; return its funnel."""
    out = Path(config["out"])
    inputs = [Path(p) for p in config["inputs"]]
    cache_dir = Path(config["image_cache"] or f"{out}.image-cache")
    if not inputs:
        raise UsageError("no input given; pass --input PATH (repeatable)")
    _check_replaceable(out)
    check_output_dir(cache_dir, "--cache-dir")
    check_fractions(config["splits"]["fractions"])
    check_settings(config)
    stoplist = load_stoplist(config["labels"]["stoplist"])
    fresh_cache = not cache_dir.exists()
    try:
        return _build(config, out, inputs, cache_dir, stoplist, progress)
    except BaseException:
        if fresh_cache and not (cache_dir / "images").exists():
            shutil.rmtree(cache_dir, ignore_errors=True)  # a cache with nothing in it
        raise


def _build(
    config: dict[str, Any],
    out: Path,
    inputs: list[Path],
    cache_dir: Path,
    stoplist: frozenset[str],
    progress: bool,
) -> Funnel:
    """The stages of :func:`build_dataset`, once its settings are checked."""
    funnel = Funnel()

    # read and parse: every raw record counts, a bad one under its reason
    formats = [detect_format(p) if config["format"] == "auto" else config["format"] for p in inputs]
    posts, rejected = read_all(inputs, formats, config["csv_columns"], progress)
    detector = langid.get_detector(config["language"]["backend"], config["language"]["prior"])
    config = {**config, "language": {**config["language"], "backend": detector.backend}}
    funnel.record("read", len(posts) + rejected.total())
    funnel.record("parsed", len(posts), rejected)
    if not posts:
        raise UsageError(_nothing_read(inputs, rejected))

    # dedup: repeated posts, then (with the images in hand) repeated images. Languages are
    # detected first so that only images of posts that can still be kept (wanted language,
    # some hashtag) are downloaded: the others are dropped at the language or label stage
    # whatever their image is.
    posts, repeated = drop_repeated_posts(posts)
    for post in posts:
        post.hashtags = extract_hashtags(post.caption)
        post.text = model_text(post.caption, config["text"]["demojize"])
    detect_languages(posts, detector, progress)
    keep = set(config["language"]["keep"])
    if config["language"]["keep_undetermined"]:
        keep.add(langid.UNDETERMINED)
    if config["language"]["keep_mixed"]:
        keep.add(langid.MIXED)
    wanted = [p for p in posts if p.hashtags and p.lang in keep]
    jobs = [ImageJob(p.shortcode, p.image_url, p.image_path) for p in wanted]
    images = fetch_images(jobs, cache_dir, config["images"], progress)
    if jobs and not any(result.ok for result in images.values()):
        raise PipelineError(_no_image(images, funnel))
    posts, duplicates, pairs = drop_duplicate_images(posts, images, config["dedup"]["near_dup"])
    funnel.record("deduped", len(posts), repeated + duplicates)

    # language: as detected above, on the caption without hashtags, mentions, URLs and emoji
    language_mix = Counter(p.lang for p in posts)
    off_language = Counter(_drop_reason(p.lang) for p in posts if p.lang not in keep)
    dropped_languages = language_drops(posts, keep)
    posts = [p for p in posts if p.lang in keep]
    funnel.record("language", len(posts), off_language)

    # labels: counted over the posts that will be in the dataset (those with a good image)
    top_k, min_count = config["labels"]["top_k"], config["labels"]["min_count"]
    counts = count_hashtags((p.owner, p.hashtags) for p in posts if _image_ok(images, p))
    labels = select_labels(counts, top_k, min_count, stoplist)
    index_of = {tag: index for index, tag in enumerate(labels)}
    for post in posts:
        post.labels = label_indices(post.hashtags, index_of)
    unlabelled = sum(1 for p in posts if not p.labels)
    posts = [p for p in posts if p.labels]
    funnel.record("labelled", len(posts), Counter(no_label=unlabelled))

    # images: fetched above; here the posts whose image failed leave, counted by reason
    image_failures = Counter(images[p.shortcode].reason for p in posts if not _image_ok(images, p))
    posts = [p for p in posts if _image_ok(images, p)]
    for post in posts:
        post.image = images[post.shortcode].path
        post.image_sha256 = images[post.shortcode].sha256
    funnel.record("image ok", len(posts), image_failures)
    if not posts:
        raise PipelineError(f"no post is left to write; funnel: {funnel.brief()}")

    # sampling weights and splits
    if config["labels"]["balance"] == "sqrt":
        weights = sqrt_balance_weights([p.labels for p in posts], [counts[t] for t in labels])
        for post, weight in zip(posts, weights, strict=True):
            post.weight = weight
    split_by, fractions = config["splits"]["by"], config["splits"]["fractions"]
    splits = assign_splits(posts, split_by, fractions, config["splits"]["salt"])

    # write: into a temporary sibling that replaces ``out`` once complete
    created_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    stats = dataset_stats(
        funnel, labels, counts, posts, splits, language_mix, image_failures, pairs
    )
    stats["language_drops"] = dropped_languages
    with staged_directory(out) as stage:
        for post in progress_bar(posts, desc="link images", unit="img", disable=not progress):
            link_into(images[post.shortcode], cache_dir, stage)
        for name, split_posts in splits.items():
            write_split(stage / f"{name}.parquet", split_posts, labels)
        write_labels(stage / "labels.txt", labels)
        write_stats(stage / "stats.json", stats)
        fingerprints = [input_fingerprint(p, f) for p, f in zip(inputs, formats, strict=True)]
        write_manifest(stage / "manifest.json", config, fingerprints, stats, created_at)
        gallery = gallery_of(splits, labels, stage)
        report = ReportData(stats, created_at, gallery, shown_pairs(pairs, images, cache_dir))
        write_report(stage / "report.html", report)
    return funnel


def read_all(
    inputs: Sequence[Path], formats: Sequence[str], csv_columns: dict[str, str], progress: bool
) -> tuple[list[Post], Counter[str]]:
    """The posts of every input, and the count of rejected records per reason.

    Every input is opened before any is read, so a missing one fails the build at once.
    """
    readers = [read_input(p, fmt, csv_columns) for p, fmt in zip(inputs, formats, strict=True)]
    posts: list[Post] = []
    rejected: Counter[str] = Counter()
    for path, items in zip(inputs, readers, strict=True):
        for post, reason in progress_bar(items, desc=f"read {path.name}", disable=not progress):
            if post is None:
                rejected[reason] += 1
            else:
                posts.append(post)
    return posts, rejected


def detect_languages(posts: Sequence[Post], detector: langid.Detector, progress: bool) -> None:
    """Set each post's ``lang`` and ``lang_confidence``, in batches for the progress bar."""
    batches = range(0, len(posts), LANGID_BATCH)
    for start in progress_bar(batches, desc="language", unit="batch", disable=not progress):
        batch = posts[start : start + LANGID_BATCH]
        predictions = detector.detect_batch([p.caption for p in batch])
        for post, (lang, confidence) in zip(batch, predictions, strict=True):
            post.lang, post.lang_confidence = lang, confidence


def _nothing_read(inputs: Sequence[Path], rejected: Counter[str]) -> str:
    """Why a build found no usable post: the bad records by reason, or an empty input."""
    names = ", ".join(str(p) for p in inputs)
    if not rejected:
        return f"no record in {names}: the input is empty"
    reasons = ", ".join(f"{reason}: {n}" for reason, n in rejected.most_common())
    return (
        f"no usable post in {names} ({reasons}); posts.jsonl needs one JSON object per line "
        "with shortcode, caption and image_url or image_path (docs/dataset.md)"
    )


def _no_image(images: dict[str, ImageResult], funnel: Funnel) -> str:
    """Every image failed: by reason, with what to do when their host could not be reached."""
    reasons = Counter(result.reason for result in images.values())
    listed = ", ".join(f"{reason}: {n}" for reason, n in reasons.most_common())
    message = f"none of the {len(images)} images could be had ({listed}); funnel: {funnel.brief()}"
    if reasons.keys() & UNREACHABLE:
        message += (
            "; the image URLs' host is unreachable: keep the site that serves them running "
            "while building, or crawl with --download-images so the images are saved locally"
        )
    return message


def _drop_reason(lang: str) -> str:
    """The funnel's name for a language decision that drops a post."""
    return {langid.UNDETERMINED: "undetermined", langid.MIXED: "mixed"}.get(lang, "other_language")


def _image_ok(images: dict[str, ImageResult], post: Post) -> bool:
    result = images.get(post.shortcode)
    return result is not None and result.ok


def dataset_stats(
    funnel: Funnel,
    labels: Sequence[str],
    counts: Counter[str],
    posts: Sequence[Post],
    splits: dict[str, list[Post]],
    language_mix: Counter[str],
    image_failures: Counter[str],
    duplicate_pairs: Sequence[DuplicatePair],
) -> dict[str, Any]:
    """stats.json: everything the report plots, as plain JSON."""
    labels_per_post = Counter(len(p.labels) for p in posts)
    per_split = {
        name: Counter(i for p in split_posts for i in p.labels)
        for name, split_posts in splits.items()
    }
    lengths = np.clip([len(p.text) for p in posts], 0, CAPTION_LENGTH_EDGES[-1])
    length_counts, _ = np.histogram(lengths, bins=CAPTION_LENGTH_EDGES)
    return {
        "funnel": funnel.as_list(),
        "splits": {name: len(split_posts) for name, split_posts in splits.items()},
        "label_frequency": {tag: counts[tag] for tag in labels},
        "label_counts": {
            name: {tag: per_split[name][i] for i, tag in enumerate(labels)} for name in splits
        },
        "labels_per_post": {str(n): labels_per_post[n] for n in sorted(labels_per_post)},
        "language_mix": dict(language_mix.most_common()),
        "image_failures": dict(image_failures.most_common()),
        "caption_length": {"edges": CAPTION_LENGTH_EDGES, "counts": length_counts.tolist()},
        "duplicates": [dataclasses.asdict(pair) for pair in duplicate_pairs],
    }


def check_settings(config: dict[str, Any]) -> None:
    """Refuse, before anything is read or fetched, settings that could only end in an empty
    or meaningless dataset (no label, a language no detector returns)."""
    check_choices(config)
    for key in ("top_k", "min_count"):
        value = config["labels"][key]
        if not _is_int(value) or value < 1:
            raise UsageError(f"labels.{key} must be a positive integer, got {value!r}")
    near_dup = config["dedup"]["near_dup"]
    if not _is_int(near_dup) or not -1 <= near_dup <= PHASH_BITS:
        raise UsageError(
            f"dedup.near_dup must be -1 (off) or a Hamming distance 0-{PHASH_BITS}, "
            f"got {near_dup!r}"
        )
    langid.check_prior(config["language"]["prior"])
    if not isinstance(config["language"]["keep_mixed"], bool):
        raise UsageError(
            f"language.keep_mixed must be true or false, got {config['language']['keep_mixed']!r}"
        )
    for code in config["language"]["keep"]:
        if not isinstance(code, str) or not LANGUAGE_CODE.fullmatch(code):
            raise UsageError(
                f"--lang expects an ISO 639-1 code such as en (--keep-und for und), got {code!r}"
            )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_replaceable(out: Path) -> None:
    """Refuse to replace anything but an earlier dataset (or an empty folder): the final
    rename deletes what was at ``out``."""
    check_output_dir(out)
    if out.is_dir() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise UsageError(f"refusing to replace {out}: not a dataset directory (no manifest.json)")
