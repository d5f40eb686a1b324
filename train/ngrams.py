"""The wide part's input: TF-IDF over the model text's word 1-2-grams and character 2-5-grams.

Why: on real captions a linear model over n-grams (TF-IDF + logistic regression) ranks hashtags
far better than a small encoder trained for minutes on CPU, because rare words, product codes,
place names and non-label hashtags are each strong evidence for a few tags and an encoder's
subwords blur them (docs/benchmarks/train.md). These are the TF-IDF baseline's features
(:mod:`train.baselines` fits them); the model's wide part is that baseline's logistic regression,
frozen, its logits summed with the head's (train.model).

The vectorisers are fitted on the train split only. A checkpoint stores them without pickle:
``ngrams/vocabulary.json`` (settings and each analyser's term -> column map) and
``ngrams/idf.safetensors`` (the idf weights), rebuilt into scikit-learn vectorisers on load.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from runtime.checkpoint_check import NGRAMS_DIR, NGRAMS_FILES
from runtime.errors import UsageError
from runtime.files import atomic_write_json, staged_directory

VOCABULARY_FILE, IDF_FILE = NGRAMS_FILES
DIR_MODE = 0o755
FILE_MODE = 0o644
# Each analyser: the scikit-learn settings that, with the vocabulary and idf, fix its output.
ANALYSERS: dict[str, dict[str, Any]] = {
    "word": {"analyzer": "word", "ngram_range": (1, 2)},
    "char": {"analyzer": "char_wb", "ngram_range": (2, 5)},
}
COMMON = {"sublinear_tf": True, "lowercase": True, "dtype": np.float32}


class NgramFeatures:
    """Word and character TF-IDF vectorisers side by side: ``transform`` gives one dense row of
    :attr:`dim` features per text (the word block, then the character block)."""

    def __init__(self, vectorisers: dict[str, TfidfVectorizer]) -> None:
        self.vectorisers = vectorisers
        self.dim = sum(len(v.vocabulary_) for v in vectorisers.values())

    @classmethod
    def fit(cls, texts: Sequence[str], max_features: int) -> NgramFeatures:
        """Fitted on ``texts`` (the train split), each analyser keeping its ``max_features``
        most frequent n-grams."""
        vectorisers = {}
        for name, settings in ANALYSERS.items():
            vectoriser = TfidfVectorizer(**settings, **COMMON, max_features=max_features)
            try:
                vectoriser.fit(list(texts))
            except ValueError:  # no n-gram at all (every caption empty): one unused column
                vectoriser = _rebuilt(settings, {" ": 0}, np.ones(1, np.float32))
            vectorisers[name] = vectoriser
        return cls(vectorisers)

    def sparse(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Sparse float32 features, texts x :attr:`dim` (what scikit-learn fits on)."""
        blocks = [v.transform(list(texts)) for v in self.vectorisers.values()]
        return sparse.hstack(blocks, format="csr", dtype=np.float32)

    def transform(self, texts: Sequence[str]) -> torch.Tensor:
        """Dense float32 features, texts x :attr:`dim` (the model's input; a batch at a time)."""
        return torch.from_numpy(self.sparse(texts).toarray())

    def save(self, run_dir: Path) -> None:
        """``ngrams/`` in ``run_dir``, swapped in whole."""
        vocabulary = {
            name: {term: int(column) for term, column in v.vocabulary_.items()}
            for name, v in self.vectorisers.items()
        }
        idf = {name: v.idf_.astype(np.float32) for name, v in self.vectorisers.items()}
        with staged_directory(run_dir / NGRAMS_DIR, DIR_MODE) as staging:
            atomic_write_json(staging / VOCABULARY_FILE, vocabulary, FILE_MODE)
            save_file(idf, str(staging / IDF_FILE))

    @classmethod
    def load(cls, run_dir: Path) -> NgramFeatures:
        """The vectorisers :meth:`save` wrote; a missing or damaged file is a UsageError."""
        folder = Path(run_dir) / NGRAMS_DIR
        try:
            vocabulary = json.loads((folder / VOCABULARY_FILE).read_text("utf-8"))
            idf = load_file(str(folder / IDF_FILE))
            vectorisers = {
                name: _rebuilt(settings, vocabulary[name], idf[name])
                for name, settings in ANALYSERS.items()
            }
        except (OSError, ValueError, KeyError) as exc:
            raise UsageError(f"cannot read the n-gram vocabulary in {folder}: {exc}") from None
        return cls(vectorisers)


def _rebuilt(settings: dict[str, Any], vocabulary: dict[str, int], idf: np.ndarray):
    """A fitted TfidfVectorizer from its vocabulary and idf weights (scikit-learn accepts both
    as given; nothing is refitted)."""
    if len(idf) != len(vocabulary):
        raise ValueError(f"{len(vocabulary)} terms but {len(idf)} idf weights")
    vectoriser = TfidfVectorizer(**settings, **COMMON, vocabulary=vocabulary)
    vectoriser.idf_ = np.asarray(idf, dtype=np.float64)
    return vectoriser
