"""The one check of a checkpoint directory (docs/architecture.md, Contract 3), before any load.

``hashtag-evaluate``, ``hashtag-serve`` and ``hashtag-train --resume`` call it first, so a
missing or damaged file is one line naming that file (exit 2) instead of a library error after
torch and transformers were imported, or a server that answers ``/readyz`` and then fails every
prediction. It reads only JSON, text and the safetensors header (no tensor data, no torch), so
it costs milliseconds even for a VGG16 checkpoint.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

from runtime.errors import UsageError
from runtime.label_file import LABELS_FILE, read_labels

# Contract 3's names, here (torch-free) for every reader; train.checkpoint writes them.
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_DIR = "tokenizer"
METRICS_FILE = "metrics.json"
LOG_FILE = "train_log.jsonl"
LAST_DIR = "last"  # resumable state: weights and STATE_FILE
STATE_FILE = "state.pt"
#: A wide part's n-gram vectorisers (train.ngrams): the vocabulary and the idf weights.
NGRAMS_DIR = "ngrams"
NGRAMS_FILES = ("vocabulary.json", "idf.safetensors")
#: Any one of these makes a folder a loadable tokenizer for transformers' AutoTokenizer.
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "spiece.model", "vocab.json")
MODALITIES = ("text", "image", "both")
#: safetensors' own limit on the JSON header, beyond which the file is refused as corrupt.
MAX_HEADER_BYTES = 100_000_000


def check_checkpoint(path: str | os.PathLike[str], flag: str = "--checkpoint") -> dict[str, Any]:
    """``config.json`` of a complete, undamaged checkpoint; a UsageError naming the first
    missing or damaged file otherwise."""
    root = Path(path)
    if not root.is_dir():
        what = "is a file" if root.exists() else "does not exist"
        raise UsageError(f"{flag} {root} {what}: give a checkpoint directory (runs/<name>)")
    config = read_config(root)
    model = config["model"]
    labels = read_labels(root, "checkpoint")
    if len(labels) != model["num_labels"]:
        raise UsageError(
            f"{root / LABELS_FILE} names {len(labels)} labels but {CONFIG_FILE} says "
            f"{model['num_labels']}: the checkpoint is damaged or mixed from two runs"
        )
    if model["modality"] != "image":
        _check_tokenizer(root / TOKENIZER_DIR)
    if model.get("wide_dim"):
        missing = [name for name in NGRAMS_FILES if not (root / NGRAMS_DIR / name).is_file()]
        if missing:
            raise UsageError(
                f"{root} is incomplete: {NGRAMS_DIR}/{missing[0]} is missing (the model's wide "
                "part reads the n-grams it names)"
            )
    tensors = safetensors_header(root / WEIGHTS_FILE)
    _check_weights_match(root / WEIGHTS_FILE, tensors, model)
    return config


def read_config(root: Path) -> dict[str, Any]:
    """config.json as written (paths relative to ``root``), with the model section it needs."""
    path = root / CONFIG_FILE
    if not path.is_file():
        raise UsageError(f"{root} is not a checkpoint directory: {CONFIG_FILE} is missing")
    try:
        config = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{path} is damaged (not readable JSON: {exc})") from None
    model = config.get("model") if isinstance(config, dict) else None
    if not isinstance(model, dict):
        raise UsageError(f"{path} is damaged: it has no 'model' section")
    num_labels = model.get("num_labels")
    if model.get("modality") not in MODALITIES or not _positive_int(num_labels):
        raise UsageError(f"{path} is damaged: model.modality or model.num_labels is missing")
    return config


def _check_tokenizer(folder: Path) -> None:
    if not folder.is_dir():
        raise UsageError(
            f"{folder.parent} is incomplete: {TOKENIZER_DIR}/ is missing (a text model needs it)"
        )
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise UsageError(f"{folder} is damaged: it holds no tokenizer file")


def safetensors_header(path: Path) -> dict[str, Any]:
    """The tensor table of a safetensors file, checked against the file's size.

    The format is an 8-byte little-endian header length, a JSON header mapping each tensor to
    its dtype, shape and byte range, then the data; a file cut short is found here from its
    size alone, without reading the data.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            prefix = handle.read(8)
            header_len = struct.unpack("<Q", prefix)[0] if len(prefix) == 8 else -1
            if not 0 < header_len <= min(MAX_HEADER_BYTES, size - 8):
                raise UsageError(f"{path} is damaged: truncated or not a safetensors file")
            header = json.loads(handle.read(header_len))
    except FileNotFoundError:
        raise UsageError(f"{path.parent} is incomplete: {path.name} is missing") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{path} is damaged: unreadable header ({exc})") from None
    if not isinstance(header, dict):
        raise UsageError(f"{path} is damaged: its header is not a tensor table")
    tensors = {name: entry for name, entry in header.items() if name != "__metadata__"}
    data_size = size - 8 - header_len
    for name, entry in tensors.items():
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and offsets[1] <= data_size):
            raise UsageError(
                f"{path} is damaged: tensor {name} lies past the end of the file (truncated?)"
            )
    return tensors


def _check_weights_match(path: Path, tensors: dict[str, Any], model: dict[str, Any]) -> None:
    """The classifier must have one row per label and the encoders the modality names."""
    shape = (tensors.get("classifier.weight") or {}).get("shape")
    if not shape or shape[0] != model["num_labels"]:
        raise UsageError(
            f"{path} does not match {CONFIG_FILE}: the classifier has "
            f"{shape[0] if shape else 'no'} outputs for {model['num_labels']} labels"
        )
    needed = {"text": ("text_proj.",), "image": ("image_proj.",)}
    needed["both"] = needed["text"] + needed["image"]
    for prefix in needed[model["modality"]]:
        if not any(name.startswith(prefix) for name in tensors):
            raise UsageError(
                f"{path} does not match {CONFIG_FILE}: no {prefix.rstrip('.')} weights for a "
                f"{model['modality']} model"
            )


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
