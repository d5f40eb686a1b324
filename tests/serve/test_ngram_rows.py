"""The server's n-gram rows are scikit-learn's, bit for bit, or scikit-learn's path is kept."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from runtime.model_text import model_text
from serve.cpu_tuning import load_tuned
from serve.ngram_rows import NgramRows, fast_ngrams
from serve.settings import ServeSettings
from train.data import load_dataset
from train.ngrams import NgramFeatures
from train.predictor import Predictor

REALDEV_POSTS = Path(__file__).resolve().parents[3] / "shared" / "realdev" / "posts.jsonl"


@pytest.fixture(scope="module")
def captions(tiny_dataset) -> list[str]:
    _, frames = load_dataset(tiny_dataset)
    return [text for frame in frames.values() for text in frame["text"].tolist()]


def test_rows_equal_scikit_learns_one_at_a_time_and_in_batches(captions):
    features = NgramFeatures.fit(captions, max_features=300)
    rows = NgramRows(features)
    texts = [*captions, "", "word0 word0 word0", "???", "UPPER lower Mixed"]
    for text in texts:
        assert torch.equal(rows.transform([text]), features.transform([text]))
    for start in range(0, len(texts), 7):
        batch = texts[start : start + 7]
        assert torch.equal(rows.transform(batch), features.transform(batch))
    assert rows.transform([]).shape == (0, features.dim)


@pytest.mark.skipif(not REALDEV_POSTS.is_file(), reason="no real captions in ../shared/realdev")
def test_rows_equal_scikit_learns_on_real_captions():
    lines = REALDEV_POSTS.read_text("utf-8").split("\n")  # not splitlines: captions hold U+2028
    texts = [model_text(json.loads(line)["caption"], False) for line in lines if line]
    features = NgramFeatures.fit(texts[::2], max_features=5000)  # half, as a train split
    rows = NgramRows(features)
    for start in range(0, len(texts), 500):
        batch = texts[start : start + 500]
        assert torch.equal(rows.transform(batch), features.transform(batch))
    for text in texts[1:2000:7]:  # one caption per call, as a request sends it
        assert torch.equal(rows.transform([text]), features.transform([text]))


def test_other_vectoriser_settings_keep_scikit_learns_path(captions, caplog):
    features = NgramFeatures.fit(captions, max_features=100)
    features.vectorisers["word"].set_params(norm="l1")
    assert fast_ngrams(features) is features
    assert "serving them through scikit-learn" in caplog.text


class _Shifted(NgramFeatures):
    """Vectorisers whose rows are not what NgramRows computes from them (a changed library)."""

    def transform(self, texts):
        return super().transform(texts) * np.float32(1.0 + 1e-6)


def test_rows_that_differ_on_the_probes_keep_scikit_learns_path(captions, caplog):
    features = _Shifted(NgramFeatures.fit(captions, max_features=100).vectorisers)
    assert fast_ngrams(features) is features
    assert "differ from scikit-learn's" in caplog.text


@pytest.fixture(scope="module")
def wide_checkpoint(make_tiny_checkpoint, tiny_dataset, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("wide") / "run"
    return make_tiny_checkpoint(
        tiny_dataset, run, ngram_features=300, text_mode="frozen", loss="softmax"
    )


def test_the_server_predictor_uses_the_rows_and_answers_the_same(wide_checkpoint, captions):
    served, _ = load_tuned(ServeSettings(checkpoint=str(wide_checkpoint), engine="torch"))
    reference = Predictor.load(wide_checkpoint)
    assert isinstance(served.ngrams, NgramRows)
    assert isinstance(reference.ngrams, NgramFeatures)
    assert np.array_equal(
        served.scores(captions, [None] * len(captions)),
        reference.scores(captions, [None] * len(captions)),
    )
