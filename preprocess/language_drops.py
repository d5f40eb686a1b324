"""What the English filter dropped: posts per language decision, with a sample of each.

The funnel says how many posts the language stage dropped; this says which decisions dropped
them (``es``, ``tl``, ``mixed``, ``und``...) with a few captions of each, so a reader of the
report (``preprocess.report``) can see at a glance whether English posts are being lost and in
which form.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

from preprocess.readers import Post

SAMPLE_SIZE = 5
SAMPLE_CHARS = 160
"""Longer captions are cut here in stats.json and the report."""
SAMPLE_SEED = 0


def language_drops(posts: Sequence[Post], keep: Collection[str]) -> dict[str, dict[str, Any]]:
    """``{decision: {"posts": n, "sample": [caption, ...]}}`` for the posts not in ``keep``,
    most frequent decision first; the sample is drawn with a fixed seed, so builds agree."""
    dropped: dict[str, list[str]] = defaultdict(list)
    for post in posts:
        if post.lang not in keep:
            dropped[post.lang].append(post.caption)
    rng = random.Random(SAMPLE_SEED)
    return {
        lang: {
            "posts": len(captions),
            "sample": [_cut(c) for c in rng.sample(captions, min(SAMPLE_SIZE, len(captions)))],
        }
        for lang, captions in sorted(dropped.items(), key=lambda item: -len(item[1]))
    }


def _cut(caption: str) -> str:
    return caption if len(caption) <= SAMPLE_CHARS else caption[: SAMPLE_CHARS - 1] + "…"
