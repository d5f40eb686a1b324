"""What the model is fed during a run: every split's dataset (with the frozen encoders' outputs
read from the feature cache), the collators, this rank's shuffling sampler and train loader, and
the scoring of a whole split (:func:`predict_loader`).

In frozen mode an encoder is not trained, so its outputs are computed once per image or caption,
cached on disk (train.features) and fed instead of the pixels or tokens.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Sampler

from train.data import Collator, ImageInput, PostDataset, tokenize
from train.data import train_sampler as make_train_sampler
from train.features import (
    FeatureCache,
    backbone_key,
    default_cache_root,
    image_keys,
    text_key,
)
from train.model import HashtagModel
from train.model_record import ModelRecord
from train.run_folder import RunFolder
from train.run_setup import Setup
from train.settings import TrainSettings

log = logging.getLogger(__name__)


@dataclass
class Data:
    """The dataset as the model reads it: labels, split frames, their PyTorch datasets, the
    collator, and this rank's train loader."""

    labels: list[str]
    frames: dict[str, pd.DataFrame]
    datasets: dict[str, PostDataset]
    collate: Collator
    sampler: Sampler[int]
    loader: DataLoader


def make_data(
    setup: Setup,
    model: HashtagModel,
    record: ModelRecord,
    tokenizer: Any,
    labels: list[str],
    frames: dict[str, pd.DataFrame],
    folder: RunFolder,
) -> Data:
    """Datasets of every split (cached encoder features in frozen mode, the wide part's logits),
    the collator, the per-epoch shuffling sampler of this rank and the train loader."""
    settings = setup.config
    image = ImageInput.from_record(record) if model.uses_image else None
    features = _cached_features(model, image, frames, setup, folder)
    text_features = _cached_text_features(model, tokenizer, frames, setup, folder)
    frozen = frozen_image(model, settings)
    datasets = {
        split: PostDataset(
            frame,
            setup.dataset_dir,
            len(labels),
            image=image if not frozen else None,
            features=features.get(split),
            text_features=text_features.get(split),
            wide_logits=_wide_logits(model, frame),
        )
        for split, frame in frames.items()
    }
    tokens = tokenizer if model.uses_text and not frozen_text(model, settings) else None
    collate = Collator(tokens, settings.max_seq_len)
    world = setup.world
    sampler = make_train_sampler(
        frames["train"], settings.weighted_sampling, settings.seed, world.rank, world.world_size
    )
    loader = DataLoader(
        datasets["train"],
        batch_size=settings.batch_size,
        sampler=sampler,
        collate_fn=collate,
        num_workers=settings.num_workers,
        drop_last=len(sampler) > settings.batch_size,
        persistent_workers=settings.num_workers > 0,
    )
    return Data(labels, frames, datasets, collate, sampler, loader)


def predict_loader(
    model: HashtagModel,
    dataset: PostDataset,
    collate: Collator,
    settings: TrainSettings,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid scores and targets of a whole split, in order, with dropout off."""
    was_training = model.training
    model.eval()
    loader = DataLoader(dataset, batch_size=settings.eval_batch_size, collate_fn=collate)
    scores = []
    with torch.inference_mode():
        for batch in loader:
            batch = {key: value.to(device) for key, value in batch.items()}
            batch.pop("targets")
            scores.append(torch.sigmoid(model(**batch).float()).cpu().numpy())
    model.train(was_training)
    return np.concatenate(scores), dataset.targets.numpy()


def _wide_logits(model: HashtagModel, frame: pd.DataFrame) -> torch.Tensor | None:
    """A split's wide logits, once (the part is frozen); None without a wide part."""
    if not model.uses_ngrams:
        return None
    return model.wide_logits_of(frame["text"].fillna("").tolist())


def _cached_features(
    model: HashtagModel,
    image: ImageInput | None,
    frames: dict[str, pd.DataFrame],
    setup: Setup,
    folder: RunFolder,
) -> dict[str, Any]:
    """Frozen-image mode: make sure every split's images are cached (rank 0), then map them."""
    settings = setup.config
    if not frozen_image(model, settings):
        return {}
    key = backbone_key(model.image_backbone, image)
    dim = model.image_backbone.feature_dim
    keys = {split: image_keys(frame["image_sha256"]) for split, frame in frames.items()}

    def fill(cache: FeatureCache) -> None:
        images: dict[str, Path | None] = {}
        for split, frame in frames.items():
            for sha, path in zip(keys[split], frame["image"], strict=True):
                images.setdefault(sha, setup.dataset_dir / path if path else None)
        cache.ensure(
            images,
            lambda pixels: model.image_features(pixels.to(setup.device)),
            image,
            batch_size=settings.feature_batch_size,
            num_workers=settings.num_workers,
            progress=setup.progress,
        )

    return _shared_cache(setup, folder, key, dim, keys, "feature_cache", fill)


def _cached_text_features(
    model: HashtagModel,
    tokenizer: Any,
    frames: dict[str, pd.DataFrame],
    setup: Setup,
    folder: RunFolder,
) -> dict[str, Any]:
    """Frozen-text mode: every split's captions encoded once into the cache (rank 0), mapped."""
    settings = setup.config
    if not frozen_text(model, settings):
        return {}
    vocabulary = json.dumps(sorted(tokenizer.get_vocab().items()))
    inputs = {
        "max_seq_len": settings.max_seq_len,
        "pooling": model.text_pooling,
        "tokenizer": hashlib.sha256(vocabulary.encode()).hexdigest(),
    }
    key = backbone_key(model.text_encoder, inputs)
    dim = model.text_encoder.config.hidden_size
    texts = {split: frame["text"].fillna("").tolist() for split, frame in frames.items()}
    keys = {split: [text_key(text) for text in split_texts] for split, split_texts in texts.items()}

    def fill(cache: FeatureCache) -> None:
        unique = {k: t for split in texts for k, t in zip(keys[split], texts[split], strict=True)}

        def encode(batch: list[str]) -> torch.Tensor:
            encoded = tokenize(tokenizer, batch, settings.max_seq_len)
            return model.encode_text(**{k: v.to(setup.device) for k, v in encoded.items()})

        was_training = model.training
        model.eval()
        cache.ensure_texts(unique, encode, settings.eval_batch_size, setup.progress)
        model.train(was_training)

    return _shared_cache(setup, folder, key, dim, keys, "text_cache", fill)


def _shared_cache(
    setup: Setup,
    folder: RunFolder,
    key: str,
    dim: int,
    keys: dict[str, list[str]],
    event: str,
    fill: Callable[[FeatureCache], None],
) -> dict[str, Any]:
    """Rank 0 opens the cache under ``key``, fills it (``fill``) and logs its hits and misses
    as ``event``; after the barrier every rank maps each split's rows (``keys``) from it, the
    others reading the index as rank 0 left it."""
    root = feature_cache_root(setup.config)
    cache = None
    if setup.world.is_main:
        cache = FeatureCache(root, key, dim)
        fill(cache)
        log.info(
            "%s %s: %d hits, %d misses",
            event.replace("_", " "),
            cache.folder,
            cache.hits,
            cache.misses,
        )
        folder.log({"event": event, "hits": cache.hits, "misses": cache.misses})
    setup.world.barrier()
    if cache is None:
        cache = FeatureCache(root, key, dim)
    return {split: cache.view(split_keys) for split, split_keys in keys.items()}


def feature_cache_root(settings: TrainSettings) -> Path:
    """The ``feature_cache`` setting, or the user's standard cache when it is null."""
    return Path(settings.feature_cache) if settings.feature_cache else default_cache_root()


def frozen_text(model: HashtagModel, settings: TrainSettings) -> bool:
    """Frozen-text mode: the text encoder is not trained and the loop feeds cached captions."""
    return model.uses_text and settings.text_mode == "frozen"


def frozen_image(model: HashtagModel, settings: TrainSettings) -> bool:
    """Frozen-image mode: the backbone is not trained and the loop feeds its cached features."""
    return model.uses_image and settings.image_mode == "frozen"
