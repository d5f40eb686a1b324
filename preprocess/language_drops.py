"""What the English filter dropped: posts per language decision, with a sample of each.

The funnel says how many posts the language stage dropped; this says which decisions dropped
them (``es``, ``tl``, ``mixed``, ``und``...) and shows a few captions of each, so a reader of
the report can see at a glance whether English posts are being lost and in which form.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import jinja2

from preprocess.readers import Post

TITLE = "Posts dropped by language decision"
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


_SECTION = jinja2.Environment(autoescape=True).from_string(
    """{% if drops %}<table><tr><th>decision</th><th>posts</th><th>sample captions</th></tr>
{% for lang, entry in drops.items() %}<tr><td>{{ lang }}</td><td class="n">{{ entry.posts }}</td>
<td>{% for caption in entry.sample %}{{ caption }}<br>{% endfor %}</td></tr>
{% endfor %}</table>{% else %}<p>None: every post was in a kept language.</p>{% endif %}
"""
)


def language_drops_html(stats: Mapping[str, Any]) -> str:
    """The body of the report's :data:`TITLE` section, from ``stats["language_drops"]``
    (absent in older stats: "None")."""
    return _SECTION.render(drops=stats.get("language_drops", {}))
