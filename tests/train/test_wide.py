"""The wide part (the TF-IDF + logistic regression fit, frozen, its logits summed with the
head's): vectorisers saved without pickle, the fit a run shares with its report, a tiny wide &
deep run with a frozen text encoder, the sum and its start at the fit, older blended checkpoints,
checkpoint round trip, resume, predictor and ONNX agreement."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from runtime.errors import UsageError
from serve.onnx_backend import OnnxModel
from train.baselines import MAX_FEATURES, TrainSplitFits, fit_tfidf
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
    return make_tiny_checkpoint(dataset, runs / "wide", ngram_features=500, text_mode="frozen")


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


def _head_and_wide(predictor, captions):
    """The head's logits (the model's with every n-gram at zero, less the wide bias) and the
    wide part's, of ``captions`` without pictures."""
    model = predictor.model
    inputs = predictor.encode_texts(captions, predictor.max_seq_len)
    pixels = torch.zeros(len(captions), 3, 32, 32)
    empty = torch.zeros(len(captions), model.wide.in_features)
    with torch.inference_mode():
        head = model(**inputs, pixels=pixels, ngrams=empty) - model.wide.bias
        wide = model.wide(model.ngrams.transform(captions))
    return head, wide


def test_scores_are_the_sigmoid_of_wide_plus_head_logits(run, captions):
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["wide_mode"] == "logits"
    predictor = Predictor.load(run)
    head, wide = _head_and_wide(predictor, captions)
    assert head.abs().max() > 0  # training moved the head off its start
    expected = torch.sigmoid(wide + head).numpy()
    assert np.allclose(predictor.scores(captions, [None] * len(captions)), expected, atol=1e-5)


def test_a_new_model_starts_as_the_tfidf_fit(run, dataset, captions):
    predictor = Predictor.load(run)
    predictor.model.start_at_wide()  # what train.build does before the first step
    labels, frames = load_dataset(dataset)
    train = frames["train"]
    targets = multi_hot(train["labels"].tolist(), len(labels)).numpy()
    baseline = fit_tfidf(train["text"].tolist(), targets, max_features=500)
    scores = predictor.scores(captions, [None] * len(captions))
    assert np.allclose(scores, baseline.scores(captions), atol=1e-5)


def test_wide_logits_from_sparse_rows_match_the_dense_part(run, captions):
    model = Predictor.load(run).model
    with torch.inference_mode():
        dense = model.wide(model.ngrams.transform(captions))
    assert torch.allclose(model.wide_logits_of(captions), dense, atol=1e-5)


def test_an_older_blended_checkpoint_scores_as_its_blend(run, captions, tmp_path):
    """Runs from before the sum (no ``wide_mode`` in the record) load as they were trained:
    ``alpha * sigmoid(wide) + (1 - alpha) * softmax(head)``."""
    old = tmp_path / "old"
    shutil.copytree(run, old)
    config = json.loads((old / "config.json").read_text())
    del config["model"]["wide_mode"]
    config["model"] |= {"blend_alpha": 0.3, "loss": "softmax"}
    (old / "config.json").write_text(json.dumps(config))
    predictor = Predictor.load(old)
    assert predictor.model.wide_mode == "blend"
    predictor.model.wide_mode = "logits"  # to read its two parts apart
    head, wide = _head_and_wide(predictor, captions)
    predictor.model.wide_mode = "blend"
    blend = 0.3 * torch.sigmoid(wide) + 0.7 * torch.softmax(head, 1)
    scores = predictor.scores(captions, [None] * len(captions))
    assert np.allclose(scores, blend.numpy(), atol=1e-5)
    predictor.model = OnnxModel(predictor.model, predictor.image_size, threads=1)  # as served
    assert np.abs(predictor.scores(captions, [None] * len(captions)) - scores).max() < 1e-4


def test_an_older_blended_run_is_not_resumed(run, dataset, tiny_config, tmp_path):
    from train.loop import train

    old = tmp_path / "old"
    shutil.copytree(run, old)
    config = json.loads((old / "config.json").read_text())
    config["model"]["wide_mode"] = "blend"
    (old / "config.json").write_text(json.dumps(config))
    settings = TrainSettings.model_validate(tiny_config(ngram_features=500, text_mode="frozen"))
    with pytest.raises(UsageError, match="cannot be resumed: start a new run"):
        train(settings, dataset, old, resume=True, progress=False)
    assert json.loads((old / "config.json").read_text()) == config  # left as it was


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

    settings = {"ngram_features": 500, "text_mode": "frozen"}
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
