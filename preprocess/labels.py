"""Label selection: which hashtags become the K classes, and each post's labels and weight.

A hashtag's frequency is the number of posts using it, counted once per post. Posts by the same
owner with the same hashtag set (a repost, or a hashtag block pasted under every post of an
account) count once, so one busy account cannot push its signature tags into the top K.
Engagement spam (``configs/hashtag_stoplist.txt``) never becomes a label.
"""

from __future__ import annotations

import importlib.resources
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from runtime.errors import UsageError
from runtime.hashtags import normalize_hashtag


def load_stoplist(path: str | Path | None = None) -> frozenset[str]:
    """Normalized hashtags of a stoplist file (the shipped one when ``path`` is None).

    One hashtag per line without the ``#``; blank lines and lines starting with ``#`` are
    comments.
    """
    try:
        if path is None:
            text = (
                importlib.resources.files("configs")
                .joinpath("hashtag_stoplist.txt")
                .read_text("utf-8")
            )
        else:
            text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read hashtag stoplist {path}: {exc}") from None
    entries = (line.strip() for line in text.splitlines())
    return frozenset(normalize_hashtag(e) for e in entries if e and not e.startswith("#"))


def count_hashtags(posts: Iterable[tuple[str | None, Sequence[str]]]) -> Counter[str]:
    """Post frequency of each hashtag from ``(owner, hashtags)`` pairs.

    Each post counts a hashtag once; an owner repeating the same hashtag set counts once.
    """
    counts: Counter[str] = Counter()
    seen: set[tuple[str, frozenset[str]]] = set()
    for owner, hashtags in posts:
        tags = frozenset(hashtags)
        if owner is not None:
            if (owner, tags) in seen:
                continue
            seen.add((owner, tags))
        counts.update(tags)
    return counts


def select_labels(
    counts: Counter[str], top_k: int, min_count: int, stoplist: frozenset[str]
) -> list[str]:
    """The ``top_k`` most frequent hashtags with at least ``min_count`` posts, most frequent
    first; ties broken alphabetically so a rebuild gives the same label indices."""
    eligible = [(tag, n) for tag, n in counts.items() if n >= min_count and tag not in stoplist]
    eligible.sort(key=lambda item: (-item[1], item[0]))
    return [tag for tag, _ in eligible[:top_k]]


def label_indices(hashtags: Sequence[str], index_of: dict[str, int]) -> list[int]:
    """The label indices of a post's hashtags, ascending."""
    return sorted({index_of[tag] for tag in hashtags if tag in index_of})


def sqrt_balance_weights(
    post_labels: Sequence[Sequence[int]], label_counts: Sequence[int]
) -> list[float]:
    """Inverse-square-root frequency sampling weights (Mahajan et al., 2018).

    A post's weight is the mean of ``1/sqrt(count)`` over its labels, scaled so the weights
    average 1.0: rare-label posts are drawn more often without flattening the distribution
    as far as plain inverse frequency would.
    """
    raw = [
        sum(1.0 / math.sqrt(label_counts[i]) for i in labels) / len(labels)
        for labels in post_labels
    ]
    mean = sum(raw) / len(raw) if raw else 1.0
    return [w / mean for w in raw]
