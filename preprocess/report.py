"""report.html: the build's stats as plots and tables in one file that opens offline.

Plots are matplotlib PNGs embedded as base64 data URIs, so the report can be mailed or
archived without the folder around it and shows no broken links.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from matplotlib.figure import Figure

from preprocess import language_drops
from preprocess.writer import FILE_MODE
from runtime.files import atomic_write_text

MOST_FREQUENT_SHOWN = 40

_TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dataset report</title>
<style>
 body { font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
 table { border-collapse: collapse; margin: 1em 0; }
 td, th { border: 1px solid #ccc; padding: .2em .6em; text-align: left; }
 td.n { text-align: right; } img { max-width: 100%; }
</style></head><body>
<h1>Dataset report</h1>
<p>Created {{ created_at }}; splits:
{% for name, n in splits.items() %}{{ name }} {{ n }}{{ ", " if not loop.last }}{% endfor %}.</p>
<h2>Funnel</h2>
<img alt="posts left after each stage" src="data:image/png;base64,{{ plots.funnel }}">
<table><tr><th>stage</th><th>posts</th><th>dropped</th></tr>
{% for stage in funnel %}<tr><td>{{ stage.stage }}</td><td class="n">{{ stage.posts }}</td>
<td>{% for reason, n in stage.dropped.items() %}{{ reason }}: {{ n }}<br>{% endfor %}</td></tr>
{% endfor %}</table>
<h2>{{ language_drops_title }}</h2>
{{ language_drops }}
{% for key, title in sections %}
<h2>{{ title }}</h2>
<img alt="{{ title }}" src="data:image/png;base64,{{ plots[key] }}">
{% endfor %}
</body></html>
"""
)

_SECTIONS = (
    ("labels", f"Label frequency (posts per label, {MOST_FREQUENT_SHOWN} most frequent)"),
    ("labels_per_post", "Labels per post"),
    ("languages", "Language mix (posts after dedup)"),
    ("image_failures", "Image failure reasons"),
    ("caption_length", "Model text length (characters)"),
)


def write_report(path: Path, stats: Mapping[str, Any], created_at: str) -> None:
    funnel = stats["funnel"]
    labels = dict(list(stats["label_frequency"].items())[:MOST_FREQUENT_SHOWN])
    lengths = stats["caption_length"]
    edges = lengths["edges"]
    plots = {
        "funnel": _bars([s["stage"] for s in funnel], [s["posts"] for s in funnel], "posts"),
        "labels": _bars(list(labels), list(labels.values()), "posts", horizontal=True),
        "labels_per_post": _bars(
            list(stats["labels_per_post"]), list(stats["labels_per_post"].values()), "posts"
        ),
        "languages": _bars(
            list(stats["language_mix"]), list(stats["language_mix"].values()), "posts"
        ),
        "image_failures": _bars(
            list(stats["image_failures"]), list(stats["image_failures"].values()), "images"
        ),
        "caption_length": _bars(
            [f"{lo}-{hi}" for lo, hi in zip(edges, edges[1:], strict=False)],
            lengths["counts"],
            "posts",
        ),
    }
    html = _TEMPLATE.render(
        created_at=created_at,
        splits=stats["splits"],
        funnel=funnel,
        plots=plots,
        sections=_SECTIONS,
        language_drops_title=language_drops.TITLE,
        language_drops=markupsafe.Markup(language_drops.language_drops_html(stats)),
    )
    atomic_write_text(path, html, FILE_MODE)


def _bars(names: Sequence[str], values: Sequence[int], unit: str, horizontal: bool = False) -> str:
    """A bar chart as base64 PNG; an empty chart says so instead of drawing blank axes."""
    height = max(3.0, 0.22 * len(names)) if horizontal else 3.2
    figure = Figure(figsize=(8, height), layout="constrained")
    axes = figure.subplots()
    if not names:
        axes.text(0.5, 0.5, "none", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
    elif horizontal:
        axes.barh(list(names)[::-1], list(values)[::-1], color="#4878a8")
        axes.set_xlabel(unit)
    else:
        axes.bar(list(names), list(values), color="#4878a8")
        axes.set_ylabel(unit)
        axes.tick_params(axis="x", labelrotation=30 if len(names) > 6 else 0)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
