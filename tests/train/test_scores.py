"""Metric functions against cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from train.scores import (
    all_metrics,
    average_precision,
    f1_scores,
    mean_average_precision,
    popularity_scores,
    ranking_metrics,
    tune_threshold,
)

# Two posts, four labels. Post 0 ranks labels 0,1,2,3 and has {0, 2}; post 1 ranks 3,2,1,0
# and has {1}.
SCORES = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4]])
TARGETS = np.array([[1, 0, 1, 0], [0, 1, 0, 0]])


def test_ranking_metrics_match_hand_computation():
    m = ranking_metrics(SCORES, TARGETS, ks=(1, 3))
    # k=1: post 0 hits label 0 (1/1), post 1 misses (top is 3).
    assert m["p@1"] == pytest.approx(0.5)
    assert m["r@1"] == pytest.approx((1 / 2 + 0) / 2)
    assert m["acc@1"] == pytest.approx(0.5)
    assert m["f1@1"] == pytest.approx((2 * 1 * 0.5 / 1.5 + 0) / 2)
    # k=3: post 0 top {0,1,2} hits 2 -> p=2/3, r=1; post 1 top {3,2,1} hits 1 -> p=1/3, r=1.
    assert m["p@3"] == pytest.approx(0.5)
    assert m["r@3"] == pytest.approx(1.0)
    assert m["acc@3"] == pytest.approx(1.0)
    f1_post0 = 2 * (2 / 3) * 1 / (2 / 3 + 1)
    f1_post1 = 2 * (1 / 3) * 1 / (1 / 3 + 1)
    assert m["f1@3"] == pytest.approx((f1_post0 + f1_post1) / 2)


def test_p_at_k_beyond_label_count_still_divides_by_k():
    m = ranking_metrics(SCORES, TARGETS, ks=(10,))
    assert m["p@10"] == pytest.approx((2 / 10 + 1 / 10) / 2)
    assert m["r@10"] == pytest.approx(1.0)


def test_post_without_labels_has_zero_recall():
    m = ranking_metrics(np.array([[0.5, 0.4]]), np.array([[0, 0]]), ks=(1,))
    assert m["r@1"] == 0.0 and m["p@1"] == 0.0


def test_average_precision_by_hand():
    # positives at ranks 1 and 3: AP = (1/1 + 2/3) / 2
    assert average_precision(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1])) == pytest.approx(
        (1 + 2 / 3) / 2
    )


def test_map_skips_labels_without_positives():
    # label 0: post 0 (positive) ranked first -> 1. label 1: post 0 (0.8, negative) before
    # post 1 (0.2, positive) -> 1/2. label 2: post 0 first -> 1. label 3: no positives, skipped.
    assert mean_average_precision(SCORES, TARGETS) == pytest.approx((1 + 0.5 + 1) / 3)


def test_f1_micro_and_macro_by_hand():
    f1 = f1_scores(SCORES, TARGETS, threshold=0.5)
    # predicted: post 0 -> {0, 1, 2}; post 1 -> {}. tp=2 (0, 2), fp=1 (1), fn=1 (post 1 label 1)
    assert f1["micro_f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    # per label: 0 -> tp1 -> 1.0; 1 -> fp1 fn1 -> 0; 2 -> 1.0; 3 unsupported, skipped
    assert f1["macro_f1"] == pytest.approx(2 / 3)


def test_threshold_tuning_picks_the_separating_value():
    probabilities = np.array([[0.9, 0.2], [0.3, 0.8]])
    targets = np.array([[1, 0], [0, 1]])
    threshold = tune_threshold(probabilities, targets)
    assert 0.3 < threshold <= 0.8
    assert f1_scores(probabilities, targets, threshold)["micro_f1"] == 1.0


def test_popularity_baseline_ranks_train_frequencies():
    train = np.array([[1, 0, 1], [1, 0, 0], [1, 1, 0]])
    scores = popularity_scores(train, num_posts=2)
    assert scores.shape == (2, 3)
    np.testing.assert_allclose(scores[0], [1.0, 1 / 3, 1 / 3])
    assert all_metrics(scores, np.array([[1, 0, 0], [0, 1, 0]]), 0.5)["p@1"] == 0.5
