"""What every step of a run reads (:class:`Setup`) and where the run stands (:class:`RunState`),
and :func:`prepare_run`, which makes the first before any data is read."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers.utils import logging as hf_logging

from runtime.progress import stderr_is_terminal
from train.build import weights_plan
from train.distributed import Distributed, pick_device, seed_everything, start_distributed
from train.run_folder import refuse_existing_run
from train.settings import TrainSettings
from train.weights import WeightsSource


@dataclass(frozen=True)
class Setup:
    """What every step reads: the validated settings (``config``), this process's place and
    device, where the encoders' weights come from (empty on resume: the run's own weights), the
    paths given."""

    config: TrainSettings
    world: Distributed
    device: torch.device
    sources: dict[str, WeightsSource]
    dataset_dir: Path
    out_dir: Path
    resume: bool
    progress: bool


@dataclass
class RunState:
    """Where the run stands; saved in ``last/state.pt`` (as a dict) and broadcast from rank 0
    after each epoch so every rank stops together."""

    epoch: int = 0
    step: int = 0
    best_map: float = -1.0
    stale_epochs: int = 0
    epochs_this_run: int = 0  # not saved: a resumed invocation counts from 0 again

    def saved(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record.pop("epochs_this_run")
        return record


def prepare_run(
    settings: TrainSettings, dataset_dir: Path, out_dir: Path, resume: bool, progress: bool
) -> Setup:
    """Check ``--out``, say where the weights come from, join torchrun's group, pick the device
    and seed everything: all before any data is read."""
    if not resume:
        refuse_existing_run(out_dir)
    sources = {} if resume else weights_plan(settings)  # a resumed run reads its own weights
    if not (progress and stderr_is_terminal()):  # transformers' own bars are tqdm frames
        hf_logging.disable_progress_bar()
    world = start_distributed()
    device = pick_device(settings.device, world)
    seed_everything(settings.seed)
    return Setup(settings, world, device, sources, dataset_dir, out_dir, resume, progress)
