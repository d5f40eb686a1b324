"""report.html of a run: curves, per-label AP, calibration and a gallery of posts, in one file.

``hashtag-train`` writes it for the test split at the end of a run and ``hashtag-evaluate
--report`` for any split. Charts are PNGs drawn by matplotlib and thumbnails are re-encoded JPEGs,
both embedded as ``data:`` URIs, so the file opens offline, by mail, or from a Hub repo alike, and
records no path of the machine that wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.figure import Figure

from runtime.checkpoint_check import LOG_FILE
from runtime.files import atomic_write_text, iter_jsonl
from runtime.report_images import figure_uri, thumbnail_uri
from train.scores import average_precision

TEMPLATES = Path(__file__).resolve().parent / "templates"
REPORT_FILE = "report.html"
SHOWN_LABELS = 15  # best and worst labels drawn in the AP chart (the table lists all)
GALLERY_POSTS = 24
CALIBRATION_BINS = 10
FIGURE_DPI = 110


@dataclass(frozen=True)
class SplitScores:
    """What the report shows about one split: its posts, the model's scores, the truth."""

    split: str
    frame: pd.DataFrame  # the split's rows (text, labels, image ...)
    dataset_dir: Path  # image paths in ``frame`` are relative to it
    scores: np.ndarray  # posts x labels, sigmoid scores
    targets: np.ndarray  # posts x labels, 0/1
    labels: list[str]


def write_report(
    path: Path,
    run_name: str,
    data: SplitScores,
    metrics: dict[str, float],
    history: list[dict[str, Any]],
    baselines: dict[str, dict[str, float]] | None = None,
) -> Path:
    """Render the report for ``data`` and write it atomically to ``path``; ``baselines`` (name
    -> metrics on the same split: popularity, tfidf ...) are tabled beside the model."""
    html = render_report(run_name, data, metrics, history, baselines)
    atomic_write_text(path, html, 0o644)
    return path


def render_report(
    run_name: str,
    data: SplitScores,
    metrics: dict[str, float],
    history: list[dict[str, Any]],
    baselines: dict[str, dict[str, float]] | None = None,
) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    ap = per_label_ap(data.scores, data.targets, data.labels)
    return env.get_template("report.html").render(
        run_name=run_name,
        split=data.split,
        posts=len(data.frame),
        label_count=len(data.labels),
        metrics=metrics,
        comparison=_comparison(run_name, metrics, baselines or {}),
        curves=figure_uri(_curves_figure(history), FIGURE_DPI) if _epochs(history) else None,
        ap_chart=figure_uri(_ap_figure(ap), FIGURE_DPI) if ap else None,
        ap_rows=ap,
        calibration=figure_uri(_calibration_figure(data.scores, data.targets), FIGURE_DPI),
        gallery=list(_gallery(data)),
    )


COMPARED = ("p@1", "p@5", "r@5", "acc@5", "map", "micro_f1", "macro_f1")


def _comparison(
    run_name: str, metrics: dict[str, float], baselines: dict[str, dict[str, float]]
) -> dict[str, Any] | None:
    """The model and its baselines as rows of :data:`COMPARED` metrics (``None``: no baseline)."""
    if not baselines:
        return None
    rows = [(run_name, metrics)] + list(baselines.items())
    return {
        "metrics": COMPARED,
        "rows": [(name, [values.get(m) for m in COMPARED]) for name, values in rows],
    }


def read_history(run_dir: Path) -> list[dict[str, Any]]:
    """train_log.jsonl's records (none for a folder saved without its log)."""
    path = run_dir / LOG_FILE
    if not path.is_file():
        return []
    return [record for _, record, _ in iter_jsonl(path) if record is not None]


def per_label_ap(
    scores: np.ndarray, targets: np.ndarray, labels: list[str]
) -> list[tuple[str, float, int]]:
    """(label, AP, positives) of every label with a positive post, best AP first."""
    positives = targets.sum(axis=0).astype(int)
    rows = [
        (labels[j], average_precision(scores[:, j], targets[:, j]), int(positives[j]))
        for j in np.flatnonzero(positives > 0)
    ]
    return sorted(rows, key=lambda row: (-row[1], row[0]))


def calibration_bins(scores: np.ndarray, targets: np.ndarray, bins: int = CALIBRATION_BINS):
    """Per score bin: mean score, share of positives, and count (empty bins dropped)."""
    flat_scores, flat_targets = scores.ravel(), targets.ravel()
    which = np.minimum((flat_scores * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    kept = counts > 0
    mean_score = np.bincount(which, flat_scores, bins)[kept] / counts[kept]
    observed = np.bincount(which, flat_targets, bins)[kept] / counts[kept]
    return mean_score, observed, counts[kept]


def _epochs(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The end-of-epoch records, the last one of each epoch (a resumed run repeats none)."""
    by_epoch = {r["epoch"]: r for r in history if r.get("event") == "val" and "map" in r}
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def _curves_figure(history: list[dict[str, Any]]) -> Figure:
    epochs = _epochs(history)
    x = [r["epoch"] for r in epochs]
    figure = Figure(figsize=(10, 3.6), layout="constrained")
    loss_axes, map_axes = figure.subplots(1, 2)
    losses = [(r["epoch"], r["train_loss"]) for r in epochs if "train_loss" in r]
    if losses:
        loss_axes.plot(*zip(*losses, strict=True), marker="o", color="tab:red")
    loss_axes.set(title="training loss per epoch", xlabel="epoch", ylabel="loss")
    map_axes.plot(x, [r["map"] for r in epochs], marker="o", color="tab:blue")
    best = [r for r in epochs if r.get("best")]
    if best:
        map_axes.scatter(
            [best[-1]["epoch"]],
            [best[-1]["map"]],
            s=120,
            facecolors="none",
            edgecolors="black",
            label="kept (best)",
        )
        map_axes.legend(loc="lower right")
    map_axes.set(title="validation mAP per epoch", xlabel="epoch", ylabel="mAP")
    for axes in (loss_axes, map_axes):
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.grid(alpha=0.3)
    return figure


def _ap_figure(ap: list[tuple[str, float, int]]) -> Figure:
    """Best and worst labels by AP as horizontal bars with their values written on them."""
    shown = ap if len(ap) <= 2 * SHOWN_LABELS else ap[:SHOWN_LABELS] + ap[-SHOWN_LABELS:]
    names = [f"#{name} ({count})" for name, _, count in shown]
    values = [value for _, value, _ in shown]
    figure = Figure(figsize=(8, 0.28 * len(shown) + 1.2), layout="constrained")
    axes = figure.subplots()
    colours = ["tab:green" if i < len(shown) / 2 else "tab:orange" for i in range(len(shown))]
    bars = axes.barh(range(len(shown)), values, color=colours)
    axes.bar_label(bars, labels=[f"{v:.2f}" for v in values], padding=2, fontsize=8)
    axes.set_yticks(range(len(shown)), names, fontsize=8)
    axes.invert_yaxis()
    axes.set(xlim=(0, 1.08), xlabel="average precision (positives in this split)")
    title = "AP per label" if shown is ap else f"best and worst {SHOWN_LABELS} labels by AP"
    axes.set_title(title)
    return figure


def _calibration_figure(scores: np.ndarray, targets: np.ndarray) -> Figure:
    """Reliability diagram: how often a label is right at each predicted score."""
    mean_score, observed, counts = calibration_bins(scores, targets)
    figure = Figure(figsize=(5, 5.5), layout="constrained")
    diagram, histogram = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    diagram.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    diagram.plot(mean_score, observed, marker="o", color="tab:blue", label="model")
    diagram.set(
        ylabel="share of (post, label) pairs that are true",
        ylim=(0, 1),
        title="calibration of the sigmoid scores",
    )
    diagram.legend(loc="upper left")
    diagram.grid(alpha=0.3)
    histogram.bar(mean_score, counts, width=0.08, color="tab:grey")
    histogram.set(xlabel="predicted score", ylabel="pairs", yscale="log", xlim=(0, 1))
    histogram.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    histogram.yaxis.set_minor_formatter(ticker.NullFormatter())
    return figure


def _gallery(data: SplitScores) -> Iterable[dict[str, Any]]:
    """Posts spread evenly over the split: thumbnail, caption, true and predicted hashtags."""
    count = min(GALLERY_POSTS, len(data.frame))
    picks = np.linspace(0, len(data.frame) - 1, count).round().astype(int) if count else []
    for row in sorted(set(int(i) for i in picks)):
        post = data.frame.iloc[row]
        truth = {data.labels[j] for j in post["labels"]}
        top = max(3, len(truth))
        order = np.argsort(-data.scores[row], kind="stable")[:top]
        yield {
            "shortcode": post.get("shortcode", ""),
            "caption": post["text"] or "",
            "thumbnail": _thumbnail(data.dataset_dir, post["image"]),
            "truth": sorted(truth),
            "predicted": [
                (data.labels[j], float(data.scores[row, j]), data.labels[j] in truth) for j in order
            ],
        }


def _thumbnail(dataset_dir: Path, relative: str | None) -> str | None:
    """The post's image as a small JPEG ``data:`` URI; ``None`` when it has none (or it cannot
    be read: the gallery then says "no image" rather than failing the whole report)."""
    if not relative:
        return None
    try:
        return thumbnail_uri(dataset_dir / relative)
    except OSError:
        return None
