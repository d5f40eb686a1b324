"""The wide part (the TF-IDF + logistic regression fit, frozen, blended with the deep part):
vectorisers saved without pickle, a tiny wide & deep run with a frozen text encoder, the blend
weight chosen on val and saved, checkpoint round trip, resume, predictor and ONNX agreement."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from runtime.errors import UsageError
from serve.onnx_backend import OnnxModel
from train.baselines import fit_tfidf
from train.blend import BLEND_GRID
from train.data import load_dataset, multi_hot
from train.ngrams import IDF_FILE, NGRAMS_DIR, VOCABULARY_FILE, NgramFeatures
from train.predictor import Predictor, load_release, save_release
from train.settings import TrainSettings


@pytest.fixture(scope="module")
def dataset(make_tiny_dataset, tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "ds", n_posts=60, n_labels=4)


@pytest.fixture(scope="module")
def run(make_tiny_checkpoint, dataset, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    return make_tiny_checkpoint(
        dataset, runs / "wide", ngram_features=500, text_mode="frozen", loss="softmax"
    )


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


def test_wide_part_is_the_frozen_logistic_regression_fit(run, dataset):
    model, config, labels, _ = load_release(run)
    _, frames = load_dataset(dataset)
    train = frames["train"]
    targets = multi_hot(train["labels"].tolist(), len(labels)).numpy()
    baseline = fit_tfidf(train["text"].tolist(), targets, max_features=500)
    weights, biases = baseline.linear()
    assert not model.wide.weight.requires_grad  # never trained: exactly the convex fit
    assert np.array_equal(model.wide.weight.numpy(), weights)
    assert np.array_equal(model.wide.bias.numpy(), biases)
    texts = frames["test"]["text"].tolist()
    with torch.inference_mode():
        wide = torch.sigmoid(model.wide(model.ngrams.transform(texts))).numpy()
    assert np.allclose(wide, baseline.scores(texts), atol=1e-5)


def test_blend_weight_is_chosen_on_val_and_saved(run):
    config = json.loads((run / "config.json").read_text())
    alpha = config["model"]["blend_alpha"]
    events = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    (blend,) = [event for event in events if event["event"] == "blend"]
    assert blend["alpha"] == alpha and np.isclose(BLEND_GRID, alpha).any()
    means = [values["mean"] for values in blend["val"].values()]
    assert blend["val"][f"{alpha:g}"]["mean"] == max(means)
    assert Predictor.load(run).model.blend_alpha == alpha


def test_scores_are_the_blend_of_wide_and_deep_probabilities(run, captions):
    predictor = Predictor.load(run)
    model = predictor.model
    blended = predictor.scores(captions, [None] * len(captions))
    inputs = predictor.encode_texts(captions, predictor.max_seq_len)
    pixels = torch.zeros(len(captions), 3, 32, 32)
    with torch.inference_mode():
        deep = torch.softmax(model(**inputs, pixels=pixels, deep_only=True), 1)
        wide = torch.sigmoid(model.wide(model.ngrams.transform(captions)))
    alpha = model.blend_alpha
    assert np.allclose(blended, (alpha * wide + (1 - alpha) * deep).numpy(), atol=1e-5)


def test_text_features_are_cached_once_and_reused(run, dataset, make_tiny_checkpoint, tmp_path):
    again = make_tiny_checkpoint(
        dataset,
        tmp_path / "again",
        ngram_features=500,
        text_mode="frozen",
        epochs=1,
        feature_cache=str(run.parent / "feature-cache"),
    )
    events = [json.loads(line) for line in (again / "train_log.jsonl").read_text().splitlines()]
    (cached,) = [event for event in events if event["event"] == "text_cache"]
    assert cached["misses"] == 0 and cached["hits"] > 0


def test_resumed_run_ends_as_an_uninterrupted_one(
    run, dataset, make_tiny_checkpoint, tiny_config, tmp_path
):
    from train.loop import train

    settings = {"ngram_features": 500, "text_mode": "frozen", "loss": "softmax"}
    cache = str(run.parent / "feature-cache")
    half = make_tiny_checkpoint(
        dataset, tmp_path / "half", stop_after_epochs=2, feature_cache=cache, **settings
    )
    resumed_settings = TrainSettings.model_validate(tiny_config(feature_cache=cache, **settings))
    train(resumed_settings, dataset, half, resume=True, progress=False)
    resumed, _, _, _ = load_release(half)
    whole, _, _, _ = load_release(run)
    for name, tensor in whole.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name
    assert resumed.blend_alpha == whole.blend_alpha


def test_run_saves_the_ngrams_and_round_trips(run, captions, tmp_path):
    model, config, labels, tokenizer = load_release(run)
    assert config.model.wide_dim == model.ngrams.dim > 0
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
        without = torch.sigmoid(
            model(
                **inputs,
                pixels=torch.zeros(4, 3, 32, 32),
                ngrams=torch.zeros(4, model.wide.in_features),
            )
        )
    assert not np.allclose(with_words, without.numpy())


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
