"""CPU tuning keeps the answers: top-k equal to fp32 on the test split, and it serves."""

from __future__ import annotations

import copy
import logging
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from runtime.errors import PipelineError
from serve import cpu_tuning, onnx_backend
from serve.cpu_tuning import (
    Tuning,
    configure_threads,
    cpu_has_native_bf16,
    load_tuned,
    resolve_bf16,
    tuned_predictor,
    tuning_for,
)
from serve.onnx_backend import OnnxModel, OnnxUnavailable
from serve.settings import ServeSettings
from train.predictor import Predictor

ALL_ON = Tuning(quantize=True, channels_last=True, bf16_images=True)
ONNX = Tuning(quantize=False, channels_last=False, bf16_images=False, onnxruntime=True)


@pytest.fixture(scope="module")
def predictor(tiny_predictor):
    return tiny_predictor("both")


@pytest.fixture(scope="module")
def test_split(tiny_dataset):
    frame = pd.read_parquet(tiny_dataset / "test.parquet")
    images = [Image.open(tiny_dataset / path).convert("RGB") for path in frame["image"]]
    return list(frame["text"]), images


@pytest.mark.parametrize(
    "tuning",
    [
        Tuning(quantize=True, channels_last=False, bf16_images=False),
        Tuning(quantize=False, channels_last=True, bf16_images=False),
        Tuning(quantize=False, channels_last=False, bf16_images=True),
        ALL_ON,
        ONNX,
    ],
    ids=["int8-text", "channels-last", "bf16-images", "all", "onnxruntime"],
)
def test_tuning_keeps_top_k_identical_on_the_test_split(
    predictor, test_split, tuning, top_k_agreement
):
    texts, images = test_split
    tuned = tuned_predictor(predictor, tuning)
    for k in (1, 3, 5, 10):
        assert top_k_agreement(predictor, tuned, texts, images, k) == 1.0


def test_tuning_leaves_the_original_model_untouched(predictor):
    tuned = tuned_predictor(predictor, ALL_ON)
    assert tuned.model is not predictor.model
    assert all(p.dtype == torch.float32 for p in predictor.model.parameters())
    assert tuned_predictor(predictor, Tuning(False, False, False)) is predictor


@pytest.mark.parametrize("tuning", [ALL_ON, ONNX], ids=["torch-all", "onnxruntime"])
def test_tuned_predictor_serves_every_modality(build_app, image_bytes, tiny_predictor, tuning):
    for modality in ("text", "image", "both"):
        tuned = tuned_predictor(tiny_predictor(modality), tuning)
        with TestClient(build_app(tuned)) as client:
            response = client.post(
                "/predict",
                data={"text": "word1 friends"},
                files={"image": ("a.jpg", image_bytes(), "image/jpeg")},
                headers={"Accept": "application/json"},
            )
        assert response.status_code == 200, response.text


def test_bf16_auto_follows_the_cpu_flags(tmp_path):
    with_bf16 = tmp_path / "cpuinfo-bf16"
    with_bf16.write_text("flags\t\t: fpu avx2 avx512f avx512_bf16\n")
    without = tmp_path / "cpuinfo-plain"
    without.write_text("flags\t\t: fpu avx2\n")
    assert cpu_has_native_bf16(with_bf16) and not cpu_has_native_bf16(without)
    assert not cpu_has_native_bf16(tmp_path / "missing")
    assert resolve_bf16("on", "cpu") and not resolve_bf16("off", "cpu")
    assert not resolve_bf16("auto", "cuda")


def test_configure_threads_defaults_to_one_per_core():
    before = torch.get_num_threads()
    try:
        assert configure_threads(0) == torch.get_num_threads() >= 1
        assert configure_threads(1) == torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_onnx_graph_takes_any_batch_size_and_caption_length(predictor, test_split):
    texts, images = test_split
    tuned = tuned_predictor(predictor, ONNX)
    for size, length in ((1, 1), (1, 32), (3, 7), (len(texts), 32)):
        expected = predictor.scores(texts[:size], images[:size], max_seq_len=length)
        got = tuned.scores(texts[:size], images[:size], max_seq_len=length)
        assert got.shape == expected.shape
        assert abs(got - expected).max() < 1e-4


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (ServeSettings(), ONNX),
        (ServeSettings(engine="torch"), Tuning(False, True, False, False)),
        (ServeSettings(quantize=True), Tuning(True, True, False, False)),
        (ServeSettings(bf16_images="on"), Tuning(False, True, True, False)),
        (ServeSettings(device="cuda"), Tuning(False, True, False, False)),
        (ServeSettings(engine="onnxruntime", channels_last=True), ONNX),
    ],
    ids=["default", "torch", "int8-means-torch", "bf16-means-torch", "gpu", "explicit"],
)
def test_engine_auto_picks_onnxruntime_on_cpu_only_without_torch_options(settings, expected):
    assert tuning_for(settings) == expected


def test_bf16_auto_means_off_under_an_explicit_onnxruntime(monkeypatch):
    """On a CPU with bf16 instructions (faked: this machine has none), ``auto`` turns bf16 on
    and so picks PyTorch, unless ONNX Runtime was asked for: then it is off, not a conflict."""
    monkeypatch.setattr(cpu_tuning, "cpu_has_native_bf16", lambda: True)
    assert tuning_for(ServeSettings(bf16_images="auto")) == Tuning(False, True, True, False)
    assert tuning_for(ServeSettings(engine="onnxruntime", bf16_images="auto")) == ONNX


def checkpoint_copy(tiny_checkpoint, tmp_path: Path) -> Path:
    """The tiny checkpoint without an ONNX graph kept by an earlier test."""
    source = tiny_checkpoint("both")
    return Path(shutil.copytree(source, tmp_path / "run", ignore=shutil.ignore_patterns("onnx")))


def broken_export(model, image_size):
    raise RuntimeError("unsupported operator aten::frobnicate\nmore detail")


def test_auto_engine_falls_back_to_torch_when_the_export_fails(
    tiny_checkpoint, tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr(onnx_backend, "export_onnx", broken_export)
    checkpoint = str(checkpoint_copy(tiny_checkpoint, tmp_path))
    predictor, tuning = load_tuned(ServeSettings(checkpoint=checkpoint))
    assert not tuning.onnxruntime and tuning.channels_last
    assert isinstance(predictor.model, torch.nn.Module)
    assert "serving with PyTorch: export to ONNX failed: unsupported operator" in caplog.text
    with pytest.raises(PipelineError, match="^engine onnxruntime: export to ONNX failed"):
        load_tuned(ServeSettings(checkpoint=checkpoint, engine="onnxruntime"))


def test_missing_onnxruntime_package_is_reported(monkeypatch, predictor):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes ``import onnxruntime`` fail
    with pytest.raises(OnnxUnavailable, match="onnxruntime is not installed"):
        OnnxModel(predictor.model, predictor.image_size, threads=1)


def test_a_graph_that_answers_differently_is_refused(monkeypatch, predictor):
    real_export = onnx_backend.export_onnx

    def export_of_another_model(model, image_size):
        other = copy.deepcopy(model)
        with torch.no_grad():
            other.classifier.bias += 1.0
        return real_export(other, image_size)

    monkeypatch.setattr(onnx_backend, "export_onnx", export_of_another_model)
    with pytest.raises(OnnxUnavailable, match="scores differ from PyTorch's by") as refused:
        OnnxModel(predictor.model, predictor.image_size, threads=1)
    assert float(str(refused.value).rsplit(" ", 1)[1]) > 0.01  # far beyond rounding (1e-7)


def test_the_onnx_graph_is_kept_in_the_checkpoint_and_reused(
    tiny_checkpoint, tmp_path, monkeypatch, test_split
):
    checkpoint = checkpoint_copy(tiny_checkpoint, tmp_path)
    predictor = Predictor.load(checkpoint)
    first = tuned_predictor(predictor, ONNX, checkpoint)
    (kept,) = (checkpoint / onnx_backend.GRAPH_DIR).iterdir()
    monkeypatch.setattr(onnx_backend, "export_onnx", broken_export)  # a second export would fail
    again = tuned_predictor(Predictor.load(checkpoint), ONNX, checkpoint)
    texts, images = test_split
    assert (again.scores(texts, images) == first.scores(texts, images)).all()
    assert list((checkpoint / onnx_backend.GRAPH_DIR).iterdir()) == [kept]


def test_other_weights_get_their_own_graph_and_replace_the_old_one(tiny_checkpoint, tmp_path):
    checkpoint = checkpoint_copy(tiny_checkpoint, tmp_path)
    predictor = Predictor.load(checkpoint)
    tuned_predictor(predictor, ONNX, checkpoint)
    (old,) = (checkpoint / onnx_backend.GRAPH_DIR).iterdir()
    with torch.no_grad():
        predictor.model.classifier.bias += 1.0
    tuned_predictor(predictor, ONNX, checkpoint)
    (new,) = (checkpoint / onnx_backend.GRAPH_DIR).iterdir()
    assert new.name != old.name


def test_a_damaged_kept_graph_is_exported_again(tiny_checkpoint, tmp_path, caplog):
    checkpoint = checkpoint_copy(tiny_checkpoint, tmp_path)
    predictor = Predictor.load(checkpoint)
    tuned_predictor(predictor, ONNX, checkpoint)
    (kept,) = (checkpoint / onnx_backend.GRAPH_DIR).iterdir()
    kept.write_bytes(b"not a graph")
    assert tuned_predictor(predictor, ONNX, checkpoint).model.session is not None
    assert "refused" in caplog.text and "exporting again" in caplog.text
    assert kept.read_bytes() != b"not a graph"


def test_a_checkpoint_folder_that_cannot_keep_the_graph_still_serves(
    tiny_checkpoint, tmp_path, caplog
):
    caplog.set_level(logging.INFO, logger=onnx_backend.__name__)
    checkpoint = checkpoint_copy(tiny_checkpoint, tmp_path)
    (checkpoint / onnx_backend.GRAPH_DIR).write_text("a file where the folder would go")
    predictor, tuning = load_tuned(ServeSettings(checkpoint=str(checkpoint)))
    assert tuning.onnxruntime and isinstance(predictor.model, OnnxModel)
    assert "ONNX graph not kept" in caplog.text
