"""A text-only dataset (``build --text-only``): train, evaluate, serve a ``--modality text`` model.

The tiny dataset has ``image`` null in every row and ``text_only`` in its manifest, as a
text-only build writes them.
"""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient

from train.cli import evaluate_main, train_main


@pytest.fixture(scope="module")
def text_run(make_tiny_dataset, make_tiny_checkpoint, tmp_path_factory):
    root = tmp_path_factory.mktemp("text-only")
    dataset = make_tiny_dataset(root / "ds", n_posts=40, n_labels=4, text_only=True)
    return dataset, make_tiny_checkpoint(dataset, root / "run", epochs=1, modality="text")


def one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    return lines[0]


def test_text_model_trains_and_evaluates(text_run, capsys):
    dataset, run = text_run
    assert json.loads((run / "config.json").read_text())["model"]["modality"] == "text"
    assert (run / "report.html").is_file()
    assert evaluate_main(["--checkpoint", str(run), "--dataset", str(dataset), "--quiet"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["test", "run", "popularity"]
    assert "test" in json.loads((run / "metrics.json").read_text())


@pytest.mark.parametrize("modality", ["image", "both"])
def test_image_modalities_are_refused_before_work(text_run, tmp_path, capsys, modality):
    dataset, _ = text_run
    out = tmp_path / "run"
    argv = ["--dataset", str(dataset), "--out", str(out), "--modality", modality]
    assert train_main([*argv, "--init", "random", "--quiet"]) == 2
    line = one_error_line(capsys)
    assert "text-only dataset" in line and "--modality text" in line
    assert not out.exists()


def test_a_both_checkpoint_is_not_scored_on_a_text_only_dataset(
    text_run, make_tiny_dataset, make_tiny_checkpoint, tmp_path, capsys
):
    dataset, _ = text_run
    pictures = make_tiny_dataset(tmp_path / "pictures", n_posts=40, n_labels=4)
    both = make_tiny_checkpoint(pictures, tmp_path / "both", epochs=1)
    assert evaluate_main(["--checkpoint", str(both), "--dataset", str(dataset), "--quiet"]) == 2
    assert "text-only dataset" in one_error_line(capsys)


def test_served_text_model_answers_captions_and_ignores_images(text_run, build_app, image_bytes):
    from train.predictor import Predictor

    _, run = text_run
    app = build_app(Predictor.load(run))
    picture = base64.b64encode(image_bytes()).decode("ascii")
    picture_file = ("red.jpg", image_bytes(), "image/jpeg")
    with TestClient(app) as client:
        plain = client.post("/api/predict", json={"text": "word0 word1 hello"})
        with_image = client.post(
            "/api/predict", json={"text": "word0 word1 hello", "image_base64": picture}
        )
        page = client.post("/predict", data={"text": "word0 hello"}, files={"image": picture_file})
    assert plain.status_code == 200 and plain.json()["hashtags"]
    assert plain.json()["notes"] == []
    assert with_image.status_code == 200
    assert with_image.json()["hashtags"] == plain.json()["hashtags"]
    assert any("image was ignored" in note for note in with_image.json()["notes"])
    assert page.status_code == 200 and "image was ignored" in page.text
