"""report.html: the build at a glance, in pictures, charts and tables, one file that opens offline.

Everything is embedded as data URIs (charts as matplotlib PNGs, post images as small JPEG
thumbnails), so the report can be mailed or archived without the folder around it, survives
the dataset folder being moved, and never shows a broken link.

The page is a list of sections. Each comes from a builder in :data:`SECTIONS`, a function of
the :class:`ReportData` that returns a :class:`Section` (or ``None`` when it has nothing to
show), so adding a section is one function and one entry in that tuple.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from markupsafe import Markup
from matplotlib.figure import Figure

from preprocess.dedup import DuplicatePair
from preprocess.image_stage import ImageResult
from preprocess.readers import Post
from preprocess.writer import FILE_MODE
from runtime.files import atomic_write_text
from runtime.report_images import figure_uri, thumbnail_uri

GALLERY_PER_SPLIT = 8
PAIRS_SHOWN = 24
BAR_COLOURS = ("#4878a8", "#e49444", "#6a9f58", "#d1615d", "#85b6b2")

_ENV = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class Sample:
    """One post of the gallery."""

    shortcode: str
    text: str
    labels: list[str]
    image: Path | None  # None in a text-only dataset


@dataclass(frozen=True)
class ShownPair:
    """A dropped duplicate and the post kept in its place, with both images."""

    pair: DuplicatePair
    kept_image: Path
    dropped_image: Path


@dataclass(frozen=True)
class ReportData:
    """What the sections draw from: ``stats.json`` plus the pictures it cannot hold."""

    stats: Mapping[str, Any]
    created_at: str
    gallery: Mapping[str, Sequence[Sample]]
    duplicates: Sequence[ShownPair]


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    body: Markup


def write_report(path: Path, data: ReportData) -> None:
    sections = [section for build in SECTIONS if (section := build(data)) is not None]
    splits = ", ".join(f"{name} {n:,}" for name, n in data.stats["splits"].items())
    html = _PAGE.render(
        created_at=data.created_at,
        splits=splits,
        sections=sections,
        text_only=data.stats.get("text_only", False),
    )
    atomic_write_text(path, html, FILE_MODE)


def gallery_of(
    splits: Mapping[str, Sequence[Post]], labels: Sequence[str], dataset_dir: Path
) -> dict[str, list[Sample]]:
    """Up to :data:`GALLERY_PER_SPLIT` posts per split, evenly spaced through it."""
    gallery = {}
    for name, posts in splits.items():
        step = max(1, len(posts) // GALLERY_PER_SPLIT)
        gallery[name] = [
            Sample(
                p.shortcode,
                p.text,
                [labels[i] for i in p.labels],
                dataset_dir / p.image if p.image else None,
            )
            for p in posts[::step][:GALLERY_PER_SPLIT]
        ]
    return gallery


def shown_pairs(
    pairs: Sequence[DuplicatePair], images: Mapping[str, ImageResult], cache_dir: Path
) -> list[ShownPair]:
    """The first :data:`PAIRS_SHOWN` pairs with their cached images (the dropped post's image
    is in the cache only, never in the dataset)."""

    def image_of(shortcode: str) -> Path:
        return cache_dir / str(images[shortcode].path)

    return [ShownPair(p, image_of(p.kept), image_of(p.dropped)) for p in pairs[:PAIRS_SHOWN]]


# sections ------------------------------------------------------------------------------------


def funnel_section(data: ReportData) -> Section:
    funnel = data.stats["funnel"]
    chart = chart_img(
        "posts left after each stage",
        bar_chart([s["stage"] for s in funnel], {"posts": [s["posts"] for s in funnel]}, "posts"),
    )
    return _section("funnel", "Funnel", _FUNNEL, chart=chart, funnel=funnel)


def gallery_section(data: ReportData) -> Section:
    gallery = {
        split: [(sample, sample.image and thumbnail_uri(sample.image)) for sample in samples]
        for split, samples in data.gallery.items()
    }
    return _section(
        "gallery", "Sample posts", _GALLERY, gallery=gallery, splits=data.stats["splits"]
    )


def labels_section(data: ReportData) -> Section:
    """Every label (not the most frequent few) with its posts per split."""
    frequency = data.stats["label_frequency"]
    per_split = data.stats["label_counts"]
    names = list(frequency)
    series = {split: [counts.get(n, 0) for n in names] for split, counts in per_split.items()}
    rows = [(n, [values[i] for values in series.values()]) for i, n in enumerate(names)]
    chart = chart_img(
        "posts per label and split", bar_chart(names, series, "posts", horizontal=True)
    )
    title = f"Labels ({len(names)}): posts per split"
    return _section("labels", title, _LABELS, chart=chart, splits=list(series), rows=rows)


def duplicates_section(data: ReportData) -> Section | None:
    """Dropped duplicates beside the post kept in their place; absent when none was dropped."""
    total = len(data.stats["duplicates"])
    if not total:
        return None
    pairs = [
        (shown.pair, thumbnail_uri(shown.kept_image), thumbnail_uri(shown.dropped_image))
        for shown in data.duplicates
    ]
    title = f"Duplicate images dropped ({total})"
    return _section("duplicates", title, _DUPLICATES, pairs=pairs, total=total)


def image_failures_section(data: ReportData) -> Section | None:
    failures = data.stats["image_failures"]
    if not failures:
        return None
    return _chart_section(
        "image-failures", "Image failure reasons", failures, "images", horizontal=True
    )


def labels_per_post_section(data: ReportData) -> Section:
    return _chart_section(
        "labels-per-post", "Labels per post", data.stats["labels_per_post"], "posts"
    )


def languages_section(data: ReportData) -> Section:
    return _chart_section(
        "languages", "Language mix (posts after dedup)", data.stats["language_mix"], "posts"
    )


def caption_length_section(data: ReportData) -> Section:
    lengths = data.stats["caption_length"]
    edges = lengths["edges"]
    bins = [f"{lo}-{hi}" for lo, hi in zip(edges, edges[1:], strict=False)]
    return _chart_section(
        "text-length",
        "Model text length (characters)",
        dict(zip(bins, lengths["counts"], strict=True)),
        "posts",
    )


def language_drops_section(data: ReportData) -> Section:
    """How many posts each language decision dropped, with a sample of each (``language_drops``
    is absent from the stats of older builds: "None")."""
    drops = data.stats.get("language_drops", {})
    title = "Posts dropped by language decision"
    return _section("language-drops", title, _LANGUAGE_DROPS, drops=drops)


SECTIONS: tuple[Callable[[ReportData], Section | None], ...] = (
    funnel_section,
    language_drops_section,
    gallery_section,
    labels_section,
    duplicates_section,
    image_failures_section,
    labels_per_post_section,
    languages_section,
    caption_length_section,
)


# drawing: bar_chart and chart_img serve any section ---------------------------------


def _section(anchor: str, title: str, template: jinja2.Template, **context: Any) -> Section:
    return Section(anchor, title, Markup(template.render(**context)))


def _chart_section(
    anchor: str, title: str, counts: Mapping[str, int], unit: str, horizontal: bool = False
) -> Section:
    """A section that is one bar chart of ``counts``."""
    png = bar_chart(list(counts), {unit: list(counts.values())}, unit, horizontal)
    return Section(anchor, title, chart_img(title, png))


def chart_img(alt: str, png: str) -> Markup:
    return Markup('<img class="chart" alt="{}" src="{}">').format(alt, png)


def bar_chart(
    names: Sequence[str],
    series: Mapping[str, Sequence[int]],
    unit: str,
    horizontal: bool = False,
) -> str:
    """A bar chart as a PNG ``data:`` URI, stacked when there are several series, each bar's total
    written at its end; an empty chart says so instead of drawing blank axes."""
    height = max(3.0, 0.24 * len(names) + 1.0) if horizontal else 3.2
    figure = Figure(figsize=(8, height), layout="constrained")
    axes = figure.subplots()
    if not names:
        axes.text(0.5, 0.5, "none", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return figure_uri(figure, dpi=80)
    positions = np.arange(len(names))
    base = np.zeros(len(names))
    container = None
    for (name, values), colour in zip(series.items(), BAR_COLOURS, strict=False):
        if horizontal:
            container = axes.barh(positions, values, left=base, color=colour, label=name)
        else:
            container = axes.bar(positions, values, bottom=base, color=colour, label=name)
        base = base + np.asarray(values, dtype=float)
    axes.bar_label(container, labels=[f"{int(total):,}" for total in base], padding=2)
    if horizontal:
        axes.set_yticks(positions, list(names))
        axes.invert_yaxis()  # the first (most frequent) at the top
        axes.set_xlabel(unit)
        axes.margins(x=0.08, y=0.01)
    else:
        axes.set_xticks(positions, list(names))
        axes.set_ylabel(unit)
        axes.tick_params(axis="x", labelrotation=30 if len(names) > 6 else 0)
        axes.margins(y=0.12)
    if len(series) > 1:
        axes.legend(loc="lower right" if horizontal else "upper right")
    return figure_uri(figure, dpi=80)


# templates -----------------------------------------------------------------------------------

_PAGE = _ENV.from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dataset report</title>
<style>
 body { font-family: sans-serif; max-width: 64em; margin: 2em auto; padding: 0 1em; color: #222; }
 nav a { margin-right: .8em; }
 table { border-collapse: collapse; margin: 1em 0; }
 td, th { border: 1px solid #ccc; padding: .2em .6em; text-align: left; }
 td.n { text-align: right; font-variant-numeric: tabular-nums; }
 img.chart { max-width: 100%; }
 .gallery, .pairs { display: flex; flex-wrap: wrap; gap: 1em; }
 figure { margin: 0; width: 170px; font-size: .85em; }
 figure img { width: 160px; height: 160px; object-fit: cover; border: 1px solid #ddd; }
 .pair { display: flex; gap: .5em; border: 1px solid #eee; padding: .5em; }
 .pair p { margin: .2em 0; }
 .tag { display: inline-block; color: #1d5c9a; margin-right: .3em; }
 .code { color: #777; font-family: monospace; }
 .scroll { max-height: 30em; overflow-y: auto; display: inline-block; }
</style></head><body>
<h1>Dataset report</h1>
<p>Created {{ created_at }}; posts per split: {{ splits }}.</p>
{% if text_only %}<p><strong>Text-only dataset</strong> (built with --text-only): no image was
fetched, so there is no image stage, no image dedup and no "image ok" drop; the posts have no
picture and train with --modality text.</p>{% endif %}
<nav>{% for s in sections %}<a href="#{{ s.anchor }}">{{ s.title }}</a>{% endfor %}</nav>
{% for s in sections %}
<section id="{{ s.anchor }}">
<h2>{{ s.title }}</h2>
{{ s.body }}
</section>
{% endfor %}
</body></html>
"""
)

_FUNNEL = _ENV.from_string(
    """{{ chart }}
<table><tr><th>stage</th><th>posts</th><th>dropped</th></tr>
{% for stage in funnel %}<tr><td>{{ stage.stage }}</td><td class="n">{{ stage.posts }}</td>
<td>{% for reason, n in stage.dropped.items() %}{{ reason }}: {{ n }}<br>{% endfor %}</td></tr>
{% endfor %}</table>
"""
)

_LANGUAGE_DROPS = _ENV.from_string(
    """{% if drops %}<table><tr><th>decision</th><th>posts</th><th>sample captions</th></tr>
{% for lang, entry in drops.items() %}<tr><td>{{ lang }}</td><td class="n">{{ entry.posts }}</td>
<td>{% for caption in entry.sample %}{{ caption }}<br>{% endfor %}</td></tr>
{% endfor %}</table>{% else %}<p>None: every post was in a kept language.</p>{% endif %}
"""
)

_GALLERY = _ENV.from_string(
    """{% for split, samples in gallery.items() %}
<h3>{{ split }} ({{ samples | length }} of {{ splits[split] }} posts)</h3>
<div class="gallery">
{% for sample, uri in samples %}
<figure class="post">{% if uri %}
<img class="thumb" src="{{ uri }}" alt="image of post {{ sample.shortcode }}">{% endif %}
<figcaption><p>{{ sample.text | truncate(160) }}</p>
<p>{% for label in sample.labels %}<span class="tag">#{{ label }}</span>{% endfor %}</p>
<p class="code">{{ sample.shortcode }}</p></figcaption></figure>
{% endfor %}
</div>
{% endfor %}
"""
)

_LABELS = _ENV.from_string(
    """{{ chart }}
<div class="scroll"><table><tr><th>#</th><th>label</th>
{% for split in splits %}<th>{{ split }}</th>{% endfor %}<th>total</th></tr>
{% for label, counts in rows %}<tr><td class="n">{{ loop.index0 }}</td><td>#{{ label }}</td>
{% for n in counts %}<td class="n">{{ n }}</td>{% endfor %}
<td class="n">{{ counts | sum }}</td></tr>
{% endfor %}</table></div>
"""
)

_DUPLICATES = _ENV.from_string(
    """<p>Each dropped post beside the earlier post kept in its place{% if total > pairs | length %}
(the first {{ pairs | length }} of {{ total }}; all are listed in stats.json){% endif %}.</p>
<div class="pairs">
{% for pair, kept, dropped in pairs %}
<div class="pair">
<figure><img class="thumb" src="{{ kept }}" alt="kept post {{ pair.kept }}">
<figcaption><p>kept</p><p class="code">{{ pair.kept }}</p></figcaption></figure>
<figure><img class="thumb" src="{{ dropped }}" alt="dropped post {{ pair.dropped }}">
<figcaption><p>dropped: {{ "identical pixels" if pair.reason == "same_image"
 else "near duplicate, %d bits apart" % pair.distance }}</p>
<p class="code">{{ pair.dropped }}</p></figcaption></figure>
</div>
{% endfor %}
</div>
"""
)
