"""The serving API: Predictor.load + predict, batched equal to single, neutral inputs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from train.predictor import Predictor


@pytest.fixture(scope="module")
def predictor(make_tiny_checkpoint, make_tiny_dataset, tmp_path_factory) -> Predictor:
    root = tmp_path_factory.mktemp("predictor")
    dataset = make_tiny_dataset(root / "ds", n_posts=40, n_labels=5)
    return Predictor.load(make_tiny_checkpoint(dataset, root / "run", epochs=1))


@pytest.fixture(scope="session")
def image(palette):
    def image(index: int) -> Image.Image:
        return Image.new("RGB", (48, 40), palette[index])

    return image


def test_attributes_describe_the_checkpoint(label_name, predictor):
    assert predictor.labels == [label_name(j) for j in range(5)]
    assert predictor.modality == "both"
    assert predictor.name == "run"
    assert (predictor.max_seq_len, predictor.image_size) == (16, 32)


def test_predict_returns_top_k_labels_with_sigmoid_scores_best_first(image, predictor):
    [ranked] = predictor.predict(["word1 today"], [image(1)], top_k=3)
    assert len(ranked) == 3
    assert all(label in predictor.labels and 0.0 <= score <= 1.0 for label, score in ranked)
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    assert len(predictor.predict(["x"], [None], top_k=50)[0]) == 5


def test_batched_predictions_equal_single_ones(image, predictor):
    texts = ["word0 with friends", None, "word3 so nice really today love time", ""]
    images = [image(0), image(2), None, None]
    batched = predictor.scores(texts, images)
    for row, (text, image_) in enumerate(zip(texts, images, strict=True)):
        np.testing.assert_allclose(batched[row], predictor.scores([text], [image_])[0], atol=1e-5)
        assert [label for label, _ in predictor.predict(texts, images)[row]] == [
            label for label, _ in predictor.predict([text], [image_])[0]
        ]


def test_none_is_the_documented_neutral_input(predictor):
    assert predictor.predict([None], [None]) == predictor.predict([""], [None])
    mean_colour = Image.new("RGB", (32, 32), (124, 116, 104))  # ImageNet mean, 0..255
    neutral, mean = predictor.scores([""], [None]), predictor.scores([""], [mean_colour])
    assert abs(neutral - mean).max() < 0.05


def test_max_seq_len_truncates_the_caption(predictor):
    long_caption = "today " * 30 + "word2"
    assert predictor.predict([long_caption], [None], max_seq_len=4) == predictor.predict(
        ["today today"], [None], max_seq_len=4
    )


def test_mismatched_batch_is_rejected(predictor):
    with pytest.raises(ValueError, match="2 texts but 1 images"):
        predictor.predict(["a", "b"], [None])


def test_captions_are_padded_to_the_longest_and_cut_at_max_seq_len(predictor):
    encoded = predictor.encode_texts(["today", "word1 word2 word3 with friends"], max_seq_len=16)
    lengths = encoded["attention_mask"].sum(dim=1).tolist()
    assert encoded["input_ids"].shape[1] == max(lengths) < 16
    assert predictor.encode_texts(["today " * 40], max_seq_len=6)["input_ids"].shape == (1, 6)


def test_padding_to_max_seq_len_gives_the_same_ranking(image, predictor):
    class PadToMax(Predictor):
        padding = "max_length"

    padded = PadToMax(
        predictor.model,
        {"model": {"modality": "both", "max_seq_len": 16, "image_size": 32}},
        predictor.labels,
        predictor.tokenizer,
        "padded",
    )
    assert padded.encode_texts(["today"], max_seq_len=16)["input_ids"].shape == (1, 16)
    texts = ["word0 with friends", "word3 so nice really today love time", ""]
    images = [image(0), None, image(2)]
    np.testing.assert_allclose(
        padded.scores(texts, images), predictor.scores(texts, images), atol=1e-5
    )
