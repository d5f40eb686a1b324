"""``--image-encoder``: each torchvision backbone loads torchvision's weights, trains, saves,
reloads and serves (PyTorch and ONNX Runtime) with its own preprocessing from the checkpoint."""

from __future__ import annotations

import json

import pytest
import torch
import torchvision
from fastapi.testclient import TestClient

from runtime.errors import UsageError
from serve.cpu_tuning import Tuning, tuned_predictor
from train.encoders import image_backbone, image_input, load_backbone_weights
from train.predictor import Predictor

ENCODERS = {  # name: (feature length, resampling of its ImageNet weights)
    "vgg16": (512 * 7 * 7, "bilinear"),
    "resnet50": (2048, "bilinear"),
    "efficientnet_b0": (1280, "bicubic"),
}
ONNX = Tuning(quantize=False, channels_last=False, onnxruntime=True)


@pytest.fixture(scope="module")
def dataset(make_tiny_dataset, tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "ds", n_posts=24)


@pytest.mark.parametrize("name", ["resnet50", "efficientnet_b0"])
def test_backbone_is_the_torchvision_model_without_its_classifier(name):
    """torchvision's own state dict loads, and the features are what its classifier read."""
    torch.manual_seed(0)
    reference = torchvision.models.get_model(name, weights=None).eval()
    backbone = image_backbone(name).eval()
    load_backbone_weights(backbone, name, reference.state_dict())
    assert backbone.feature_dim == ENCODERS[name][0]
    classifier = reference.fc if name == "resnet50" else reference.classifier[-1]
    pixels = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(classifier(backbone(pixels)), reference(pixels))


def test_weights_of_another_model_are_refused():
    with pytest.raises(UsageError, match="do not fit it"):
        load_backbone_weights(image_backbone("efficientnet_b0"), "efficientnet_b0", {})


def test_each_encoder_brings_its_own_input_size_and_normalisation():
    assert image_input("efficientnet_b0").size == 224
    assert image_input("efficientnet_b0").interpolation == "bicubic"
    assert image_input("efficientnet_b3").size == 300
    assert image_input("vgg16", 64).size == 64
    with pytest.raises(UsageError, match="no linear classifier"):
        image_backbone("squeezenet1_0")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ENCODERS))
def test_each_encoder_trains_saves_reloads_and_serves(
    build_app, image_bytes, make_tiny_checkpoint, name, dataset, tmp_path
):
    run = make_tiny_checkpoint(dataset, tmp_path / name, image_encoder=name, epochs=1)
    model_record = json.loads((run / "config.json").read_text())["model"]
    assert model_record["image_backbone"] == name
    assert model_record["image_interpolation"] == ENCODERS[name][1]
    assert model_record["image_size"] == 32 and model_record["image_mean"] == [0.485, 0.456, 0.406]
    assert model_record["weights"]["image"] == {
        "encoder": "image",
        "name": name,
        "origin": "random",
    }

    predictor = Predictor.load(run)
    assert predictor.model.image_proj.in_features == ENCODERS[name][0]
    assert predictor.image_input.interpolation == ENCODERS[name][1]
    texts, images = ["word1 friends", None], [None, None]
    expected = predictor.predict(texts, images, top_k=3)
    served = tuned_predictor(predictor, ONNX)  # exported, and checked against PyTorch's logits
    assert [[tag for tag, _ in post] for post in served.predict(texts, images, top_k=3)] == [
        [tag for tag, _ in post] for post in expected
    ]
    with TestClient(build_app(served)) as client:
        response = client.post(
            "/predict",
            data={"text": "word2 nice"},
            files={"image": ("a.jpg", image_bytes(), "image/jpeg")},
            headers={"Accept": "application/json"},
        )
    assert response.status_code == 200, response.text
