"""Where a training run writes: a staging folder beside ``--out`` until its first checkpoint.

A new run fills ``.OUT.building-PID+HOST+...`` (runtime.files' staging names), which becomes
``--out`` in one rename once ``model.safetensors`` and ``last/`` are in it; from then on the run
writes in place. So ``--out`` holds a run or nothing: a run that fails before its first
checkpoint (a full disk, say) removes its staging folder and the folders it created above it,
and one killed outright leaves a staging folder that the next run for the same ``--out``
recognises (its process is gone) and deletes. The retry is the same command, without
``--resume`` and without clean-up. A resumed run writes in place from the
start.

Only rank 0 writes; the other ranks of a torchrun job get a folder that is never written.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter

from runtime.checkpoint_check import LOG_FILE
from runtime.errors import UsageError
from runtime.files import (
    append_jsonl,
    missing_parents,
    new_stage,
    promote_stage,
    remove_empty_folders,
)
from train import checkpoint

log = logging.getLogger(__name__)
TENSORBOARD_DIR = "tensorboard"


class RunFolder:
    """The run's files as they are written: ``train_log.jsonl`` lines, TensorBoard scalars, and
    the move from the staging folder to ``--out``."""

    def __init__(self, out: Path, path: Path, writes: bool) -> None:
        self.out = out
        self.path = path  # the staging folder until promote(), then ``out``
        self.board = SummaryWriter(str(path / TENSORBOARD_DIR)) if writes else None

    @property
    def staged(self) -> bool:
        return self.path != self.out

    @property
    def log_path(self) -> Path:
        return self.path / LOG_FILE

    def log(self, entry: dict[str, Any]) -> None:
        """One train_log.jsonl line; its figures also as TensorBoard scalars at the global step."""
        append_jsonl(self.log_path, [{**entry, "time": time.time()}])
        if self.board is not None:
            for key, value in entry.items():
                if isinstance(value, float):
                    self.board.add_scalar(f"{entry['event']}/{key}", value, entry.get("step", 0))

    def log_epoch(self, entry: dict[str, Any]) -> None:
        """The end-of-epoch figures again with the epoch as x axis (the report's curves)."""
        if self.board is None:
            return
        for key in ("train_loss", "map", "lr"):
            self.board.add_scalar(f"epoch/{key}", entry[key], entry["epoch"])
        self.board.flush()

    def promote(self) -> None:
        """The staging folder becomes ``--out`` (once, after the first checkpoint). The event
        file is closed first and a new one opened in place: TensorBoard reads both."""
        if not self.staged:
            return
        self.close()
        promote_stage(self.path, self.out, checkpoint.DIR_MODE)
        self.path = self.out
        self.board = SummaryWriter(str(self.out / TENSORBOARD_DIR))
        log.info("first checkpoint saved: the run is in %s", self.out)

    def close(self) -> None:
        if self.board is not None:
            self.board.close()
            self.board = None


@contextmanager
def open_run_folder(out: Path, resume: bool, writes: bool) -> Iterator[RunFolder]:
    """The folder a run writes into (``writes``: this is rank 0), for an ``out`` that passed
    :func:`refuse_existing_run`. On any exit the TensorBoard writer is closed (its thread must be
    done before a folder is removed), and a staging folder that never became ``out`` is deleted."""
    created = missing_parents(out)
    path = new_stage(out) if writes and not resume else out
    folder = RunFolder(out, path, writes)
    try:
        yield folder
    finally:
        folder.close()
        if writes and folder.staged:
            shutil.rmtree(folder.path, ignore_errors=True)
            remove_empty_folders(created)  # no empty runs/ either


def refuse_existing_run(out: Path) -> None:
    """A new run goes to a new or empty ``--out``: a folder with files in it is never replaced."""
    if (out / checkpoint.WEIGHTS_FILE).exists() or (out / checkpoint.LAST_DIR).exists():
        raise UsageError(f"{out} already holds a run: pass --resume or another --out")
    if out.is_dir() and any(out.iterdir()):
        raise UsageError(
            f"--out {out} is not empty and holds no run: give a new or empty folder "
            "(the run appears there when its first checkpoint is saved)"
        )
