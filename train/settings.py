"""hashtag-evaluate's settings: their types and limits (the values: configs/evaluate.yaml).

Validated once when the command starts (runtime.settings): ``--batch-size 0`` or
``--set dataset=5`` is one line and exit 2, not a library error minutes into scoring.
"""

from __future__ import annotations

import typing
from typing import Annotated, Literal

from pydantic import Field

from runtime.settings import Settings

Split = Literal["train", "val", "test"]
SPLITS: tuple[str, ...] = typing.get_args(Split)  # the splits of a dataset directory
PathText = Annotated[str, Field(min_length=1)]  # a file or folder named in a YAML setting


class EvaluateSettings(Settings):
    stage = "evaluate"

    dataset: PathText | None  # null: the dataset the checkpoint was trained on
    split: Split
    baselines: list[str]
    batch_size: int = Field(ge=1)
