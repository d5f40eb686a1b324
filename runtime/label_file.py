"""``labels.txt``: the label vocabulary, one hashtag per line in index order.

The dataset directory and the checkpoint directory both carry it (the checkpoint copies the
dataset's), and the build, the export, training, the checkpoint check and serving all read it:
one reader and one writer here, so they cannot disagree about blank lines or errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from runtime.errors import UsageError
from runtime.files import atomic_write_text

LABELS_FILE = "labels.txt"
FILE_MODE = 0o644
"""Read by other users (a served checkpoint, a shared dataset)."""


def read_labels(folder: Path, kind: str) -> list[str]:
    """The labels in ``folder`` (a ``kind`` directory: "dataset" or "checkpoint"), or a
    UsageError naming the file and what is wrong with it."""
    path = Path(folder) / LABELS_FILE
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise UsageError(
            f"{path} is missing: {folder} is not a complete {kind} directory"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is damaged ({exc})") from None
    labels = [line.strip() for line in text.splitlines() if line.strip()]
    if not labels:
        raise UsageError(f"{path} holds no labels")
    return labels


def write_labels(folder: Path, labels: Sequence[str]) -> None:
    """Write ``folder/labels.txt`` atomically."""
    atomic_write_text(Path(folder) / LABELS_FILE, "".join(f"{t}\n" for t in labels), FILE_MODE)
