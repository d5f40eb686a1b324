"""A new model for a run: where each encoder's weights come from, the encoders, the wide part
fit on the train split, and the ``model`` record (train.model_record) that describes them all.

The model itself is put together by ``HashtagModel.from_record``, the same call a checkpoint is
loaded with, so a new run and a reloaded one cannot build different architectures.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import torch

from train.baselines import TrainSplitFits
from train.encoders import (
    image_backbone,
    image_input,
    load_backbone_weights,
    random_text_encoder,
    train_tokenizer,
)
from train.model import HashtagModel
from train.model_record import ModelRecord
from train.settings import TrainSettings
from train.weights import (
    WeightsSource,
    go_offline,
    image_source,
    image_state_dict,
    load_text_encoder,
    offline_mode,
    text_source,
)

log = logging.getLogger(__name__)


def weights_plan(settings: TrainSettings) -> dict[str, WeightsSource]:
    """Where each encoder's weights will come from, logged before any work; missing weights
    when offline (or an unknown encoder) stop the run here."""
    offline = offline_mode(settings.offline)
    if offline:
        go_offline()
    sources = {}
    if settings.modality != "image":
        sources["text"] = text_source(settings.text_encoder, settings.text_init, offline)
    if settings.modality != "text":
        sources["image"] = image_source(
            settings.image_encoder, settings.image_init, settings.image_weights, offline
        )
    for source in sources.values():
        log.info("%s", source.describe())
    return sources


def build_model(
    settings: TrainSettings,
    labels: list[str],
    train_frame: pd.DataFrame,
    sources: dict[str, WeightsSource],
    tfidf: TrainSplitFits,
    progress: bool,
    demojize: bool = False,
) -> tuple[HashtagModel, Any]:
    """A new model from pretrained or random encoders (and, when ``ngram_features`` > 0 and the
    model reads text, a wide part: ``tfidf``'s TF-IDF + logistic regression fit on the train
    split, that many n-grams of each kind) and its tokenizer. The model's ``record`` says where each
    encoder's weights came from (``weights``) and whether the dataset spelt emoji out."""
    text_encoder = tokenizer = backbone = None
    used = dict(sources)  # a download is recorded with the revision it fetched
    if "text" in sources and settings.text_init == "random":
        captions = train_frame["text"].fillna("").tolist()
        tokenizer = train_tokenizer(captions, settings.random_tokenizer_vocab)
        text_encoder = random_text_encoder(
            settings.random_text.model_dump(), len(tokenizer), settings.max_seq_len
        )
    elif "text" in sources:
        text_encoder, tokenizer, used["text"] = load_text_encoder(sources["text"])
    wide = None
    if "text" in sources and settings.ngram_features:
        wide = tfidf.fit(settings.ngram_features)
    name = settings.image_encoder
    if "image" in sources:
        backbone = image_backbone(name)
        if settings.image_init == "pretrained":
            load_backbone_weights(backbone, name, image_state_dict(sources["image"], progress))
    pretrained = settings.text_init == "pretrained"
    record = ModelRecord(
        modality=settings.modality,
        num_labels=len(labels),
        text_encoder=settings.text_encoder if pretrained else "random",
        text_config=text_encoder.config.to_dict() if text_encoder is not None else None,
        text_pooling=settings.text_pooling,
        text_dim=settings.text_dim,
        image_dim=settings.image_dim,
        image_norm=True,
        dropout=settings.dropout,
        wide_dim=wide.vectorizer.dim if wide is not None else 0,
        loss=settings.loss,
        wide_mode="logits",
        max_seq_len=settings.max_seq_len,
        image_backbone=name,
        **image_input(name, settings.image_size).record(),
        text_init=settings.text_init,
        image_init=settings.image_init,
        weights={encoder: source.record() for encoder, source in used.items()},
        demojize=demojize,
    )
    model = HashtagModel.from_record(record, text_encoder, backbone)
    if wide is not None:
        model.set_wide(*(torch.from_numpy(array) for array in wide.linear()))
        model.ngrams = wide.vectorizer
        model.start_at_wide()
    return model, tokenizer
