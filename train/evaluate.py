"""Score a checkpoint on a dataset split beside its baselines, print the table, update metrics.json.

The model is scored through :class:`Predictor` on the raw images, exactly as serving sees posts.
The decision threshold for micro/macro F1 is tuned on val and applied to the evaluated split, for
the model and every baseline alike. Baselines: ``popularity`` (always: the train split's most
frequent labels for every post), ``tfidf`` (TF-IDF n-grams + one-vs-rest logistic regression fit
on the train split's text, :mod:`train.baselines`; on by default), ``text`` / ``image`` (the same
model with the other input set to its neutral value) or ``NAME=CHECKPOINT_DIR`` (another model,
e.g. one trained with --modality).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from runtime import image_prep
from runtime.dataset_manifest import check_modality
from runtime.errors import UsageError
from runtime.image_policy import ImageRefused
from runtime.progress import progress_bar
from train.baselines import TrainSplitFits
from train.checkpoint import read_metrics, read_model_record, write_metrics
from train.data import load_dataset, multi_hot, post_inputs
from train.predictor import Predictor
from train.report import SplitScores, read_history, write_report
from train.run_record import read_run_record
from train.scores import KS, all_metrics, popularity_scores, tune_threshold
from train.settings import MODEL_BASELINES, CheckpointBaseline, NamedBaseline, TextBaseline

TABLE_METRICS = (
    *(f"{name}@{k}" for name in ("p", "r", "f1", "acc") for k in KS),
    "map",
    "micro_f1",
    "macro_f1",
    "threshold",
)
Scores = tuple[np.ndarray, np.ndarray]  # (probabilities, targets) of one split


def metrics_report(
    probs: dict[str, Scores],
    train_targets: np.ndarray,
    baselines: dict[str, dict[str, Scores]] | None = None,
) -> dict[str, Any]:
    """Model, popularity and ``baselines`` (name -> split -> scores, e.g. from
    :func:`text_baseline_probs`) metrics on each split in ``probs``, thresholds tuned on
    ``val``."""
    report: dict[str, Any] = _scored_splits(probs)
    targets = {split: split_targets for split, (_, split_targets) in probs.items()}
    report["baselines"] = {"popularity": _popularity_metrics(train_targets, targets)}
    for name, baseline_probs in (baselines or {}).items():
        report["baselines"][name] = _scored_splits(baseline_probs)
    return report


def text_baseline_probs(
    names: Sequence[TextBaseline],
    frames: dict[str, pd.DataFrame],
    num_labels: int,
    splits: Sequence[str],
    fits: TrainSplitFits,
) -> dict[str, dict[str, Scores]]:
    """Each of ``names`` (the ``baselines`` setting, which TrainSettings checked) fit on the
    train frame's model text (``fits``: the run's) and scored on ``splits``: what
    ``hashtag-train`` shows beside popularity."""
    targets = {s: multi_hot(frames[s]["labels"].tolist(), num_labels).numpy() for s in splits}
    texts = {s: frames[s]["text"].fillna("").tolist() for s in splits}
    result = {}
    for name in names:  # tfidf, the one text baseline
        model = fits.fit()
        result[name] = {s: (model.scores(texts[s]), targets[s]) for s in splits}
    return result


def _popularity_metrics(
    train_targets: np.ndarray, targets: dict[str, np.ndarray]
) -> dict[str, Any]:
    """The popularity baseline scored on each split (threshold tuned on ``val``)."""
    return _scored_splits(
        {split: (popularity_scores(train_targets, len(t)), t) for split, t in targets.items()}
    )


def _scored_splits(probs: dict[str, Scores]) -> dict[str, Any]:
    threshold = tune_threshold(*probs["val"])
    return {split: all_metrics(p, t, threshold) for split, (p, t) in probs.items()}


def evaluate(
    checkpoint_dir: Path,
    dataset_dir: Path | None,
    split: str,
    baselines: Sequence[NamedBaseline | CheckpointBaseline],
    batch_size: int,
    progress: bool,
    report: Path | None = None,
) -> dict[str, Any]:
    """Metrics of the model and its baselines on ``split``; merged into metrics.json, and drawn
    in a report.html at ``report`` when given."""
    dataset_dir = dataset_dir or _trained_on(checkpoint_dir)
    modality = read_model_record(checkpoint_dir).modality
    check_modality(dataset_dir, modality, f"the checkpoint {checkpoint_dir}")
    splits = tuple(dict.fromkeys(("train", "val", split)))
    labels, frames = load_dataset(dataset_dir, splits)
    predictor = Predictor.load(checkpoint_dir)
    if labels != predictor.labels:
        raise UsageError(f"{dataset_dir}/labels.txt differs from the checkpoint's labels.txt")
    targets = {s: multi_hot(frames[s]["labels"].tolist(), len(labels)).numpy() for s in splits}

    def probs_of(scorer: Callable[[list, list], np.ndarray], name: str) -> dict[str, Scores]:
        return {
            s: (
                _score_frame(scorer, frames[s], dataset_dir, batch_size, f"{name} {s}", progress),
                targets[s],
            )
            for s in ("val", split)
        }

    # a bad baseline spec fails before minutes of scoring, not after
    texts, labels_of = frames["train"]["text"].fillna("").tolist(), targets["train"]
    extra_scorers = [_baseline_scorer(one, predictor, texts, labels_of) for one in baselines]
    model_probs = probs_of(predictor.scores, "model")
    columns = {predictor.name: _scored_splits(model_probs)[split]}
    popularity = _popularity_metrics(targets["train"], {s: targets[s] for s in ("val", split)})
    columns["popularity"] = popularity[split]
    for name, scorer in extra_scorers:
        columns[name] = _scored_splits(probs_of(scorer, name))[split]
    print(format_table(columns, split))
    _merge_metrics(checkpoint_dir, split, predictor.name, columns)
    if report is not None:
        scores = SplitScores(split, frames[split], dataset_dir, *model_probs[split], labels)
        history = read_history(checkpoint_dir)
        others = {name: values for name, values in columns.items() if name != predictor.name}
        write_report(report, predictor.name, scores, columns[predictor.name], history, others)
        print(f"report: {report}")
    return columns


def _trained_on(checkpoint_dir: Path) -> Path:
    """The dataset the run recorded (relative to the run folder), which must still be there."""
    recorded = read_run_record(checkpoint_dir).dataset
    if not recorded:
        raise UsageError(f"{checkpoint_dir} records no dataset: pass --dataset")
    dataset = Path(recorded)
    if not dataset.is_dir():
        raise UsageError(
            f"the dataset {checkpoint_dir} was trained on is not at {dataset}: pass --dataset"
        )
    return dataset


def _baseline_scorer(
    baseline: NamedBaseline | CheckpointBaseline,
    predictor: Predictor,
    train_texts: list[str],
    train_targets: np.ndarray,
) -> tuple[str, Callable]:
    """The column name and scorer of one ``baselines`` entry (EvaluateSettings parsed it)."""
    if isinstance(baseline, CheckpointBaseline):
        other = Predictor.load(baseline.checkpoint)
        if other.labels != predictor.labels:
            raise UsageError(
                f"baseline {baseline.name}: {baseline.checkpoint} was trained on other labels"
            )
        return baseline.name, other.scores
    if predictor.modality != "both" and baseline in MODEL_BASELINES:
        raise UsageError(f"baseline {baseline} needs a model trained with --modality both")
    if baseline == "text":
        return baseline, lambda texts, images: predictor.scores(texts, [None] * len(texts))
    if baseline == "image":
        return baseline, lambda texts, images: predictor.scores([None] * len(images), images)
    # tfidf: fit once, when first scored (after every baseline is checked)
    fits = TrainSplitFits(train_texts, train_targets, seed=0)
    return baseline, lambda texts, images: fits.fit().scores(texts)


def _score_frame(
    scorer: Callable[[list, list], np.ndarray],
    frame: pd.DataFrame,
    dataset_dir: Path,
    batch_size: int,
    desc: str,
    progress: bool,
) -> np.ndarray:
    texts, paths = post_inputs(frame, dataset_dir)
    chunks = []
    for start in progress_bar(range(0, len(texts), batch_size), desc=desc, disable=not progress):
        images = open_images(paths[start : start + batch_size])
        chunks.append(scorer(texts[start : start + batch_size], images))
    return np.concatenate(chunks)


def open_images(paths: list[Path | None]) -> list[Image.Image | None]:
    """A split's images, prepared as training read them (``None`` for a post without one);
    unreadable is a usage error."""
    return [_open_image(path) for path in paths]


def _open_image(path: Path | None) -> Image.Image | None:
    if path is None:
        return None
    try:
        return image_prep.load(path)
    except (OSError, ImageRefused) as exc:
        raise UsageError(f"cannot read image {path}: {exc}") from None


def format_table(columns: dict[str, dict[str, float]], split: str) -> str:
    """Metrics as rows, models as columns, fixed width so the figures line up."""
    names = list(columns)
    width = max(10, *(len(n) + 2 for n in names))
    lines = [f"{split:<10}" + "".join(f"{n:>{width}}" for n in names)]
    for metric in TABLE_METRICS:
        lines.append(f"{metric:<10}" + "".join(f"{columns[n][metric]:>{width}.3f}" for n in names))
    return "\n".join(lines)


def _merge_metrics(
    run_dir: Path, split: str, model_name: str, columns: dict[str, dict[str, float]]
) -> None:
    """Keep what training wrote; replace this split's model and baseline figures."""
    metrics = read_metrics(run_dir)
    metrics[split] = columns[model_name]
    for name, values in columns.items():
        if name != model_name:
            metrics.setdefault("baselines", {}).setdefault(name, {})[split] = values
    write_metrics(run_dir, metrics)
