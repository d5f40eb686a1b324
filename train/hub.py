"""Hugging Face Hub conventions for run folders: ids, local folders and portable paths.

``HashtagModel`` and ``Predictor`` load with ``from_pretrained`` (huggingface_hub's
``ModelHubMixin``): a local folder is read in place, anything else is a Hub repo id downloaded
into the Hub cache first. Paths the training settings name (the dataset, the feature cache, weight
files) are stored relative to the run folder, so a run folder copied elsewhere, pushed to the Hub
or opened by another user records nothing of the machine that wrote it.
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
    """config.json's record with every path relative to ``run_dir`` (POSIX separators)."""
    train = {
        key: _relative(value, run_dir) if key in PATH_KEYS else value
        for key, value in record.get("train", {}).items()
    }
    portable = {**record, "train": train}
    model = record.get("model")
    if model:
        model = {**model, "text_encoder": _relative(model.get("text_encoder"), run_dir)}
        if model.get("text_config"):  # transformers records where the weights came from
            text_config = model["text_config"]
            name = text_config.get("_name_or_path")
            model["text_config"] = {**text_config, "_name_or_path": _relative(name, run_dir)}
        portable["model"] = model
    return portable


def resolved_settings(train: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """The ``train`` section with its relative paths resolved against ``run_dir`` again; a
    name that is no path there (a Hub model id, ``minilm``) stays as it is."""
    resolved = dict(train)
    for key in PATH_KEYS:
        value = resolved.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            candidate = run_dir / value
            if key == "dataset" or candidate.exists():
                resolved[key] = str(candidate.resolve())
    return resolved


def _relative(value: Any, run_dir: Path) -> Any:
    """A path as seen from ``run_dir``; anything that names no local path is kept."""
    if not isinstance(value, str) or not value:
        return value
    path = Path(value)
    if not (path.is_absolute() or path.exists()):
        return value
    return Path(os.path.relpath(path.resolve(), run_dir.resolve())).as_posix()
