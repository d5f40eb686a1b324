"""The metrics of docs/architecture.md on a score matrix: ranking at k, mAP, F1 at a threshold.

All functions take ``scores`` (posts x labels, higher = more likely) and ``targets`` (the same
shape, 1 where the label is the post's) as numpy arrays, so the model, the baselines and the
tests share one implementation.
"""

from __future__ import annotations

import numpy as np

KS = (1, 3, 5, 10)
THRESHOLD_GRID = np.round(np.arange(0.05, 0.96, 0.05), 2)


def ranking_metrics(scores: np.ndarray, targets: np.ndarray, ks=KS) -> dict[str, float]:
    """p@k, r@k, f1@k, acc@k averaged over posts.

    R(k) holds at most as many labels as exist; p@k still divides by k, as defined. r@k of a post
    without labels counts as 0 (it cannot be recalled), keeping every post in every average.
    """
    targets = np.asarray(targets, dtype=np.float64)
    order = np.argsort(-scores, axis=1, kind="stable")
    positives = targets.sum(axis=1)
    result: dict[str, float] = {}
    for k in ks:
        top = order[:, :k]
        hits = np.take_along_axis(targets, top, axis=1).sum(axis=1)
        precision = hits / k
        recall = np.divide(hits, positives, out=np.zeros(len(hits)), where=positives > 0)
        f1 = np.divide(
            2 * precision * recall,
            precision + recall,
            out=np.zeros(len(hits)),
            where=(precision + recall) > 0,
        )
        result[f"p@{k}"] = float(precision.mean())
        result[f"r@{k}"] = float(recall.mean())
        result[f"f1@{k}"] = float(f1.mean())
        result[f"acc@{k}"] = float((hits > 0).mean())
    return result


def average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """AP of one label: mean of the precision at the rank of each positive post."""
    order = np.argsort(-scores, kind="stable")
    relevant = targets[order] > 0
    ranks = np.flatnonzero(relevant) + 1
    return float((np.arange(1, len(ranks) + 1) / ranks).mean())


def mean_average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """Mean AP over the labels that have at least one positive post (others are undefined)."""
    present = np.flatnonzero(targets.sum(axis=0) > 0)
    if len(present) == 0:
        return 0.0
    return float(np.mean([average_precision(scores[:, j], targets[:, j]) for j in present]))


def f1_scores(probabilities: np.ndarray, targets: np.ndarray, threshold: float) -> dict[str, float]:
    """Micro F1 (pooled over all decisions) and macro F1 (mean over labels with support)."""
    predicted = probabilities >= threshold
    actual = targets > 0
    tp = (predicted & actual).sum(axis=0)
    fp = (predicted & ~actual).sum(axis=0)
    fn = (~predicted & actual).sum(axis=0)
    micro = _f1(tp.sum(), fp.sum(), fn.sum())
    supported = actual.sum(axis=0) > 0
    per_label = [_f1(*c) for c in zip(tp[supported], fp[supported], fn[supported], strict=True)]
    return {"micro_f1": micro, "macro_f1": float(np.mean(per_label)) if per_label else 0.0}


def _f1(tp: float, fp: float, fn: float) -> float:
    denominator = 2 * tp + fp + fn
    return float(2 * tp / denominator) if denominator else 0.0


def tune_threshold(probabilities: np.ndarray, targets: np.ndarray) -> float:
    """The grid threshold with the best micro F1 (chosen on val, then applied to test)."""
    scores = [f1_scores(probabilities, targets, t)["micro_f1"] for t in THRESHOLD_GRID]
    return float(THRESHOLD_GRID[int(np.argmax(scores))])


def all_metrics(
    probabilities: np.ndarray, targets: np.ndarray, threshold: float
) -> dict[str, float]:
    """Every metric of docs/architecture.md, plus the threshold used, in one flat dict."""
    return {
        **ranking_metrics(probabilities, targets),
        "map": mean_average_precision(probabilities, targets),
        **f1_scores(probabilities, targets, threshold),
        "threshold": threshold,
    }


def popularity_scores(train_targets: np.ndarray, num_posts: int) -> np.ndarray:
    """Every post gets the same scores: the share of train posts carrying each label."""
    return np.tile(train_targets.mean(axis=0), (num_posts, 1))
