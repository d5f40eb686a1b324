"""Text baselines that need no neural model: TF-IDF n-grams + one-vs-rest logistic regression.

Beside ``popularity`` (every post gets the train split's label shares), ``tfidf`` is the strong
simple baseline a hashtag model has to beat to be worth its cost: word 1-2-grams and character
2-5-grams within word boundaries (``char_wb``: spelling variants, emoji words, glued words),
sublinear term frequency, and one logistic regression per label (liblinear), fit on the train
split's model text (the dataset's ``text`` column). Its scores are per-label probabilities, so
the metrics and the val-tuned F1 threshold of :mod:`train.scores` apply to it as to the model.

The features are :class:`train.ngrams.NgramFeatures` (saved without pickle), and the fit is a
linear model, so :meth:`TfidfBaseline.linear` hands its weights to the hashtag model's wide part
(``ngram_features`` > 0): one function fits both the reported baseline and the wide part. With
``ngram_features`` equal to :data:`MAX_FEATURES` (configs/train_small.yaml) the two are the same
fit; a training run asks its :class:`TrainSplitFits` for both, so it fits once (on realdev a fit
costs minutes on 2 cores).

Reusable on its own, e.g. to compare with or ensemble a model::

    from train.baselines import fit_tfidf
    baseline = fit_tfidf(train_texts, train_targets)   # targets: posts x labels, 0/1
    scores = baseline.scores(test_texts)               # posts x labels, in [0, 1]
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from train.data import multi_hot
from train.ngrams import NgramFeatures

MAX_FEATURES = 200_000  # per vectorizer: bounds memory on large corpora
C = 3.0
"""Inverse regularisation, chosen by val mAP on the realdev text-only dataset among 1, 3 and 10
(0.196, 0.205, 0.198; docs/training.md): the differences are small."""
CONSTANT_LOGIT = 30.0  # minus the bias that stands for the constant estimator's score of 0


@dataclass(frozen=True)
class TfidfBaseline:
    """A fitted TF-IDF + one-vs-rest logistic regression; :meth:`scores` ranks labels."""

    vectorizer: NgramFeatures
    classifier: OneVsRestClassifier
    num_labels: int

    def scores(self, texts: Sequence[str | None]) -> np.ndarray:
        """Probability of every label for every text (posts x labels); ``None`` reads as ""."""
        if not len(texts):
            return np.zeros((0, self.num_labels), dtype=np.float32)
        features = self.vectorizer.sparse([text or "" for text in texts])
        return self.classifier.predict_proba(features).astype(np.float32)

    def linear(self) -> tuple[np.ndarray, np.ndarray]:
        """Weights (labels x features) and biases (labels) with ``scores`` = sigmoid(x W^T + b).

        A label without train posts (the constant estimator, score 0) gets weights 0 and a bias
        of -CONSTANT_LOGIT, i.e. a score of about 1e-13."""
        weights = np.zeros((self.num_labels, self.vectorizer.dim), dtype=np.float32)
        biases = np.full(self.num_labels, -CONSTANT_LOGIT, dtype=np.float32)
        for label, estimator in enumerate(self.classifier.estimators_):
            if isinstance(estimator, LogisticRegression):
                weights[label] = estimator.coef_[0]
                biases[label] = estimator.intercept_[0]
        return weights, biases


def fit_tfidf(
    texts: Sequence[str | None],
    targets: np.ndarray,
    seed: int = 0,
    max_features: int = MAX_FEATURES,
) -> TfidfBaseline:
    """Fit on ``texts`` (model text) and ``targets`` (posts x labels, 0/1), keeping the
    ``max_features`` most frequent n-grams of each kind (word, character).

    A label no train post carries gets a constant score of 0 (scikit-learn's constant
    estimator) instead of failing the fit: a small train split can miss a rare label."""
    targets = np.asarray(targets)
    if targets.ndim != 2 or len(texts) != len(targets):
        raise ValueError(f"got {len(texts)} texts but targets of shape {targets.shape}")
    return _fit([text or "" for text in texts], targets, seed, max_features)


class TrainSplitFits:
    """The fits of one run's train split, made once per n-gram count and then handed out again.

    Why: the run's wide part and the tfidf column of its report are the same fit when
    ``ngram_features`` is :data:`MAX_FEATURES`, and the run passes this object to both, so the
    sharing is explicit and lasts exactly as long as the run."""

    def __init__(self, texts: Sequence[str | None], targets: np.ndarray, seed: int) -> None:
        self._texts, self._targets, self._seed = list(texts), np.asarray(targets), seed
        self._fits: dict[int, TfidfBaseline] = {}

    @classmethod
    def of(cls, train_frame: pd.DataFrame, num_labels: int, seed: int) -> TrainSplitFits:
        """The fits of a dataset's train frame (its model text and labels)."""
        targets = multi_hot(train_frame["labels"].tolist(), num_labels).numpy()
        return cls(train_frame["text"].fillna("").tolist(), targets, seed)

    def fit(self, max_features: int = MAX_FEATURES) -> TfidfBaseline:
        """The fit keeping ``max_features`` n-grams of each kind (made on first use)."""
        if max_features not in self._fits:
            self._fits[max_features] = fit_tfidf(
                self._texts, self._targets, self._seed, max_features
            )
        return self._fits[max_features]


def _fit(texts: list[str], targets: np.ndarray, seed: int, max_features: int) -> TfidfBaseline:
    vectorizer = NgramFeatures.fit(texts, max_features)
    features = vectorizer.sparse(texts)
    classifier = OneVsRestClassifier(
        LogisticRegression(C=C, solver="liblinear", dual=True, max_iter=500, random_state=seed)
    )
    with warnings.catch_warnings():
        # "Label not N is present in all training examples": the constant estimator, on purpose
        warnings.filterwarnings("ignore", message="Label not", category=UserWarning)
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        classifier.fit(features, (targets > 0).astype(np.int8))
    return TfidfBaseline(vectorizer, classifier, targets.shape[1])
