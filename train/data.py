"""Read a dataset directory (docs/architecture.md, Contract 2) into PyTorch datasets, checked first.

Every way a dataset can be unusable (missing folder or split, labels.txt that disagrees with the
parquet labels, an empty train split) becomes one ``UsageError`` line before any model is built,
so a long run never dies an hour in on a bad file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler
from torchvision import transforms
from transformers import PreTrainedTokenizerBase

from runtime import image_prep
from runtime.errors import UsageError
from runtime.label_file import read_labels
from train.model_record import IMAGENET_MEAN, IMAGENET_STD, ModelRecord
from train.settings import SPLITS

REQUIRED_COLUMNS = ("shortcode", "text", "hashtags", "labels", "image", "image_sha256", "weight")


def load_split(dataset_dir: Path, split: str, labels: list[str]) -> pd.DataFrame:
    """One split as a DataFrame, checked against labels.txt."""
    path = dataset_dir / f"{split}.parquet"
    if not path.is_file():
        raise UsageError(f"{path} is missing")
    try:
        frame = _read_without_image_bytes(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a damaged file
        raise UsageError(f"cannot read {path}: {exc}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise UsageError(f"{path} lacks columns {', '.join(missing)}")
    _check_labels_agree(frame, labels, path)
    # A column with no value at all (a text-only dataset) comes back as NaN: make it None.
    frame["image"] = frame["image"].astype(object).where(frame["image"].notna(), None)
    return frame.reset_index(drop=True)


def _read_without_image_bytes(path: Path) -> pd.DataFrame:
    """The split with ``image`` as the relative path string: the JPEG bytes embedded for
    Hugging Face ``datasets`` (the Image struct) are not read, the files beside them are used.
    A split of schema version 1 already holds the path string."""
    schema = pq.read_schema(path)
    names = schema.names
    if "image" in names and pa.types.is_struct(schema.field("image").type):
        columns = [name if name != "image" else "image.path" for name in names]
        table = pq.read_table(path, columns=columns)  # the struct's child comes back as "path"
        return table.rename_columns(
            ["image" if name == "path" else name for name in table.column_names]
        ).to_pandas()
    return pd.read_parquet(path)


def load_dataset(
    dataset_dir: str | Path, splits: tuple[str, ...] = SPLITS
) -> tuple[list[str], dict[str, pd.DataFrame]]:
    """labels.txt and the requested splits; an empty train split is an error."""
    root = Path(dataset_dir)
    if not root.is_dir():
        raise UsageError(f"dataset directory {root} does not exist")
    labels = read_labels(root, "dataset")
    frames = {split: load_split(root, split, labels) for split in splits}
    if "train" in frames and frames["train"].empty:
        raise UsageError(f"{root / 'train.parquet'} has no rows: nothing to train on")
    return labels, frames


def _check_labels_agree(frame: pd.DataFrame, labels: list[str], path: Path) -> None:
    """Each label index must be in range and name one of the post's own hashtags."""
    for row in frame.itertuples(index=False):
        tags = set(row.hashtags)
        for index in row.labels:
            if not 0 <= index < len(labels):
                raise UsageError(
                    f"{path}: post {row.shortcode} has label index {index} but labels.txt "
                    f"has {len(labels)} labels"
                )
            if labels[index] not in tags:
                raise UsageError(
                    f"{path}: post {row.shortcode} has label {index} = #{labels[index]} "
                    "(labels.txt) which is not among its hashtags: labels.txt does not match"
                )


@dataclass(frozen=True)
class ImageInput:
    """How an image becomes the encoder's input: resize the shorter side to ``size`` and
    centre-crop a square (the whole picture, not torchvision's 224-of-256 crop), resampled with
    ``interpolation``, normalised with ``mean`` and ``std``. Each image encoder brings its own
    (train.encoders.image_input); the checkpoint records it, so serving repeats it."""

    size: int
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    interpolation: str = "bilinear"

    @classmethod
    def from_record(cls, record: ModelRecord) -> ImageInput:
        """From config.json's ``model`` record (whose defaults stand in for what older
        checkpoints lack: all but the size)."""
        return cls(
            size=record.image_size,
            mean=record.image_mean,
            std=record.image_std,
            interpolation=record.image_interpolation,
        )

    def record(self) -> dict[str, Any]:
        return {
            "image_size": self.size,
            "image_mean": list(self.mean),
            "image_std": list(self.std),
            "image_interpolation": self.interpolation,
        }

    def transform(self) -> transforms.Compose:
        return transforms.Compose(
            [
                transforms.Resize(self.size, transforms.InterpolationMode(self.interpolation)),
                transforms.CenterCrop(self.size),
                transforms.ToTensor(),
                transforms.Normalize(self.mean, self.std),
            ]
        )


def neutral_pixels(image_size: int) -> torch.Tensor:
    """The stand-in for a missing image: zeros after normalisation, i.e. the ImageNet mean."""
    return torch.zeros(3, image_size, image_size)


def load_pixels(path: Path | None, transform: transforms.Compose, image_size: int) -> torch.Tensor:
    if path is None:
        return neutral_pixels(image_size)
    return transform(image_prep.load(path))


def multi_hot(label_lists: Any, num_labels: int) -> torch.Tensor:
    targets = torch.zeros(len(label_lists), num_labels)
    for row, indices in enumerate(label_lists):
        targets[row, list(indices)] = 1.0
    return targets


def demojized(dataset_dir: Path) -> bool:
    """Whether the dataset spelt emoji out as words in its model text (manifest.json
    ``config.text.demojize``): serving must turn captions into text the same way. A dataset
    without that record used the default, emoji kept."""
    try:
        manifest = json.loads((dataset_dir / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    text = (manifest.get("config") or {}).get("text") or {}
    return bool(text.get("demojize", False))


def post_inputs(frame: pd.DataFrame, dataset_dir: Path) -> tuple[list[str], list[Path | None]]:
    """A split's captions ("" when missing) and image paths (``None`` for a post without one)."""
    texts = frame["text"].fillna("").tolist()
    return texts, [dataset_dir / p if p else None for p in frame["image"].tolist()]


class PostDataset(Dataset):
    """Posts of one split: caption, targets, pixels or a row of the image-feature cache, in
    frozen-text mode the caption's row of the text-feature cache, and with a wide part the
    caption's wide logits (the frozen part's output, computed once per split)."""

    def __init__(
        self,
        frame: pd.DataFrame,
        dataset_dir: Path,
        num_labels: int,
        image: ImageInput | None = None,
        features: np.ndarray | None = None,
        text_features: np.ndarray | None = None,
        wide_logits: torch.Tensor | None = None,
    ) -> None:
        self.texts, self.images = post_inputs(frame, dataset_dir)
        self.targets = multi_hot(frame["labels"].tolist(), num_labels)
        self.image_size = image.size if image else None
        self.transform = image.transform() if image else None
        self.features = features
        self.text_features = text_features
        self.wide_logits = wide_logits

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item: dict[str, Any] = {"text": self.texts[index], "targets": self.targets[index]}
        if self.features is not None:
            item["image_features"] = torch.from_numpy(np.array(self.features[index]))
        elif self.transform is not None:
            item["pixels"] = load_pixels(self.images[index], self.transform, self.image_size)
        if self.text_features is not None:
            item["text_features"] = torch.from_numpy(np.array(self.text_features[index]))
        if self.wide_logits is not None:
            item["wide_logits"] = self.wide_logits[index]
        return item


class Collator:
    """Stack a batch, tokenising the captions together (one padded call is faster than many)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase | None, max_seq_len: int) -> None:
        self.tokenizer = tokenizer
        self.max_seq_len = max_seq_len

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = {
            key: torch.stack([item[key] for item in items]) for key in items[0] if key != "text"
        }
        if self.tokenizer is not None:
            batch.update(tokenize(self.tokenizer, [i["text"] for i in items], self.max_seq_len))
        return batch


def tokenize(
    tokenizer: PreTrainedTokenizerBase,
    texts: list[str],
    max_seq_len: int,
    padding: bool | str = True,
) -> dict[str, torch.Tensor]:
    """Token ids and attention mask, cut at ``max_seq_len``; ``True`` pads to the longest."""
    encoded = tokenizer(
        texts, padding=padding, truncation=True, max_length=max_seq_len, return_tensors="pt"
    )
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}


class WeightedEpochSampler(Sampler[int]):
    """Draw by the ``weight`` column, reproducibly per epoch, each rank taking its own share.

    torch's WeightedRandomSampler has no notion of epochs or ranks; seeding by ``seed + epoch``
    keeps ``--resume`` identical to an uninterrupted run and DDP ranks disjoint.
    """

    def __init__(self, weights: np.ndarray, seed: int, rank: int = 0, world_size: int = 1) -> None:
        self.weights = torch.as_tensor(weights, dtype=torch.double)
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.num_samples = math.ceil(len(weights) / world_size)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        total = self.num_samples * self.world_size
        drawn = torch.multinomial(self.weights, total, replacement=True, generator=generator)
        return iter(drawn[self.rank :: self.world_size].tolist())

    def __len__(self) -> int:
        return self.num_samples


def train_sampler(
    frame: pd.DataFrame, weighted: bool, seed: int, rank: int, world_size: int
) -> Sampler[int]:
    """Shuffle per epoch from the seed; by the ``weight`` column when ``weighted``."""
    if weighted:
        weights = frame["weight"].to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(weights)) or weights.min() < 0 or weights.sum() <= 0:
            raise UsageError("the weight column must be finite, non-negative and not all zero")
        return WeightedEpochSampler(weights, seed, rank, world_size)
    return DistributedSampler(
        range(len(frame)), num_replicas=world_size, rank=rank, shuffle=True, seed=seed
    )
