"""The wide part's n-gram rows for a request, without scikit-learn's per-call overhead.

Why: :meth:`train.ngrams.NgramFeatures.transform` calls each fitted ``TfidfVectorizer``, whose
``transform`` validates its input and output, builds and checks sparse matrices and normalises
through :func:`sklearn.preprocessing.normalize`. For the one caption of a request that took
about 1.7 ms of CPU, of which turning the caption into n-grams was under 0.03 ms (profile in
docs/benchmarks/serve.md). :class:`NgramRows` keeps scikit-learn's analysers, vocabulary and idf
weights and repeats its arithmetic step for step in NumPy (the same float32 and float64
operations in the same order), so its rows are bit for bit the vectorisers' rows; the server
checks that at start on probe texts and keeps scikit-learn's path if they ever differ.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer

from train.ngrams import NgramFeatures

log = logging.getLogger(__name__)

# The vectoriser settings whose arithmetic :class:`_Block` repeats (train.ngrams fits these).
MIRRORED = {
    "binary": False,
    "use_idf": True,
    "sublinear_tf": True,
    "norm": "l2",
    "dtype": np.float32,
}


class _Block:
    """One fitted vectoriser's columns: its analyser, vocabulary, idf and place in the row."""

    def __init__(self, vectoriser: TfidfVectorizer, offset: int) -> None:
        self.analyse: Callable[[str], list[str]] = vectoriser.build_analyzer()
        self.vocabulary: dict[str, int] = vectoriser.vocabulary_
        self.idf: np.ndarray = vectoriser.idf_
        self.offset = offset

    def fill(self, texts: Sequence[str], rows: np.ndarray) -> None:
        """Write this block's TF-IDF values of ``texts`` into ``rows`` (texts x features).

        The steps of ``TfidfVectorizer.transform``: term counts per text in column order (the
        CSR matrix after ``sort_indices``, every text's entries in one float32 array), then
        ``log(count) + 1``, times the idf (float64, rounded to float32), then each text's
        entries divided by the square root of their float32 squares summed one after the
        other in float64 (scikit-learn's ``inplace_csr_row_normalize_l2``).
        """
        columns: list[int] = []
        counts: list[int] = []
        bounds = [0]
        for text in texts:
            counter: dict[int, int] = {}
            for term in self.analyse(text):
                column = self.vocabulary.get(term)
                if column is not None:
                    counter[column] = counter.get(column, 0) + 1
            for column in sorted(counter):
                columns.append(column)
                counts.append(counter[column])
            bounds.append(len(columns))
        if not columns:
            return
        index = np.asarray(columns, dtype=np.intp)
        data = np.asarray(counts, dtype=np.float32)
        np.log(data, out=data)
        data += 1.0
        data *= self.idf[index]
        for row, (start, end) in enumerate(itertools.pairwise(bounds)):
            if start == end:
                continue
            values = data[start:end]
            squares = values * values
            norm = np.sqrt(np.cumsum(squares, dtype=np.float64)[-1])
            if norm == 0.0:  # as scikit-learn: a row of zeros stays as it is
                continue
            rows[row, self.offset + index[start:end]] = values.astype(np.float64) / norm


class NgramRows:
    """Stands in for a :class:`train.ngrams.NgramFeatures` in the server's predictor: the same
    ``transform`` (dense float32 rows), the same ``dim``."""

    def __init__(self, features: NgramFeatures) -> None:
        self.features = features
        self.dim = features.dim
        self._blocks = []
        offset = 0
        for vectoriser in features.vectorisers.values():
            self._blocks.append(_Block(vectoriser, offset))
            offset += len(vectoriser.vocabulary_)

    def transform(self, texts: Sequence[str]) -> torch.Tensor:
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for block in self._blocks:
            block.fill(texts, rows)
        return torch.from_numpy(rows)


def fast_ngrams(features: NgramFeatures) -> NgramFeatures | NgramRows:
    """:class:`NgramRows` for ``features`` when its rows equal scikit-learn's on probe texts
    (each vocabulary's own terms, one at a time and together), else ``features`` itself."""
    for vectoriser in features.vectorisers.values():
        settings = {name: vectoriser.get_params()[name] for name in MIRRORED}
        if settings != MIRRORED:
            log.warning("n-gram settings %s: serving them through scikit-learn", settings)
            return features
    rows = NgramRows(features)
    probes = probe_texts(features)
    if not torch.equal(rows.transform(probes), features.transform(probes)):
        log.warning("the fast n-gram rows differ from scikit-learn's: serving scikit-learn's")
        return features
    return rows


def probe_texts(features: NgramFeatures, count: int = 64) -> list[str]:
    """Texts made of the vocabularies' terms (so every step runs on real columns): single
    terms, repeated terms, terms joined into longer texts, and the empty text."""
    terms = sorted(term for v in features.vectorisers.values() for term in v.vocabulary_)
    picked = terms[:: max(1, len(terms) // count)][:count]
    joined = [" ".join(picked[i : i + 7]) for i in range(0, len(picked), 7)]
    return ["", *picked, *(f"{term} {term} {term}" for term in picked[:8]), *joined]
