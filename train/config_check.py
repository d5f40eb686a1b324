"""Every setting of configs/train.yaml checked before a run starts: a
bad value is one line, exit 2. The choice lists here are the only ones: the flags offer them too.

``--set epochs=abc``, ``--batch-size 0`` or ``--lr -5`` would otherwise surface minutes later as
a library error deep in the loop, or worse, train silently (a negative learning rate ascends).
"""

from __future__ import annotations

from typing import Any

from runtime.checkpoints import MODALITIES
from runtime.config import check_types, default_config
from runtime.errors import UsageError

TEXT_BASELINES = ("tfidf",)  # fit from the train split's text alone (train.baselines)
CHOICES: dict[str, tuple[str, ...]] = {
    "modality": MODALITIES,
    "text_init": ("pretrained", "random"),
    "image_init": ("pretrained", "random"),
    "image_mode": ("frozen", "finetune"),
    "text_mode": ("frozen", "finetune"),
    "loss": ("bce", "softmax"),
    "text_pooling": ("pooled", "cls", "mean"),
    "device": ("auto", "cpu", "cuda"),
}
POSITIVE_INTS = (
    "epochs",
    "batch_size",
    "grad_accum_steps",
    "max_seq_len",
    "text_dim",
    "image_dim",
    "random_tokenizer_vocab",
    "patience",
    "log_every",
    "eval_batch_size",
    "feature_batch_size",
)
NON_NEGATIVE_INTS = ("num_workers", "seed", "ngram_features")  # ngram_features 0: no wide part
NON_NEGATIVE_FLOATS = (
    "lr",
    "head_lr",
    "weight_decay",
    "max_grad_norm",
)  # lr 0: a frozen part
FRACTIONS = ("dropout", "warmup_ratio")  # 0 <= value < 1
BOOLEANS = ("weighted_sampling", "compile", "offline")


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
    for key in ("stop_after_epochs", "image_size"):  # null: no early stop; the encoder's size
        value = config[key]
        _require(
            key,
            value,
            value is None or (_is_int(value) and value >= 1),
            "null or a positive integer",
        )
    for key in ("feature_cache", "image_weights"):  # null: the standard cache
        _require_optional_path(key, config[key])
    encoder = config["image_encoder"]
    if not isinstance(encoder, str) or not encoder:
        raise UsageError(f"image_encoder must be a torchvision model name, got {encoder!r}")
    if not isinstance(config["text_encoder"], str) or not config["text_encoder"]:
        raise UsageError(f"text_encoder must be a name or a folder, got {config['text_encoder']!r}")
    if not isinstance(config["random_text"], dict):
        raise UsageError(f"random_text must be a mapping, got {config['random_text']!r}")
    check_types(config["random_text"], default_config("train")["random_text"], "random_text.")
    baselines = config["baselines"]
    ok = isinstance(baselines, list) and all(b in TEXT_BASELINES for b in baselines)
    _require("baselines", baselines, ok, f"a list of {', '.join(TEXT_BASELINES)} (or [])")


def _require(key: str, value: Any, ok: bool, what: str) -> None:
    if not ok:
        raise UsageError(f"{key} must be {what}, got {value!r}")


def _require_optional_path(key: str, value: Any) -> None:
    ok = value is None or (isinstance(value, str) and bool(value))
    _require(key, value, ok, "null or a path")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value
