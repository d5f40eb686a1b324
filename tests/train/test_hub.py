"""Run folders load the Hugging Face way, record no absolute path, and still serve when moved."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from serve.app import create_app
from serve.cpu_tuning import load_tuned
from serve.settings import ServeSettings
from train.cli import evaluate_main
from train.model import HashtagModel
from train.predictor import Predictor

CAPTIONS = ["word1 with friends #topic1 @sam", "word2 so nice 🌅 https://x.example/y"]
NO_IMAGES = [None] * len(CAPTIONS)


@pytest.fixture(scope="module")
def moved(make_tiny_checkpoint, make_tiny_dataset, tmp_path_factory):
    """A dataset and a run trained beside it, then both moved to another folder together."""
    first = tmp_path_factory.mktemp("first")
    dataset = make_tiny_dataset(first / "project" / "dataset", n_posts=40, n_labels=5)
    make_tiny_checkpoint(dataset, first / "project" / "runs" / "tiny-both", epochs=1)
    second = tmp_path_factory.mktemp("second")
    shutil.move(first / "project", second / "project")
    return first, second / "project" / "runs" / "tiny-both"


def test_nothing_in_the_run_folder_records_an_absolute_path(moved):
    first, run = moved
    for path in run.rglob("*"):
        if path.is_file():
            assert str(first).encode() not in path.read_bytes(), path
    train = json.loads((run / "config.json").read_text())["train"]
    assert train["dataset"] == "../../dataset"


def test_moved_run_loads_with_one_call_and_evaluates_on_its_moved_dataset(moved, capsys):
    _, run = moved
    predictor = Predictor.from_pretrained(run)
    assert predictor.name == "tiny-both" and len(predictor.labels) == 5
    model = HashtagModel.from_pretrained(str(run))
    assert not model.training
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, predictor.model.state_dict()[name]), name
    assert evaluate_main(["--checkpoint", str(run), "--quiet"]) == 0
    assert "tiny-both" in capsys.readouterr().out


def test_moved_run_serves(moved):
    _, run = moved
    predictor, _ = load_tuned(ServeSettings(checkpoint=str(run)))
    with TestClient(create_app(ServeSettings(), predictor)) as client:
        response = client.get(
            "/predict", params={"text": "word1 today"}, headers={"Accept": "application/json"}
        )
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "tiny-both"


def test_predict_takes_raw_captions_and_makes_model_text_itself(moved):
    _, run = moved
    predictor = Predictor.from_pretrained(run)
    raw = predictor.predict(CAPTIONS, NO_IMAGES, top_k=5)
    model_texts = [predictor.model_text(caption) for caption in CAPTIONS]
    assert model_texts[0] == "word1 with friends"  # no hashtag or mention reaches the model
    scores = predictor.scores(model_texts, NO_IMAGES)
    for row, tags in zip(scores, raw, strict=True):
        assert [tag for tag, _ in tags] == [predictor.labels[j] for j in np.argsort(-row)[:5]]


def test_save_pretrained_folder_loads_serves_and_is_push_ready(moved, tmp_path):
    _, run = moved
    predictor = Predictor.from_pretrained(run)
    saved = tmp_path / "hf"
    predictor.save_pretrained(saved)
    names = {path.name for path in saved.iterdir()}
    assert {"config.json", "model.safetensors", "labels.txt", "tokenizer", "README.md"} <= names
    assert "hashtag-prediction" in (saved / "README.md").read_text()  # the Hub model card
    dataset = json.loads((saved / "config.json").read_text())["train"]["dataset"]
    assert (saved / dataset).resolve() == (run / "../../dataset").resolve()  # re-based
    again = Predictor.from_pretrained(saved)
    assert again.name == "tiny-both"  # the run's name, not the folder's
    expected = predictor.scores(["word1 today"], [None])
    np.testing.assert_allclose(again.scores(["word1 today"], [None]), expected, atol=1e-6)
    served, _ = load_tuned(ServeSettings(checkpoint=str(saved), engine="torch"))
    assert served.predict(["word1 today"], [None], top_k=1)[0][0][0] in predictor.labels
    assert callable(again.push_to_hub)


def test_hashtag_model_save_pretrained_round_trip(moved, tmp_path):
    _, run = moved
    model = HashtagModel.from_pretrained(str(run))
    model.save_pretrained(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert set(config) == {"model"} and config["model"]["num_labels"] == 5
    again = HashtagModel.from_pretrained(str(tmp_path / "model"))
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name
