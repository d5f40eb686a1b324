"""The frozen-image feature cache: misses computed once, hits reused, keyed by preprocessing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from train.data import ImageInput, load_dataset, load_pixels
from train.encoders import VGG16_FEATURE_DIM, vgg_backbone
from train.features import NEUTRAL_IMAGE, FeatureCache, backbone_key, image_keys
from train.model import HashtagModel

IMAGE_SIZE = 32
IMAGE = ImageInput(IMAGE_SIZE)


@pytest.fixture(scope="module")
def model() -> HashtagModel:
    torch.manual_seed(0)
    return HashtagModel(3, None, vgg_backbone()).eval()


@pytest.fixture(scope="module")
def images(make_tiny_dataset, tmp_path_factory) -> dict:
    root = make_tiny_dataset(tmp_path_factory.mktemp("ds"), n_posts=8, image_size=IMAGE_SIZE)
    _, frames = load_dataset(root)
    frame = frames["train"]
    pairs = zip(frame["image_sha256"], frame["image"], strict=True)
    return {sha: root / path for sha, path in pairs}


def compute(model):
    return lambda pixels: model.image_features(pixels)


def test_misses_then_hits_across_cache_instances(tmp_path, model, images):
    key = backbone_key(model.image_backbone, IMAGE)
    shas = list(images)
    first = FeatureCache(tmp_path, key, VGG16_FEATURE_DIM)
    first.ensure({s: images[s] for s in shas[:3]}, compute(model), IMAGE, progress=False)
    assert (first.hits, first.misses) == (0, 3)

    second = FeatureCache(tmp_path, key, VGG16_FEATURE_DIM)  # a later run: reads index.json
    second.ensure(images, compute(model), IMAGE, progress=False)
    assert (second.hits, second.misses) == (3, len(shas) - 3)
    third = FeatureCache(tmp_path, key, VGG16_FEATURE_DIM)
    third.ensure(images, compute(model), IMAGE, progress=False)
    assert (third.hits, third.misses) == (len(shas), 0)


def test_cached_rows_equal_direct_features_in_fp16(tmp_path, model, images):
    cache = FeatureCache(tmp_path, backbone_key(model.image_backbone, IMAGE), VGG16_FEATURE_DIM)
    cache.ensure(images, compute(model), IMAGE, progress=False)
    sha = list(images)[-1]
    view = cache.view([sha, NEUTRAL_IMAGE] if NEUTRAL_IMAGE in cache.index else [sha])
    pixels = load_pixels(images[sha], IMAGE.transform(), IMAGE_SIZE).unsqueeze(0)
    with torch.inference_mode():
        direct = model.image_features(pixels)[0].numpy()
    assert view[0].dtype == np.float16 and view[0].shape == (VGG16_FEATURE_DIM,)
    np.testing.assert_allclose(view[0].astype(np.float32), direct, rtol=2e-3, atol=2e-3)


def test_key_changes_with_preprocessing_and_weights(model):
    backbone = model.image_backbone
    assert backbone_key(backbone, IMAGE) != backbone_key(backbone, ImageInput(64))
    bicubic = ImageInput(IMAGE_SIZE, interpolation="bicubic")
    assert backbone_key(backbone, IMAGE) != backbone_key(backbone, bicubic)
    torch.manual_seed(1)
    assert backbone_key(backbone, IMAGE) != backbone_key(vgg_backbone(), IMAGE)


def test_posts_without_image_share_the_neutral_row(tmp_path, model):
    assert image_keys(["abc", None, ""]) == ["abc", NEUTRAL_IMAGE, NEUTRAL_IMAGE]
    cache = FeatureCache(tmp_path, "k", VGG16_FEATURE_DIM)
    cache.ensure({NEUTRAL_IMAGE: None}, compute(model), IMAGE, progress=False)
    with torch.inference_mode():
        zero = model.image_features(torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE))[0].numpy()
    np.testing.assert_allclose(
        cache.view([NEUTRAL_IMAGE])[0].astype(np.float32), zero, rtol=2e-3, atol=2e-3
    )


def test_bytes_left_by_a_crashed_build_are_overwritten(tmp_path, model, images):
    key = "crash"
    shas = list(images)
    cache = FeatureCache(tmp_path, key, VGG16_FEATURE_DIM)
    cache.ensure({shas[0]: images[shas[0]]}, compute(model), IMAGE, progress=False)
    data = tmp_path / key / "features.f16"
    with open(data, "ab") as handle:  # a build killed after writing rows, before the index
        handle.write(b"\x00" * 1000)
    again = FeatureCache(tmp_path, key, VGG16_FEATURE_DIM)
    again.ensure({shas[1]: images[shas[1]]}, compute(model), IMAGE, progress=False)
    assert data.stat().st_size == 2 * VGG16_FEATURE_DIM * 2
    assert again.index == {shas[0]: 0, shas[1]: 1}
