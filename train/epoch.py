"""The optimisation of a run: the optimiser and schedule (:func:`make_trainer`) and one epoch of
micro-batches, gradient accumulation and clipping (:func:`train_epoch`), logged as it goes."""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from transformers import get_linear_schedule_with_warmup

from runtime.progress import progress_bar
from train.inputs import Data, frozen_image
from train.model import HashtagModel, hashtag_loss
from train.run_folder import RunFolder
from train.run_setup import RunState, Setup
from train.settings import TrainSettings


@dataclass
class Trainer:
    """The model (``wrapped`` in DDP and/or torch.compile for the forward pass) and its
    optimiser and schedule."""

    model: HashtagModel
    wrapped: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any


def make_trainer(setup: Setup, model: HashtagModel, batches_per_epoch: int) -> Trainer:
    """AdamW with two learning rates, linear warm-up and decay over the whole run, and the
    model wrapped for DDP and ``--compile``."""
    settings = setup.config
    steps_per_epoch = math.ceil(batches_per_epoch / settings.grad_accum_steps)
    total_steps = steps_per_epoch * settings.epochs
    groups = _param_groups(model, settings)
    optimizer = torch.optim.AdamW(groups, weight_decay=settings.weight_decay)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, round(settings.warmup_ratio * total_steps), total_steps
    )
    wrapped = DistributedDataParallel(model) if setup.world.active else model
    if settings.compile:
        wrapped = torch.compile(wrapped)
    return Trainer(model, wrapped, optimizer, scheduler)


def train_epoch(
    setup: Setup, trainer: Trainer, data: Data, state: RunState, folder: RunFolder
) -> float:
    """One pass over this rank's share of the train split; returns its mean loss. A
    ``train`` log line every ``log_every`` optimiser steps and at the epoch's end."""
    settings, world, loader = setup.config, setup.world, data.loader
    accumulate, batches = settings.grad_accum_steps, len(loader)
    data.sampler.set_epoch(state.epoch)
    trainer.model.train()
    if frozen_image(trainer.model, settings):
        trainer.model.image_backbone.eval()
    bar = progress_bar(
        total=batches,
        desc=f"epoch {state.epoch + 1}/{settings.epochs}",
        disable=not (setup.progress and world.is_main),
    )
    window = _LossWindow()
    epoch_loss = _LossWindow()
    for micro_step, batch in enumerate(loader):
        is_update = (micro_step + 1) % accumulate == 0 or micro_step + 1 == batches
        loss, samples = _forward_backward(setup, trainer, batch, synced=is_update)
        window.add(loss, samples)
        epoch_loss.add(loss, samples)
        bar.update(1)
        if not is_update:
            continue
        _optimizer_step(trainer, settings.max_grad_norm)
        state.step += 1
        if state.step % settings.log_every == 0 or micro_step + 1 == batches:
            entry = window.entry(state, trainer, world.world_size)
            bar.set_postfix(loss=f"{entry['loss']:.4f}", sps=f"{entry['samples_per_s']:.0f}")
            if world.is_main:
                folder.log(entry)
            window = _LossWindow()
    bar.close()
    return epoch_loss.mean()


class _LossWindow:
    """Loss summed over samples since the window opened. A device tensor after the first add:
    ``.item()`` per batch would wait for the GPU every time; it is read once per window."""

    def __init__(self) -> None:
        self.loss: Any = 0.0
        self.samples = 0
        self.started = time.perf_counter()

    def add(self, loss: torch.Tensor, samples: int) -> None:
        self.loss += loss.detach().double() * samples
        self.samples += samples

    def mean(self) -> float:
        return float(self.loss) / max(self.samples, 1)

    def entry(self, state: RunState, trainer: Trainer, world_size: int) -> dict[str, Any]:
        elapsed = time.perf_counter() - self.started
        return {
            "event": "train",
            "epoch": state.epoch + 1,
            "step": state.step,
            "loss": self.mean(),
            "lr": trainer.scheduler.get_last_lr()[-1],
            "samples_per_s": self.samples * world_size / max(elapsed, 1e-9),
        }


def _forward_backward(
    setup: Setup, trainer: Trainer, batch: dict[str, torch.Tensor], synced: bool
) -> tuple[torch.Tensor, int]:
    """Loss of one micro-batch, its gradient accumulated (DDP syncs only on ``synced`` steps);
    bf16 autocast on GPU."""
    device = setup.device
    batch = {key: value.to(device, non_blocking=True) for key, value in batch.items()}
    targets = batch.pop("targets")
    no_sync = setup.world.active and not synced
    sync = trainer.wrapped.no_sync() if no_sync else contextlib.nullcontext()
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    with sync:
        with autocast:
            logits = trainer.wrapped(**batch)
        loss = hashtag_loss(logits.float(), targets, setup.config.loss)
        (loss / setup.config.grad_accum_steps).backward()
    return loss, len(targets)


def _optimizer_step(trainer: Trainer, max_grad_norm: float) -> None:
    torch.nn.utils.clip_grad_norm_(trainer.model.parameters(), max_grad_norm)
    trainer.optimizer.step()
    trainer.scheduler.step()
    trainer.optimizer.zero_grad(set_to_none=True)


def _param_groups(model: HashtagModel, settings: TrainSettings) -> list[dict]:
    """Pretrained encoders take the small ``lr``; new layers (and random encoders) ``head_lr``;
    frozen parts (a frozen encoder, the wide part) none."""
    encoders = (
        (model.text_encoder, settings.text_init),
        (model.image_backbone, settings.image_init),
    )
    pretrained = [m for m, init in encoders if m is not None and init == "pretrained"]
    slow = [p for module in pretrained for p in module.parameters() if p.requires_grad]
    slow_ids = {id(p) for p in slow}
    fast = [p for p in model.parameters() if p.requires_grad and id(p) not in slow_ids]
    groups = [{"params": fast, "lr": settings.head_lr}]
    if slow:
        groups.append({"params": slow, "lr": settings.lr})
    return groups
