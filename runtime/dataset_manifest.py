"""What a dataset directory's ``manifest.json`` says about the whole dataset (Contract 2).

Light on purpose (no torch): the training and evaluation commands read it while checking their
flags, before any model or data is loaded.
"""

from __future__ import annotations

import json
from pathlib import Path

from runtime.errors import UsageError

MANIFEST_FILE = "manifest.json"


def is_text_only(dataset_dir: Path) -> bool:
    """Whether the dataset was built with ``--text-only`` (manifest ``text_only: true``): its
    posts have no image. A dataset without that record (older builds) has images."""
    try:
        manifest = json.loads((Path(dataset_dir) / MANIFEST_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("text_only") is True


def check_modality(dataset_dir: Path, modality: str, what: str) -> None:
    """Refuse an image or both model on a text-only dataset: it has no picture to learn or be
    scored on, and a model fed only neutral pixels would look fine while meaning nothing."""
    if modality != "text" and is_text_only(dataset_dir):
        raise UsageError(
            f"{dataset_dir} is a text-only dataset (built with --text-only): {what} has "
            f"modality {modality!r}; use --modality text"
        )
