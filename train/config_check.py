"""Every setting of configs/train.yaml checked before a run starts: a bad value is one line, exit 2.

``--set epochs=abc``, ``--batch-size 0`` or ``--lr -5`` would otherwise surface minutes later as
a library error deep in the loop, or worse, train silently (a negative learning rate ascends).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from runtime.checkpoints import MODALITIES
from runtime.errors import UsageError

CHOICES: dict[str, tuple[str, ...]] = {
    "modality": MODALITIES,
    "text_init": ("pretrained", "random"),
    "image_init": ("pretrained", "random"),
    "image_mode": ("frozen", "finetune"),
    "loss": ("bce", "softmax"),
    "text_pooling": ("pooled", "cls", "mean"),
    "device": ("auto", "cpu", "cuda"),
}
POSITIVE_INTS = (
    "epochs",
    "batch_size",
    "grad_accum_steps",
    "max_seq_len",
    "image_size",
    "text_dim",
    "image_dim",
    "random_tokenizer_vocab",
    "patience",
    "log_every",
    "eval_batch_size",
    "feature_batch_size",
)
NON_NEGATIVE_INTS = ("num_workers", "seed")
NON_NEGATIVE_FLOATS = ("lr", "head_lr", "weight_decay", "max_grad_norm")  # lr 0: a frozen part
FRACTIONS = ("dropout", "warmup_ratio")  # 0 <= value < 1
BOOLEANS = ("weighted_sampling", "compile")


def check_train_config(config: dict[str, Any]) -> None:
    """Raise a UsageError naming the first setting whose value cannot train a model."""
    for key, allowed in CHOICES.items():
        if config[key] not in allowed:
            raise UsageError(f"{key} must be one of {', '.join(allowed)}, got {config[key]!r}")
    for key in POSITIVE_INTS:
        _require(key, config[key], _is_int(config[key]) and config[key] >= 1, "a positive integer")
    for key in NON_NEGATIVE_INTS:
        _require(key, config[key], _is_int(config[key]) and config[key] >= 0, "an integer >= 0")
    for key in NON_NEGATIVE_FLOATS:
        _require(key, config[key], _is_number(config[key]) and config[key] >= 0, "a number >= 0")
    for key in FRACTIONS:
        ok = _is_number(config[key]) and 0 <= config[key] < 1
        _require(key, config[key], ok, "a number from 0 to below 1")
    for key in BOOLEANS:
        _require(key, config[key], isinstance(config[key], bool), "true or false")
    stop = config["stop_after_epochs"]
    ok = stop is None or (_is_int(stop) and stop >= 1)
    _require("stop_after_epochs", stop, ok, "null or a positive integer")
    if not isinstance(config["random_text"], dict):
        raise UsageError(f"random_text must be a mapping, got {config['random_text']!r}")
    _check_local_sources(config)


def _check_local_sources(config: dict[str, Any]) -> None:
    """A text encoder given as a path must be a folder (a hub name would suggest a download
    that cannot work for a path), and ImageNet weights given as a path must be a file."""
    encoder = config["text_encoder"]
    uses_pretrained_text = config["modality"] != "image" and config["text_init"] == "pretrained"
    if not isinstance(encoder, str) or not encoder:
        raise UsageError(f"text_encoder must be a name or a folder, got {encoder!r}")
    if uses_pretrained_text and _looks_like_path(encoder) and not Path(encoder).is_dir():
        what = "is a file" if Path(encoder).exists() else "does not exist"
        raise UsageError(
            f"--text-encoder {encoder} {what}: give a folder holding a Hugging Face model "
            "(config.json and weights), a hub name from the local cache, or minilm"
        )
    weights = config["image_weights"]
    uses_pretrained_image = config["modality"] != "text" and config["image_init"] == "pretrained"
    if uses_pretrained_image and weights is not None and not Path(str(weights)).is_file():
        raise UsageError(f"--image-weights {weights} is not a file")


def _looks_like_path(name: str) -> bool:
    """Hub names are ``name`` or ``org/name``; a path starts from a root, a dot or a tilde."""
    return name.startswith((os.sep, ".", "~")) or name.count("/") > 1 or Path(name).exists()


def _require(key: str, value: Any, ok: bool, what: str) -> None:
    if not ok:
        raise UsageError(f"{key} must be {what}, got {value!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value
