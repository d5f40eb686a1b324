"""The blend weight's choice (train.blend) on score matrices, and the TF-IDF fit that a run's
wide part and its reported baseline share (train.baselines.TrainSplitFits)."""

from __future__ import annotations

import numpy as np
import pytest

from train.baselines import MAX_FEATURES, TrainSplitFits, fit_tfidf
from train.blend import BLEND_GRID, CRITERIA, best_alpha, blend_metrics
from train.data import load_dataset, multi_hot
from train.scores import mean_average_precision, ranking_metrics


def _targets() -> np.ndarray:
    targets = np.zeros((6, 4))
    targets[np.arange(6), [0, 1, 2, 3, 0, 1]] = 1
    return targets


def test_every_grid_weight_is_scored_on_the_three_criteria():
    rng = np.random.default_rng(0)
    wide, deep, targets = rng.random((6, 4)), rng.random((6, 4)), _targets()
    table = blend_metrics(wide, deep, targets)
    assert list(table) == [f"{alpha:g}" for alpha in BLEND_GRID]
    half = 0.5 * wide + 0.5 * deep
    ranking = ranking_metrics(half, targets, ks=(1, 5))
    assert table["0.5"]["map"] == round(mean_average_precision(half, targets), 4)
    assert table["0.5"]["p@1"] == round(ranking["p@1"], 4)
    expected_mean = np.mean([table["0.5"][name] for name in CRITERIA])
    assert table["0.5"]["mean"] == pytest.approx(expected_mean, abs=1e-4)


def test_the_better_part_alone_is_chosen_when_the_other_is_noise():
    rng = np.random.default_rng(1)
    targets = _targets()
    perfect, noise = targets + 0.01 * rng.random((6, 4)), rng.random((6, 4))
    assert best_alpha(blend_metrics(perfect, noise, targets)) == 1.0
    table = blend_metrics(noise, perfect, targets)  # alpha weighs the first: noise
    assert table[f"{best_alpha(table):g}"]["mean"] == table["0"]["mean"] > table["1"]["mean"]


def test_a_tie_goes_to_the_largest_weight():
    targets = _targets()
    assert best_alpha(blend_metrics(targets, targets, targets)) == 1.0


def test_a_run_fits_each_ngram_count_once(make_tiny_dataset, tmp_path):
    labels, frames = load_dataset(make_tiny_dataset(tmp_path / "ds", n_posts=40, n_labels=3))
    fits = TrainSplitFits.of(frames["train"], len(labels), seed=0)
    full = fits.fit()
    assert fits.fit(MAX_FEATURES) is full  # the wide part of train_small.yaml is the baseline
    assert fits.fit(50) is not full and fits.fit(50).vectorizer.dim <= 100
    texts = frames["train"]["text"].tolist()
    targets = multi_hot(frames["train"]["labels"].tolist(), len(labels)).numpy()
    alone = fit_tfidf(texts, targets).scores(texts)
    assert np.allclose(full.scores(texts), alone)  # the same fit as the function's


def test_a_weight_worse_than_the_baseline_at_one_metric_is_not_chosen():
    """Alpha 1 is the TF-IDF baseline: more mAP bought with less p@1 on val is refused."""
    row = {"p@1": 0.90, "p@5": 0.55, "map": 0.60}
    table = {f"{alpha:g}": dict(row) for alpha in BLEND_GRID}
    table["0.05"] |= {"p@1": 0.87, "map": 0.76}  # the highest mean, but under alpha 1 at p@1
    table["0.3"] |= {"p@1": 0.90, "map": 0.71}  # as good at p@1, better at mAP
    for values in table.values():
        values["mean"] = float(np.mean([values[name] for name in CRITERIA]))
    assert best_alpha(table) == 0.3
