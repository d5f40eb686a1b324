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
from preprocess.dedup import DuplicatePair
from preprocess.drop_log import DROP_LOG, Drop, Unread, at_step, reasons, write_drop_log
from preprocess.funnel import Funnel
from preprocess.image_cache import check_index
from preprocess.image_stage import ImageResult, link_into
from preprocess.labels import load_stoplist, sqrt_balance_weights
from preprocess.language_drops import language_drops
from preprocess.readers import Post, detect_format, read_input
from preprocess.report import ReportData, gallery_of, shown_pairs, write_report
from preprocess.settings import DatasetSettings
from preprocess.splits import assign_splits
from preprocess.writer import (
    input_fingerprint,
    write_manifest,
    write_split,
    write_stats,
)
from runtime.errors import PipelineError, UsageError
from runtime.files import staged_directory
from runtime.label_file import write_labels
from runtime.outputs import check_output_dir
from runtime.progress import progress_bar

CAPTION_LENGTH_EDGES = [0, 1, 25, 50, 100, 200, 400, 800, 1600, 2200]
UNREACHABLE = frozenset({"connection", "timeout"})
"""Image failures that say the host is down or gone, not that one image is bad."""


def build_dataset(settings: DatasetSettings, progress: bool = True) -> Funnel:
    """Build the dataset ``settings`` describes; return its funnel."""
    if not settings.out:
        raise UsageError("--out DIR is required")
    out = Path(settings.out)
    inputs = [Path(p) for p in settings.inputs]
    cache_dir = Path(settings.image_cache or f"{out}.image-cache")
    if not inputs:
        raise UsageError("no input given; pass --input PATH (repeatable)")
    _check_replaceable(out)
    stoplist = load_stoplist(settings.labels.stoplist)
    if settings.text_only:  # no image is fetched: no cache is checked, made or left behind
        return _build(settings, out, inputs, cache_dir, stoplist, progress)
    check_output_dir(cache_dir, "--cache-dir")
    if cache_dir.resolve().is_relative_to(out.resolve()):
        raise UsageError(
            f"--cache-dir {cache_dir} lies inside --out {out}, which each build replaces "
            "whole: keep the image cache beside the dataset (the default is OUT.image-cache)"
        )
    check_index(cache_dir)
    fresh_cache = not cache_dir.exists()
    try:
        return _build(settings, out, inputs, cache_dir, stoplist, progress)
    except BaseException:
        if fresh_cache and not (cache_dir / "images").exists():
            shutil.rmtree(cache_dir, ignore_errors=True)  # a cache with nothing in it
        raise


def _build(
    settings: DatasetSettings,
    out: Path,
    inputs: list[Path],
    cache_dir: Path,
    stoplist: frozenset[str],
    progress: bool,
) -> Funnel:
    """The steps of :func:`build_dataset`, once its settings are checked (the order of work is
    explained in :mod:`preprocess.build_steps`)."""
    text_only = settings.text_only
    funnel = Funnel(text_only=text_only)
    chosen = settings.input_format
    formats = [detect_format(p) if chosen == "auto" else chosen for p in inputs]
    columns = settings.csv_columns
    posts, unread = read_all(inputs, formats, columns, progress, need_image=not text_only)
    rejected = reasons(unread)
    funnel.record("read", len(posts) + rejected.total())
    funnel.record("parsed", len(posts), rejected)
    if not posts:
        raise UsageError(_nothing_read(inputs, rejected))
    detector = langid.get_detector(settings.language.backend, settings.language.prior)
    language_used = settings.language.model_copy(update={"backend": detector.backend})
    settings = settings.model_copy(update={"language": language_used})  # for the manifest

    repeats = steps.drop_repeats(posts)
    posts = steps.with_text(repeats.kept, settings.text.demojize)
    posts = steps.with_languages(posts, detector, progress)
    keep = settings.kept_languages
    images: dict[str, ImageResult] | None = None
    pictures, pairs = steps.StepResult(posts), []
    if not text_only:
        images = steps.fetch_candidate_images(posts, keep, cache_dir, settings.images, progress)
        if images and not any(result.ok for result in images.values()):
            raise PipelineError(_no_image(images, funnel))
        pictures, pairs = steps.drop_duplicate_pictures(posts, images, settings.dedup.near_dup)
    funnel.record("deduped", len(pictures.kept), repeats.dropped + pictures.dropped)
    drops = at_step("parsed", unread) + at_step("deduped", repeats.drops + pictures.drops)

    language_mix = Counter(p.lang for p in pictures.kept)
    dropped_languages = language_drops(pictures.kept, keep)
    language = _record(funnel, drops, "language", steps.keep_languages(pictures.kept, keep))
    top_k, min_count = settings.labels.top_k, settings.labels.min_count
    labels, counts = steps.choose_labels(language.kept, images, top_k, min_count, stoplist)
    labelled = _record(funnel, drops, "labelled", steps.keep_labelled(language.kept, labels))
    imaged = labelled if images is None else steps.keep_good_images(labelled.kept, images)
    if images is not None:
        _record(funnel, drops, "image ok", imaged)
    posts = imaged.kept
    if not posts:
        raise PipelineError(f"no post is left to write; funnel: {funnel.brief()}")
    if settings.labels.balance == "sqrt":
        weights = sqrt_balance_weights([p.labels for p in posts], [counts[t] for t in labels])
        posts = steps.with_weights(posts, weights)
    split = settings.splits
    splits = assign_splits(posts, split.by, split.fractions.model_dump(), split.salt)

    stats = dataset_stats(
        funnel, labels, counts, posts, splits, language_mix, imaged.dropped, pairs
    )
    stats["language_drops"] = dropped_languages
    stats["text_only"] = text_only
    written = Written(labels, posts, splits, stats, images or {}, pairs, drops)
    _write(out, written, settings, cache_dir, list(zip(inputs, formats, strict=True)), progress)
    return funnel


def _record(
    funnel: Funnel, drops: list[Drop], stage: str, result: steps.StepResult
) -> steps.StepResult:
    """Count the step's drops in the funnel and add them to the drop log."""
    funnel.record(stage, len(result.kept), result.dropped)
    drops.extend(at_step(stage, result.drops))
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
    drops: list[Drop]


def _write(
    out: Path,
    written: Written,
    settings: DatasetSettings,
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
        write_drop_log(stage / DROP_LOG, written.drops)
        fingerprints = [input_fingerprint(path, fmt) for path, fmt in inputs]
        write_manifest(stage / "manifest.json", settings, fingerprints, written.stats, created_at)
        gallery = gallery_of(written.splits, written.labels, stage)
        pairs = shown_pairs(written.pairs, images, cache_dir)
        write_report(stage / "report.html", ReportData(written.stats, created_at, gallery, pairs))


def read_all(
    inputs: Sequence[Path],
    formats: Sequence[str],
    csv_columns: dict[str, str],
    progress: bool,
    need_image: bool = True,
) -> tuple[list[Post], list[Unread]]:
    """The posts of every input, and the rejected records: (shortcode or None, reason) each.

    Every input is opened before any is read, so a missing one fails the build at once.
    """
    readers = [
        read_input(p, fmt, csv_columns, need_image) for p, fmt in zip(inputs, formats, strict=True)
    ]
    posts: list[Post] = []
    rejected: list[Unread] = []
    for path, items in zip(inputs, readers, strict=True):
        for post, reason, shortcode in progress_bar(
            items, desc=f"read {path.name}", disable=not progress
        ):
            if post is None:
                rejected.append((shortcode, reason))
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


def _check_replaceable(out: Path) -> None:
    """Refuse to replace anything but an earlier dataset (or an empty folder): the final
    rename deletes what was at ``out``."""
    check_output_dir(out)
    if out.is_dir() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise UsageError(f"refusing to replace {out}: not a dataset directory (no manifest.json)")
