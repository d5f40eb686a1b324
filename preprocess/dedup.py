"""Duplicate removal: one copy of each post survives, the others are dropped by reason.

Duplicates are dropped rather than grouped, so no two copies can ever land in different
splits (a test copy of a training image would inflate every metric). Two passes, because the
second needs the images: :func:`drop_repeated_posts` before the download (same shortcode, same
caption from the same owner) and :func:`drop_duplicate_images` after it (same decoded pixels,
or perceptual hashes within a Hamming distance). The first copy in input order is kept.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

from preprocess.drop_log import Dropped
from preprocess.readers import Post

if TYPE_CHECKING:
    from preprocess.image_stage import ImageResult


def drop_repeated_posts(posts: Sequence[Post]) -> tuple[list[Post], list[Dropped]]:
    """Keep one post per shortcode (preferring a copy with a local image, since Instagram URLs
    expire) and one per (owner, caption); also each dropped post's shortcode and reason."""
    by_shortcode: dict[str, Post] = {}
    dropped: list[Dropped] = []
    for post in posts:
        first = by_shortcode.get(post.shortcode)
        if first is None:
            by_shortcode[post.shortcode] = post
            continue
        dropped.append((post.shortcode, "same_shortcode"))
        if first.image_path is None and post.image_path is not None:
            by_shortcode[post.shortcode] = post  # dicts keep the first insertion's position
    kept: list[Post] = []
    captions_seen: set[tuple[str, str]] = set()
    for post in by_shortcode.values():
        key = (post.owner or "", post.caption.strip())
        if post.owner and key[1]:
            if key in captions_seen:
                dropped.append((post.shortcode, "same_caption_and_owner"))
                continue
            captions_seen.add(key)
        kept.append(post)
    return kept, dropped


@dataclass(frozen=True)
class DuplicatePair:
    """A dropped post and the kept post whose image it repeats, for the report to show."""

    kept: str
    dropped: str
    reason: str
    distance: int  # phash Hamming distance in bits; 0 for identical pixels


def drop_duplicate_images(
    posts: Sequence[Post], images: Mapping[str, ImageResult], max_distance: int
) -> tuple[list[Post], list[Dropped], list[DuplicatePair]]:
    """Drop posts whose image repeats an earlier kept one exactly (decoded pixels) or nearly
    (``phash`` Hamming distance <= ``max_distance``; a negative distance turns this off).
    Returns the kept posts, the dropped ones (shortcode, reason) and each dropped post with the
    one it repeats.

    Posts without a good image pass through: the image stage drops and counts them.
    """
    owner_of_pixels: dict[str, str] = {}
    owner_of_phash: dict[int, str] = {}
    near = NearDuplicateIndex(max_distance) if max_distance >= 0 else None
    kept: list[Post] = []
    dropped: list[Dropped] = []
    pairs: list[DuplicatePair] = []
    for post in posts:
        image = images.get(post.shortcode)
        if image is None or not image.ok:
            kept.append(post)
            continue
        same = owner_of_pixels.get(image.pixel_sha256 or "")
        if same is not None:
            dropped.append((post.shortcode, "same_image"))
            pairs.append(DuplicatePair(same, post.shortcode, "same_image", 0))
            continue
        phash = int(image.phash, 16) if image.phash else None
        if near is not None and phash is not None:
            neighbour = near.neighbour(phash)
            if neighbour is not None:
                dropped.append((post.shortcode, "near_duplicate_image"))
                distance = (neighbour ^ phash).bit_count()
                pairs.append(
                    DuplicatePair(
                        owner_of_phash[neighbour], post.shortcode, "near_duplicate_image", distance
                    )
                )
                continue
            near.add(phash)
            owner_of_phash[phash] = post.shortcode
        if image.pixel_sha256:
            owner_of_pixels[image.pixel_sha256] = post.shortcode
        kept.append(post)
    return kept, dropped, pairs


class NearDuplicateIndex:
    """64-bit hashes searchable within a Hamming radius by multi-index hashing.

    Norouzi et al. (2012): split each hash into 4 chunks of 16 bits. If two hashes differ in at
    most ``d`` bits, some chunk differs in at most ``d // 4`` bits (pigeonhole), so probing each
    chunk's table with every variant within that radius finds every neighbour. For ``d = 6``
    that is 4 x 17 dictionary probes per query instead of a scan of all hashes.
    """

    CHUNKS = 4
    CHUNK_BITS = 16

    def __init__(self, max_distance: int) -> None:
        self.max_distance = max_distance
        radius = max_distance // self.CHUNKS
        self._flips = [
            sum(1 << bit for bit in bits)
            for flipped in range(radius + 1)
            for bits in combinations(range(self.CHUNK_BITS), flipped)
        ]
        self._tables: list[defaultdict[int, list[int]]] = [
            defaultdict(list) for _ in range(self.CHUNKS)
        ]

    def _chunks(self, value: int) -> list[int]:
        mask = (1 << self.CHUNK_BITS) - 1
        return [(value >> (i * self.CHUNK_BITS)) & mask for i in range(self.CHUNKS)]

    def add(self, value: int) -> None:
        for table, chunk in zip(self._tables, self._chunks(value), strict=True):
            table[chunk].append(value)

    def neighbour(self, value: int) -> int | None:
        """A stored hash within ``max_distance`` bits of ``value``, or ``None``."""
        for table, chunk in zip(self._tables, self._chunks(value), strict=True):
            for flip in self._flips:
                for stored in table.get(chunk ^ flip, ()):
                    if (stored ^ value).bit_count() <= self.max_distance:
                        return stored
        return None
