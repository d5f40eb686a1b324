"""The TF-IDF baseline: its reusable API, and where hashtag-train and hashtag-evaluate show it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from train.baselines import fit_tfidf
from train.scores import all_metrics, popularity_scores


def word_data(rng: np.random.Generator, n_posts: int, n_labels: int = 4):
    """Captions naming their labels' words among filler (one rule: the words carry the labels)."""
    texts, targets = [], np.zeros((n_posts, n_labels), dtype=np.float32)
    for row in range(n_posts):
        labels = rng.choice(n_labels, size=int(rng.integers(1, 3)), replace=False)
        targets[row, labels] = 1
        words = [f"word{j}" for j in labels] + rng.choice(["a", "the", "day", "nice"], 3).tolist()
        texts.append(" ".join(rng.permutation(words)))
    return texts, targets


def test_fit_tfidf_scores_are_probabilities_that_beat_popularity():
    rng = np.random.default_rng(0)
    train_texts, train_targets = word_data(rng, 80)
    test_texts, test_targets = word_data(rng, 40)
    baseline = fit_tfidf(train_texts, train_targets)
    scores = baseline.scores(test_texts)
    assert scores.shape == test_targets.shape and scores.dtype == np.float32
    assert scores.min() >= 0 and scores.max() <= 1
    tfidf = all_metrics(scores, test_targets, 0.5)
    popularity = all_metrics(popularity_scores(train_targets, 40), test_targets, 0.5)
    assert tfidf["map"] > popularity["map"] and tfidf["p@1"] > popularity["p@1"]
    assert baseline.scores([]).shape == (0, 4)
    assert baseline.scores([None]).shape == (1, 4)


def test_a_label_missing_from_train_scores_zero():
    rng = np.random.default_rng(1)
    texts, targets = word_data(rng, 30)
    targets[:, 3] = 0  # no train post carries label 3
    assert np.all(fit_tfidf(texts, targets).scores(texts)[:, 3] == 0)


def test_mismatched_inputs_are_refused():
    with pytest.raises(ValueError, match="2 texts"):
        fit_tfidf(["a", "b"], np.zeros((3, 2)))


@pytest.fixture(scope="module")
def trained(make_tiny_checkpoint, make_tiny_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("baselines")
    dataset = make_tiny_dataset(root / "ds", n_posts=40, n_labels=4)
    return dataset, make_tiny_checkpoint(dataset, root / "run", epochs=1, modality="text")


def test_training_shows_tfidf_beside_popularity(trained):
    _, run = trained
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["baselines"]) == {"popularity", "tfidf"}
    assert set(metrics["baselines"]["tfidf"]) == {"val", "test"}
    assert {"p@1", "r@5", "acc@5", "map"} <= set(metrics["baselines"]["tfidf"]["test"])
    report = (run / "report.html").read_text()
    assert 'id="baselines"' in report and ">tfidf<" in report and ">popularity<" in report


def test_training_without_baselines(make_tiny_checkpoint, trained, tmp_path):
    dataset, _ = trained
    run = make_tiny_checkpoint(dataset, tmp_path / "run", epochs=1, modality="text", baselines=[])
    assert set(json.loads((run / "metrics.json").read_text())["baselines"]) == {"popularity"}


def test_evaluate_prints_and_records_tfidf(trained, tmp_path, capsys):
    from train.cli import evaluate_main

    dataset, run = trained
    before = json.loads((run / "metrics.json").read_text())["baselines"]["tfidf"]["test"]
    report = tmp_path / "report.html"
    argv = ["--checkpoint", str(run), "--dataset", str(dataset), "--report", str(report)]
    assert evaluate_main([*argv, "--baselines", "tfidf", "--quiet"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["test", "run", "popularity", "tfidf"]
    after = json.loads((run / "metrics.json").read_text())["baselines"]["tfidf"]["test"]
    assert after == pytest.approx(before, abs=1e-6)  # the same fit as training's
    assert ">tfidf<" in report.read_text()


def test_train_refuses_an_unknown_baseline(trained, tmp_path, capsys):
    from train.cli import train_main

    dataset, _ = trained
    argv = ["--dataset", str(dataset), "--out", str(tmp_path / "run"), "--modality", "text"]
    assert train_main([*argv, "--set", "baselines=[bm25]", "--quiet"]) == 2
    assert "baselines.0 must be 'tfidf', got 'bm25'" in capsys.readouterr().err


def test_an_empty_baseline_list_shows_popularity_alone(trained, capsys):
    from train.cli import evaluate_main

    dataset, run = trained
    argv = ["--checkpoint", str(run), "--dataset", str(dataset), "--baselines", ""]
    assert evaluate_main([*argv, "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == ["test", "run", "popularity"]
