"""Frozen mode's feature cache: computed once, memory-mapped, shared by every run.

The encoders (VGG16, MiniLM) dominate the cost of a training step on CPU, and with frozen
weights an encoder's output for an input never changes, so each image (``image_mode: frozen``)
and each caption (``text_mode: frozen``) is pushed through it once. The cache is keyed by what
determines the output (the encoder's architecture and weights; for images the input size,
resampling and normalisation; for text the tokenizer's cut, pooling) and, inside that, by the
image's or the model text's sha256, so runs, splits and datasets that share inputs share rows.
Rows are fp16 (half the disk and page cache; the projection layer is insensitive to that
rounding) and the file
only grows by appends; index.json is replaced atomically after the rows are on disk, so a crash
mid-build leaves at worst unindexed bytes that the next build overwrites.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from runtime.files import atomic_write_json
from runtime.progress import progress_bar
from train.data import ImageInput, load_pixels

NEUTRAL_IMAGE = "neutral"  # the key of the zero (mean) image used for posts without one
DATA_FILE = "features.f16"
INDEX_FILE = "index.json"
FEATURE_DTYPE = np.dtype(np.float16)


def default_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hashtag-prediction" / "features"


def backbone_key(backbone: nn.Module, inputs: ImageInput | dict[str, Any]) -> str:
    """A digest of everything that determines a feature row except the input itself: the
    encoder and how its input is prepared (an ImageInput, or a record such as the text's)."""
    digest = hashlib.sha256()
    digest.update(repr(backbone).encode())  # the architecture, layer by layer
    record = inputs.record() if isinstance(inputs, ImageInput) else inputs
    digest.update(json.dumps(record).encode())
    for name, tensor in backbone.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


class FeatureView:
    """The cache rows of one split, in the split's order, read lazily from the memmap."""

    def __init__(self, matrix: np.ndarray, rows: np.ndarray) -> None:
        self.matrix, self.rows = matrix, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.matrix[self.rows[index]]


class FeatureCache:
    """One backbone + preprocessing's features: ``features.f16`` rows of ``dim`` values and
    ``index.json``."""

    def __init__(self, root: Path, key: str, dim: int) -> None:
        self.folder = Path(root) / key
        self.dim = dim
        self.hits = 0
        self.misses = 0
        index_path = self.folder / INDEX_FILE
        self.index: dict[str, int] = (
            json.loads(index_path.read_text("utf-8")) if index_path.is_file() else {}
        )

    def ensure(
        self,
        images: dict[str, Path | None],
        compute: Callable[[torch.Tensor], torch.Tensor],
        image: ImageInput,
        batch_size: int = 32,
        num_workers: int = 0,
        progress: bool = True,
    ) -> None:
        """Compute and append the rows of ``images`` (sha -> file) that are not cached yet."""
        missing = self._missing(images)
        if missing:
            dataset = _PixelFiles([images[sha] for sha in missing], image)
            loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers)
            self._append(missing, loader, compute, "image features", progress)

    def ensure_texts(
        self,
        texts: dict[str, str],
        compute: Callable[[list[str]], torch.Tensor],
        batch_size: int = 64,
        progress: bool = True,
    ) -> None:
        """Compute and append the rows of ``texts`` (sha -> model text) not cached yet;
        ``compute`` takes a batch of texts (it tokenises them)."""
        missing = self._missing(texts)
        if missing:  # longest first: each batch pads to its own longest text, so less padding
            missing.sort(key=lambda sha: len(texts[sha]), reverse=True)
            batches = [
                [texts[sha] for sha in missing[start : start + batch_size]]
                for start in range(0, len(missing), batch_size)
            ]
            self._append(missing, batches, compute, "text features", progress)

    def _missing(self, inputs: dict[str, Any]) -> list[str]:
        missing = [sha for sha in inputs if sha not in self.index]
        self.hits += len(inputs) - len(missing)
        self.misses += len(missing)
        return missing

    def _append(
        self,
        missing: list[str],
        batches: Iterable[Any],
        compute: Callable[[Any], torch.Tensor],
        desc: str,
        progress: bool,
    ) -> None:
        """Rows of ``missing`` in order (``batches`` yield their inputs), appended then
        indexed."""
        self.folder.mkdir(parents=True, exist_ok=True)
        data_path = self.folder / DATA_FILE
        row = len(self.index)
        with open(data_path, "ab") as handle:
            handle.truncate(row * self.dim * FEATURE_DTYPE.itemsize)  # rows a crash left unindexed
            bar = progress_bar(total=len(missing), desc=desc, unit="row", disable=not progress)
            with torch.inference_mode():
                for batch in batches:
                    rows = compute(batch).float().cpu().numpy().astype(FEATURE_DTYPE)
                    handle.write(rows.tobytes())
                    bar.update(len(rows))
            bar.close()
            handle.flush()
            os.fsync(handle.fileno())
        for offset, sha in enumerate(missing):
            self.index[sha] = row + offset
        atomic_write_json(self.folder / INDEX_FILE, self.index)

    def view(self, shas: Sequence[str]) -> FeatureView:
        """The rows for ``shas`` (all must have been ensured) as a lazily read view."""
        matrix = np.memmap(
            self.folder / DATA_FILE,
            dtype=FEATURE_DTYPE,
            mode="r",
            shape=(len(self.index), self.dim),
        )
        return FeatureView(matrix, np.array([self.index[sha] for sha in shas], dtype=np.int64))


def text_key(text: str) -> str:
    """A model text's cache key."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def image_keys(shas: Sequence[str | None]) -> list[str]:
    """Cache keys of a split's posts; a post without an image uses the neutral image."""
    return [sha or NEUTRAL_IMAGE for sha in shas]


class _PixelFiles(Dataset):
    def __init__(self, paths: list[Path | None], image: ImageInput) -> None:
        self.paths = paths
        self.image_size = image.size
        self.transform = image.transform()

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        return load_pixels(self.paths[index], self.transform, self.image_size)
