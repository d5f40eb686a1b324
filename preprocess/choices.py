"""The allowed values of the choice keys of configs/dataset.yaml, written once: the flags of
``hashtag-build-dataset build`` offer them and :func:`check_choices` checks ``--config`` and
``--set`` values against them."""

from __future__ import annotations

from typing import Any

from preprocess.langid import BACKENDS
from preprocess.readers import FORMATS
from preprocess.splits import SPLIT_BY
from runtime.config import get_dotted
from runtime.errors import UsageError

CHOICES: dict[str, tuple[str, ...]] = {
    "input_format": ("auto", *FORMATS),
    "labels.balance": ("none", "sqrt"),
    "splits.by": SPLIT_BY,
}
NULLABLE_CHOICES: dict[str, tuple[str, ...]] = {"language.backend": BACKENDS}  # null: default


def check_choices(config: dict[str, Any]) -> None:
    """Raise a UsageError naming the first choice key whose value is not one of its choices."""
    for key, allowed in {**CHOICES, **NULLABLE_CHOICES}.items():
        value = get_dotted(config, key)
        if value is None and key in NULLABLE_CHOICES:
            continue
        if value not in allowed:
            raise UsageError(f"{key} must be one of {', '.join(allowed)}, got {value!r}")
