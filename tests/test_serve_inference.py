"""CPU tuning keeps the answers: top-k equal to fp32 on the test split, and it serves."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from serve_support import build_app, image_bytes, tiny_dataset, tiny_predictor

from serve.inference import (
    Tuning,
    configure_threads,
    cpu_has_native_bf16,
    resolve_bf16,
    top_k_agreement,
    tuned_predictor,
)

ALL_ON = Tuning(quantize=True, channels_last=True, bf16_images=True)


@pytest.fixture(scope="module")
def predictor():
    return tiny_predictor("both")


@pytest.fixture(scope="module")
def test_split():
    frame = pd.read_parquet(tiny_dataset() / "test.parquet")
    images = [Image.open(tiny_dataset() / path).convert("RGB") for path in frame["image"]]
    return list(frame["text"]), images


@pytest.mark.parametrize(
    "tuning",
    [
        Tuning(quantize=True, channels_last=False, bf16_images=False),
        Tuning(quantize=False, channels_last=True, bf16_images=False),
        Tuning(quantize=False, channels_last=False, bf16_images=True),
        ALL_ON,
    ],
    ids=["int8-text", "channels-last", "bf16-images", "all"],
)
def test_tuning_keeps_top_k_identical_on_the_test_split(predictor, test_split, tuning):
    texts, images = test_split
    tuned = tuned_predictor(predictor, tuning)
    for k in (1, 3, 5, 10):
        assert top_k_agreement(predictor, tuned, texts, images, k) == 1.0


def test_tuning_leaves_the_original_model_untouched(predictor):
    tuned = tuned_predictor(predictor, ALL_ON)
    assert tuned.model is not predictor.model
    assert all(p.dtype == torch.float32 for p in predictor.model.parameters())
    assert tuned_predictor(predictor, Tuning(False, False, False)) is predictor


def test_tuned_predictor_serves_every_modality():
    for modality in ("text", "image", "both"):
        tuned = tuned_predictor(tiny_predictor(modality), ALL_ON)
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
