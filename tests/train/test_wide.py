"""The wide part (TF-IDF n-grams -> linear, added to the logits): vectorisers saved without
pickle, a tiny wide & deep run, checkpoint round trip, predictor and ONNX agreement."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from runtime.errors import UsageError
from serve.onnx_backend import OnnxModel
from train.data import load_dataset
from train.model import HashtagModel
from train.ngrams import IDF_FILE, NGRAMS_DIR, VOCABULARY_FILE, NgramFeatures
from train.predictor import Predictor, load_release, save_release


@pytest.fixture(scope="module")
def dataset(make_tiny_dataset, tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "ds", n_posts=60, n_labels=4)


@pytest.fixture(scope="module")
def run(make_tiny_checkpoint, dataset, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    return make_tiny_checkpoint(dataset, runs / "wide", ngram_features=500, wide_lr=0.05)


@pytest.fixture(scope="module")
def captions(dataset):
    _, frames = load_dataset(dataset)
    return frames["test"]["text"].tolist()


def test_vectorisers_round_trip_through_json_and_safetensors(captions, tmp_path):
    fitted = NgramFeatures.fit(captions, max_features=50)
    fitted.save(tmp_path)
    vocabulary = json.loads((tmp_path / NGRAMS_DIR / VOCABULARY_FILE).read_text())
    assert set(vocabulary) == {"word", "char"} and len(vocabulary["char"]) <= 50
    assert set(load_file(str(tmp_path / NGRAMS_DIR / IDF_FILE))) == {"word", "char"}
    loaded = NgramFeatures.load(tmp_path)
    assert loaded.dim == fitted.dim
    assert torch.equal(loaded.transform(captions), fitted.transform(captions))


def test_captions_without_any_ngram_still_fit():
    features = NgramFeatures.fit(["", ""], max_features=10)
    assert features.transform(["anything"]).abs().sum() == 0


def test_damaged_vocabulary_is_a_usage_error(captions, tmp_path):
    NgramFeatures.fit(captions, max_features=20).save(tmp_path)
    (tmp_path / NGRAMS_DIR / VOCABULARY_FILE).write_text("{not json")
    with pytest.raises(UsageError, match="cannot read the n-gram vocabulary"):
        NgramFeatures.load(tmp_path)


def test_wide_part_starts_at_zero_and_adds_to_the_logits(run):
    model, *_ = load_release(run)
    fresh = HashtagModel(4, model.text_encoder, None, wide_dim=model.wide.in_features)
    assert fresh.wide.weight.abs().sum() == 0
    assert model.wide.weight.abs().sum() > 0  # trained
    inputs = {
        "input_ids": torch.tensor([[2, 7, 9, 3]]),
        "attention_mask": torch.ones(1, 4, dtype=torch.long),
        "pixels": torch.zeros(1, 3, 32, 32),
    }
    ngrams = torch.rand(1, model.wide.in_features)
    with torch.inference_mode():
        difference = model(**inputs, ngrams=ngrams) - model(
            **inputs, ngrams=torch.zeros_like(ngrams)
        )
    assert torch.allclose(difference, model.wide(ngrams), atol=1e-5)


def test_run_saves_the_ngrams_and_round_trips(run, captions, tmp_path):
    config = json.loads((run / "config.json").read_text())
    model, config, labels, tokenizer = load_release(run)
    assert config["model"]["wide_dim"] == model.ngrams.dim > 0
    save_release(tmp_path, model, config, labels, tokenizer)
    first, again = Predictor.load(run), Predictor.load(tmp_path)
    assert np.array_equal(
        first.scores(captions, [None] * len(captions)),
        again.scores(captions, [None] * len(captions)),
    )


def test_predictor_feeds_the_ngrams(run, captions):
    predictor = Predictor.load(run)
    with_words = predictor.scores(captions[:4], [None] * 4)
    model = predictor.model
    inputs = predictor.encode_texts(captions[:4], predictor.max_seq_len)
    with torch.inference_mode():
        deep_only = torch.sigmoid(
            model(
                **inputs,
                pixels=torch.zeros(4, 3, 32, 32),
                ngrams=torch.zeros(4, model.wide.in_features),
            )
        )
    assert not np.allclose(with_words, deep_only.numpy())


def test_onnx_graph_agrees_with_torch(run, captions):
    predictor = Predictor.load(run)
    onnx = OnnxModel(predictor.model, predictor.image_size, threads=1)
    assert onnx.input_names[-1] == "ngrams"
    texts = captions[:5]
    expected = predictor.scores(texts, [None] * len(texts))
    predictor.model = onnx
    assert np.abs(predictor.scores(texts, [None] * len(texts)) - expected).max() < 1e-4


def test_mismatched_vocabulary_is_refused(run, tmp_path):
    model, config, labels, tokenizer = load_release(run)
    save_release(tmp_path, model, config, labels, tokenizer)
    NgramFeatures.fit(["one two", "three four"], max_features=5).save(tmp_path)
    with pytest.raises(UsageError, match="n-gram vocabulary has"):
        load_release(tmp_path)


def test_checkpoint_without_its_ngrams_is_refused_up_front(run, tmp_path):
    from runtime.checkpoint_check import check_checkpoint

    model, config, labels, tokenizer = load_release(run)
    save_release(tmp_path, model, config, labels, tokenizer)
    (tmp_path / NGRAMS_DIR / IDF_FILE).unlink()
    with pytest.raises(UsageError, match=r"ngrams/idf.safetensors is missing"):
        check_checkpoint(tmp_path)
