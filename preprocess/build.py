"""``hashtag-build-dataset build``: raw posts to the dataset directory, top to bottom.

The stages follow the funnel of docs/architecture.md: read -> parsed -> deduped -> language
-> labelled -> image ok. Images are fetched once, before the image dedup that needs their
pixels, and only for posts that can still end up in the dataset (a kept language, at least one
hashtag); the cache makes re-runs fetch only what is missing. Everything is written into a
temporary sibling of ``out`` that replaces it only when complete, so an interrupted build
leaves the previous dataset intact.

A text-only build (``text_only: true``, ``--text-only``) is for captions whose pictures are gone
(CSV exports, old dumps with expired image links): no image is fetched, the image dedup cannot
run (it needs pixels), every post is kept without an image (``image`` null in the splits), the
funnel ends at ``labelled`` and says so, and the manifest records ``text_only``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from preprocess import build_steps as steps
from preprocess import langid
from preprocess.choices import check_choices
from preprocess.dedup import DuplicatePair
from preprocess.funnel import Funnel
from preprocess.image_cache import check_index
from preprocess.image_stage import ImageResult, link_into
from preprocess.labels import load_stoplist, sqrt_balance_weights
from preprocess.language_drops import language_drops
from preprocess.readers import Post, detect_format, read_input
from preprocess.report import ReportData, gallery_of, shown_pairs, write_report
from preprocess.splits import assign_splits, check_fractions
from preprocess.writer import (
    input_fingerprint,
    write_manifest,
    write_split,
    write_stats,
)
from runtime.config import check_types, default_config, get_dotted
from runtime.errors import PipelineError, UsageError
from runtime.files import staged_directory
from runtime.label_file import write_labels
from runtime.outputs import check_output_dir
from runtime.progress import progress_bar

CAPTION_LENGTH_EDGES = [0, 1, 25, 50, 100, 200, 400, 800, 1600, 2200]
PHASH_BITS = 64
PATH_KEYS = ("out", "image_cache", "labels.stoplist")
UNREACHABLE = frozenset({"connection", "timeout"})
"""Image failures that say the host is down or gone, not that one image is bad."""


def build_dataset(config: dict[str, Any], progress: bool = True) -> Funnel:
    """Build the dataset ``config`` describes; return its funnel."""
    check_settings(config)
    out = Path(config["out"])
    inputs = [Path(p) for p in config["inputs"]]
    cache_dir = Path(config["image_cache"] or f"{out}.image-cache")
    if not inputs:
        raise UsageError("no input given; pass --input PATH (repeatable)")
    _check_replaceable(out)
    stoplist = load_stoplist(config["labels"]["stoplist"])
    if config["text_only"]:  # no image is fetched: no cache is checked, made or left behind
        return _build(config, out, inputs, cache_dir, stoplist, progress)
    check_output_dir(cache_dir, "--cache-dir")
    if cache_dir.resolve().is_relative_to(out.resolve()):
        raise UsageError(
            f"--cache-dir {cache_dir} lies inside --out {out}, which each build replaces "
            "whole: keep the image cache beside the dataset (the default is OUT.image-cache)"
        )
    check_index(cache_dir)
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
    """The steps of :func:`build_dataset`, once its settings are checked (the order of work is
    explained in :mod:`preprocess.build_steps`)."""
    text_only = config["text_only"]
    funnel = Funnel(text_only=text_only)
    formats = [
        detect_format(p) if config["input_format"] == "auto" else config["input_format"]
        for p in inputs
    ]
    columns = config["csv_columns"]
    posts, rejected = read_all(inputs, formats, columns, progress, need_image=not text_only)
    funnel.record("read", len(posts) + rejected.total())
    funnel.record("parsed", len(posts), rejected)
    if not posts:
        raise UsageError(_nothing_read(inputs, rejected))
    detector = langid.get_detector(config["language"]["backend"], config["language"]["prior"])
    config = {**config, "language": {**config["language"], "backend": detector.backend}}

    repeats = steps.drop_repeats(posts)
    posts = steps.with_text(repeats.kept, config["text"]["demojize"])
    posts = steps.with_languages(posts, detector, progress)
    keep = kept_languages(config["language"])
    images: dict[str, ImageResult] | None = None
    pictures, pairs = steps.StepResult(posts), []
    if not text_only:
        images = steps.fetch_candidate_images(posts, keep, cache_dir, config["images"], progress)
        if images and not any(result.ok for result in images.values()):
            raise PipelineError(_no_image(images, funnel))
        pictures, pairs = steps.drop_duplicate_pictures(posts, images, config["dedup"]["near_dup"])
    funnel.record("deduped", len(pictures.kept), repeats.dropped + pictures.dropped)

    language_mix = Counter(p.lang for p in pictures.kept)
    dropped_languages = language_drops(pictures.kept, keep)
    language = _record(funnel, "language", steps.keep_languages(pictures.kept, keep))
    labels, counts = steps.choose_labels(
        language.kept, images, config["labels"]["top_k"], config["labels"]["min_count"], stoplist
    )
    labelled = _record(funnel, "labelled", steps.keep_labelled(language.kept, labels))
    imaged = labelled if images is None else steps.keep_good_images(labelled.kept, images)
    if images is not None:
        _record(funnel, "image ok", imaged)
    posts = imaged.kept
    if not posts:
        raise PipelineError(f"no post is left to write; funnel: {funnel.brief()}")
    if config["labels"]["balance"] == "sqrt":
        weights = sqrt_balance_weights([p.labels for p in posts], [counts[t] for t in labels])
        posts = steps.with_weights(posts, weights)
    split = config["splits"]
    splits = assign_splits(posts, split["by"], split["fractions"], split["salt"])

    stats = dataset_stats(
        funnel, labels, counts, posts, splits, language_mix, imaged.dropped, pairs
    )
    stats["language_drops"] = dropped_languages
    stats["text_only"] = text_only
    written = Written(labels, posts, splits, stats, images or {}, pairs)
    _write(out, written, config, cache_dir, list(zip(inputs, formats, strict=True)), progress)
    return funnel


def kept_languages(language: dict[str, Any]) -> set[str]:
    """The language codes a post may have to be kept (``language`` config section)."""
    keep = set(language["keep"])
    if language["keep_undetermined"]:
        keep.add(langid.UNDETERMINED)
    if language["keep_mixed"]:
        keep.add(langid.MIXED)
    return keep


def _record(funnel: Funnel, stage: str, result: steps.StepResult) -> steps.StepResult:
    funnel.record(stage, len(result.kept), result.dropped)
    return result


@dataclass(frozen=True)
class Written:
    """What the steps produced that the dataset directory holds."""

    labels: list[str]
    posts: list[Post]
    splits: dict[str, list[Post]]
    stats: dict[str, Any]
    images: dict[str, ImageResult]
    pairs: list[DuplicatePair]


def _write(
    out: Path,
    written: Written,
    config: dict[str, Any],
    cache_dir: Path,
    inputs: list[tuple[Path, str]],
    progress: bool,
) -> None:
    """Write into a temporary sibling that replaces ``out`` once complete."""
    created_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    images = written.images
    with staged_directory(out) as stage:
        if images:  # a text-only build has none
            posts = written.posts
            for post in progress_bar(posts, desc="link images", unit="img", disable=not progress):
                link_into(images[post.shortcode], cache_dir, stage)
        for name, split_posts in written.splits.items():
            write_split(stage / f"{name}.parquet", split_posts, written.labels)
        write_labels(stage, written.labels)
        write_stats(stage / "stats.json", written.stats)
        fingerprints = [input_fingerprint(path, fmt) for path, fmt in inputs]
        write_manifest(stage / "manifest.json", config, fingerprints, written.stats, created_at)
        gallery = gallery_of(written.splits, written.labels, stage)
        pairs = shown_pairs(written.pairs, images, cache_dir)
        write_report(stage / "report.html", ReportData(written.stats, created_at, gallery, pairs))


def read_all(
    inputs: Sequence[Path],
    formats: Sequence[str],
    csv_columns: dict[str, str],
    progress: bool,
    need_image: bool = True,
) -> tuple[list[Post], Counter[str]]:
    """The posts of every input, and the count of rejected records per reason.

    Every input is opened before any is read, so a missing one fails the build at once.
    """
    readers = [
        read_input(p, fmt, csv_columns, need_image) for p, fmt in zip(inputs, formats, strict=True)
    ]
    posts: list[Post] = []
    rejected: Counter[str] = Counter()
    for path, items in zip(inputs, readers, strict=True):
        for post, reason in progress_bar(items, desc=f"read {path.name}", disable=not progress):
            if post is None:
                rejected[reason] += 1
            else:
                posts.append(post)
    return posts, rejected


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
    """Refuse, before anything is read or fetched, settings of the wrong type (each key's
    shipped default says which) and settings that could only end in an empty or meaningless
    dataset (no label, a language no detector returns)."""
    langid.check_prior(config["language"]["prior"])  # says more than "must be a mapping"
    check_types(config, default_config("dataset"), "")
    _check_paths(config)
    check_choices(config)
    for key in ("top_k", "min_count"):
        value = config["labels"][key]
        if value < 1:
            raise UsageError(f"labels.{key} must be a positive integer, got {value!r}")
    near_dup = config["dedup"]["near_dup"]
    if not -1 <= near_dup <= PHASH_BITS:
        raise UsageError(
            f"dedup.near_dup must be -1 (off) or a Hamming distance 0-{PHASH_BITS}, "
            f"got {near_dup!r}"
        )
    check_fractions(config["splits"]["fractions"])
    for code in config["language"]["keep"]:
        if not isinstance(code, str) or not langid.LANGUAGE_CODE.fullmatch(code):
            raise UsageError(
                f"--lang expects an ISO 639-1 code such as en (--keep-und for und), got {code!r}"
            )


def _check_paths(config: dict[str, Any]) -> None:
    """Path settings are strings: YAML reads ``out: 2024`` as a number (their defaults are
    null, so :func:`check_types` cannot say)."""
    paths = [("inputs", p) for p in config["inputs"]]
    paths += [(key, get_dotted(config, key)) for key in PATH_KEYS]
    for key, value in paths:
        if value is not None and not isinstance(value, str):
            raise UsageError(f"{key} must be a path, got {value!r} (quote it in YAML)")


def _check_replaceable(out: Path) -> None:
    """Refuse to replace anything but an earlier dataset (or an empty folder): the final
    rename deletes what was at ``out``."""
    check_output_dir(out)
    if out.is_dir() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise UsageError(f"refusing to replace {out}: not a dataset directory (no manifest.json)")
