"""config.json as one typed record (Contract 3): the run's name, the settings it was trained
with, and the ``model`` record (train.model_record).

Every reader (hashtag-evaluate's default dataset, ``Predictor``'s name and its
``save_pretrained``, ``hashtag-train --resume``) gets it back validated, with its paths resolved
against the run folder. What older or other folders lack is allowed: a folder written by a bare
``HashtagModel.save_pretrained`` or copied from the Hub has no ``train`` section and no
``run_name``. The ``train`` section is read for its dataset only; its settings are checked where
they are used again, by ``TrainSettings`` once a resumed run's new flags are merged in, so a run
trained with settings since renamed still evaluates and serves. Unknown keys are kept, and a
record saved again is written as it was read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from runtime import checkpoint_check
from runtime.checkpoint_check import CONFIG_FILE
from runtime.errors import UsageError
from runtime.settings import describe
from train.hub import resolved_record
from train.model_record import ModelRecord


class TrainRecord(BaseModel):
    """config.json's ``train`` section: the run's ``TrainSettings``, dumped, and its dataset."""

    model_config = ConfigDict(extra="allow", frozen=True)

    dataset: str | None = None  # the dataset directory the run was trained on

    def settings(self) -> dict[str, Any]:
        """The saved settings (every key but the dataset), as ``TrainSettings`` takes them."""
        return dict(self.model_extra or {})


class RunRecord(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    run_name: str | None = None  # None: name the run by its folder
    train: TrainRecord | None = None  # None: no training record (save_pretrained, a Hub copy)
    model: ModelRecord

    @property
    def dataset(self) -> str | None:
        """The dataset the run recorded, if any."""
        return self.train.dataset if self.train else None

    @classmethod
    def read(cls, record: Any, where: Path) -> RunRecord:
        """A record read from ``where`` (a config.json), or a UsageError naming the bad key."""
        try:
            return cls.model_validate(record)
        except ValidationError as exc:
            raise UsageError(f"{where} is damaged: {describe(cls, exc.errors()[0])}") from None

    def saved(self) -> dict[str, Any]:
        """The record as config.json holds it: the keys it was read with (a default filled in
        for an older folder is not written), lists rather than tuples."""
        return self.model_dump(mode="json", exclude_unset=True)


def read_run_record(run_dir: Path) -> RunRecord:
    """config.json with its paths resolved against ``run_dir``, validated; a missing or
    damaged file is a UsageError naming it (and the bad key)."""
    config = resolved_record(checkpoint_check.read_config(run_dir), run_dir)
    return RunRecord.read(config, run_dir / CONFIG_FILE)
