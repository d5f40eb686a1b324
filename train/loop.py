"""The training run, top to bottom: :func:`train` reads as the list of its steps.

One process trains alone; under ``torchrun`` every process runs this same function and DDP keeps
them in step (gloo on CPU, nccl on GPU). Rank 0 alone writes files and evaluates; the others wait
at barriers. Shuffling is seeded by ``seed + epoch`` and the RNG states are saved with ``last/``
at each epoch end, so ``--resume`` continues exactly where an uninterrupted run would be. A new
run writes into a staging folder that becomes ``--out`` at its first checkpoint (train.run_folder).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Sampler
from transformers import get_linear_schedule_with_warmup
from transformers.utils import logging as hf_logging

from runtime.files import repair_torn_tail
from runtime.progress import progress_bar, stderr_is_terminal
from runtime.settings import validate
from train import checkpoint
from train.baselines import fit_tfidf
from train.blend import INITIAL_ALPHA, choose_blend
from train.data import (
    Collator,
    ImageInput,
    PostDataset,
    demojized,
    load_dataset,
    multi_hot,
    tokenize,
)
from train.data import train_sampler as make_train_sampler
from train.distributed import (
    Distributed,
    broadcast,
    capture_rng,
    main_first,
    pick_device,
    restore_rng,
    seed_everything,
    start_distributed,
)
from train.encoders import (
    image_backbone,
    image_input,
    load_backbone_weights,
    random_text_encoder,
    train_tokenizer,
)
from train.evaluate import metrics_report, text_baseline_probs
from train.features import (
    FeatureCache,
    backbone_key,
    default_cache_root,
    image_keys,
    text_key,
)
from train.model import HashtagModel, attach_ngrams, hashtag_loss, model_from_config
from train.report import REPORT_FILE, SplitScores, read_history, write_report
from train.run_folder import RunFolder, open_run_folder, refuse_existing_run
from train.scores import mean_average_precision, ranking_metrics
from train.settings import TrainSettings
from train.weights import (
    DOWNLOAD,
    WeightsSource,
    go_offline,
    image_source,
    image_state_dict,
    load_text_encoder,
    offline_mode,
    text_source,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Setup:
    """What every step reads: the checked config, this process's place and device, where the
    encoders' weights come from (empty on resume: the run's own weights), the paths given."""

    config: dict[str, Any]
    world: Distributed
    device: torch.device
    sources: dict[str, WeightsSource]
    dataset_dir: Path
    out_dir: Path
    resume: bool
    progress: bool


@dataclass
class Data:
    """The dataset as the model reads it: labels, split frames, their PyTorch datasets, this
    rank's train loader, and the collators of training (the deep part's inputs) and of the final
    scoring (with the wide part's n-grams)."""

    labels: list[str]
    frames: dict[str, pd.DataFrame]
    datasets: dict[str, PostDataset]
    collate: Collator
    scoring_collate: Collator
    sampler: Sampler[int]
    loader: DataLoader


@dataclass
class Trainer:
    """The model (``wrapped`` in DDP and/or torch.compile for the forward pass) and its
    optimiser and schedule."""

    model: HashtagModel
    wrapped: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any


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


def train(
    config: dict[str, Any], dataset_dir: Path, out_dir: Path, resume: bool, progress: bool
) -> dict[str, Any]:
    """Train per ``config`` and return the metrics written to ``out_dir/metrics.json``."""
    setup = prepare_run(config, dataset_dir, out_dir, resume, progress)
    labels, frames = load_dataset(dataset_dir)
    with open_run_folder(out_dir, resume, writes=setup.world.is_main) as folder:
        model, tokenizer, model_config, saved = load_model(setup, labels, frames)
        if setup.world.is_main:
            save_run_record(folder, setup, model, model_config, labels, tokenizer)
        data = make_data(setup, model, model_config, tokenizer, labels, frames, folder)
        trainer = make_trainer(setup, model, len(data.loader))
        state = restore_or_start(setup, trainer, saved, folder)
        while state.epoch < config["epochs"]:
            train_loss = train_epoch(setup, trainer, data, state, folder)
            state = end_epoch(setup, trainer, data, state, folder, train_loss)
            if should_stop(config, state):
                break
        if setup.world.is_main:
            val = data.datasets["val"], data.scoring_collate, setup.config, setup.device
            choose_blend(model, folder, functools.partial(predict_loader, model, *val))
        metrics = final_metrics(setup, model, data, folder) if setup.world.is_main else {}
    setup.world.finish()
    return metrics


def prepare_run(
    config: dict[str, Any], dataset_dir: Path, out_dir: Path, resume: bool, progress: bool
) -> Setup:
    """Check the config and ``--out``, say where the weights come from, join torchrun's group,
    pick the device and seed everything: all before any data is read."""
    validate(TrainSettings, config)
    if not resume:
        refuse_existing_run(out_dir)
    sources = {} if resume else weights_plan(config)  # a resumed run reads its own weights
    if not (progress and stderr_is_terminal()):  # transformers' own bars are tqdm frames
        hf_logging.disable_progress_bar()
    world = start_distributed()
    device = pick_device(config["device"], world)
    seed_everything(config["seed"])
    return Setup(config, world, device, sources, dataset_dir, out_dir, resume, progress)


def load_model(
    setup: Setup,
    labels: list[str],
    frames: dict[str, pd.DataFrame],
) -> tuple[HashtagModel, Any, dict[str, Any], dict[str, Any] | None]:
    """A new model (``build_model``) or the resumed run's, on the device, plus its tokenizer,
    its config.json ``model`` record and (on resume) the saved optimiser/RNG state."""
    saved_state, out_dir = None, setup.out_dir
    if setup.resume:  # weights first: the frozen backbone's features are cached from them
        saved = checkpoint.read_config(out_dir)
        model = model_from_config(saved["model"])
        tokenizer, model_config = checkpoint.load_tokenizer(out_dir), saved["model"]
        attach_ngrams(model, out_dir)
        saved_state = checkpoint.load_last(out_dir, model)
    else:
        downloads = any(source.origin == DOWNLOAD for source in setup.sources.values())
        with main_first(setup.world, downloads):  # one rank fills the caches, the others read
            model, tokenizer, model_config = build_model(
                setup.config, labels, frames["train"], setup.sources, setup.progress
            )
        model_config["demojize"] = demojized(setup.dataset_dir)  # serving repeats the dataset's
    model.to(setup.device)
    if frozen_image(model, setup.config):
        model.image_backbone.requires_grad_(False)
    if frozen_text(model, setup.config):
        model.text_encoder.requires_grad_(False)
    return model, tokenizer, model_config, saved_state


def save_run_record(
    folder: RunFolder,
    setup: Setup,
    model: HashtagModel,
    model_config: dict[str, Any],
    labels: list[str],
    tokenizer: Any,
) -> None:
    """config.json (and for a new run labels.txt and tokenizer/), written before training so a
    resumed run rebuilds the same architecture and vocabulary."""
    record = {
        "run_name": folder.out.resolve().name,
        "train": {**setup.config, "dataset": str(setup.dataset_dir)},  # stored relative
        "model": model_config,
    }
    if setup.resume:  # labels and tokenizer were just read from the run: only the config changes
        checkpoint.save_config(folder.path, record)
    else:  # the staging folder is --out's sibling: the relative paths stay right after the move
        checkpoint.save_run_files(folder.path, record, labels, tokenizer, model.ngrams)


def make_data(
    setup: Setup,
    model: HashtagModel,
    model_config: dict[str, Any],
    tokenizer: Any,
    labels: list[str],
    frames: dict[str, pd.DataFrame],
    folder: RunFolder,
) -> Data:
    """Datasets of every split (cached encoder features in frozen mode), the collators, the
    per-epoch shuffling sampler of this rank and the train loader."""
    config = setup.config
    image = ImageInput.from_record(model_config) if model.uses_image else None
    features = _cached_features(model, image, frames, setup, folder)
    text_features = _cached_text_features(model, tokenizer, frames, setup, folder)
    frozen = frozen_image(model, config)
    datasets = {
        split: PostDataset(
            frame,
            setup.dataset_dir,
            len(labels),
            image=image if not frozen else None,
            features=features.get(split),
            text_features=text_features.get(split),
        )
        for split, frame in frames.items()
    }
    tokens = tokenizer if model.uses_text and not frozen_text(model, config) else None
    collate = Collator(tokens, config["max_seq_len"])
    scoring_collate = Collator(tokens, config["max_seq_len"], model.ngrams)
    world = setup.world
    sampler = make_train_sampler(
        frames["train"], config["weighted_sampling"], config["seed"], world.rank, world.world_size
    )
    loader = DataLoader(
        datasets["train"],
        batch_size=config["batch_size"],
        sampler=sampler,
        collate_fn=collate,
        num_workers=config["num_workers"],
        drop_last=len(sampler) > config["batch_size"],
        persistent_workers=config["num_workers"] > 0,
    )
    return Data(labels, frames, datasets, collate, scoring_collate, sampler, loader)


def make_trainer(setup: Setup, model: HashtagModel, batches_per_epoch: int) -> Trainer:
    """AdamW with two learning rates, linear warm-up and decay over the whole run, and the
    model wrapped for DDP and ``--compile``."""
    config = setup.config
    steps_per_epoch = math.ceil(batches_per_epoch / config["grad_accum_steps"])
    total_steps = steps_per_epoch * config["epochs"]
    optimizer = torch.optim.AdamW(_param_groups(model, config), weight_decay=config["weight_decay"])
    scheduler = get_linear_schedule_with_warmup(
        optimizer, round(config["warmup_ratio"] * total_steps), total_steps
    )
    wrapped = DistributedDataParallel(model) if setup.world.active else model
    if config["compile"]:
        wrapped = torch.compile(wrapped)
    return Trainer(model, wrapped, optimizer, scheduler)


def restore_or_start(
    setup: Setup, trainer: Trainer, saved: dict[str, Any] | None, folder: RunFolder
) -> RunState:
    """The saved optimiser, schedule, progress and RNG states on resume; else a fresh start."""
    if saved is None:  # set-up draws vary (a feature-cache miss runs a DataLoader); training's not
        seed_everything(setup.config["seed"])
        return RunState()
    trainer.optimizer.load_state_dict(saved["optimizer"])
    trainer.scheduler.load_state_dict(saved["scheduler"])
    state = RunState(**saved["progress"])
    restore_rng(saved["rng"])
    if setup.world.is_main:
        repair_torn_tail(folder.log_path)
    log.info("resuming at epoch %d, step %d", state.epoch, state.step)
    return state


def train_epoch(
    setup: Setup, trainer: Trainer, data: Data, state: RunState, folder: RunFolder
) -> float:
    """One pass over this rank's share of the train split; returns its mean loss. A
    ``train`` log line every ``log_every`` optimiser steps and at the epoch's end."""
    config, world, loader = setup.config, setup.world, data.loader
    accumulate, batches = config["grad_accum_steps"], len(loader)
    data.sampler.set_epoch(state.epoch)
    trainer.model.train()
    if frozen_image(trainer.model, config):
        trainer.model.image_backbone.eval()
    bar = progress_bar(
        total=batches,
        desc=f"epoch {state.epoch + 1}/{config['epochs']}",
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
        _optimizer_step(trainer, config["max_grad_norm"])
        state.step += 1
        if state.step % config["log_every"] == 0 or micro_step + 1 == batches:
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
            logits = trainer.wrapped(**batch, deep_only=True)
        loss = hashtag_loss(logits.float(), targets, setup.config["loss"])
        (loss / setup.config["grad_accum_steps"]).backward()
    return loss, len(targets)


def _optimizer_step(trainer: Trainer, max_grad_norm: float) -> None:
    torch.nn.utils.clip_grad_norm_(trainer.model.parameters(), max_grad_norm)
    trainer.optimizer.step()
    trainer.scheduler.step()
    trainer.optimizer.zero_grad(set_to_none=True)


def end_epoch(
    setup: Setup,
    trainer: Trainer,
    data: Data,
    state: RunState,
    folder: RunFolder,
    train_loss: float,
) -> RunState:
    """Rank 0 validates, keeps the best weights, logs and saves ``last/`` (the first time, the
    staging folder then becomes ``--out``); every rank gets rank 0's progress back."""
    state.epoch += 1
    state.epochs_this_run += 1
    if setup.world.is_main:
        model = trainer.model
        val_probs, val_targets = predict_loader(
            model, data.datasets["val"], data.collate, setup.config, setup.device, deep_only=True
        )
        val_map = mean_average_precision(val_probs, val_targets)
        improved = val_map > state.best_map
        if improved:
            state.best_map, state.stale_epochs = val_map, 0
            checkpoint.save_weights(model, folder.path / checkpoint.WEIGHTS_FILE)
        else:
            state.stale_epochs += 1
        entry = {
            "event": "val",
            "epoch": state.epoch,
            "step": state.step,
            "map": val_map,
            "p@1": ranking_metrics(val_probs, val_targets, ks=(1,))["p@1"],
            "train_loss": train_loss,
            "lr": trainer.scheduler.get_last_lr()[-1],
            "best": improved,
        }
        folder.log(entry)
        folder.log_epoch(entry)
        checkpoint.save_last(
            folder.path,
            model,
            {
                "optimizer": trainer.optimizer.state_dict(),
                "scheduler": trainer.scheduler.state_dict(),
                "progress": state.saved(),
                "rng": capture_rng(),
            },
        )
        folder.promote()
    return broadcast(state, setup.world)


def should_stop(config: dict[str, Any], state: RunState) -> bool:
    """Early stopping after ``patience`` epochs without a val mAP gain, or the invocation's
    ``stop_after_epochs`` budget (the run continues with ``--resume``)."""
    if state.stale_epochs >= config["patience"]:
        log.info("val mAP has not improved for %d epochs: stopping", config["patience"])
        return True
    if config["stop_after_epochs"] and state.epochs_this_run >= config["stop_after_epochs"]:
        log.info("stopping after %d epochs as asked; continue with --resume", state.epochs_this_run)
        return True
    return False


def final_metrics(setup: Setup, model: HashtagModel, data: Data, folder: RunFolder) -> dict:
    """The best weights scored on val and test beside the popularity baseline and the
    ``baselines`` setting's (tfidf by default) in metrics.json and the run's report.html."""
    run = folder.path
    checkpoint.load_weights(model, run / checkpoint.WEIGHTS_FILE)
    probs = {
        split: predict_loader(
            model, data.datasets[split], data.scoring_collate, setup.config, setup.device
        )
        for split in ("val", "test")
    }
    names, splits = setup.config["baselines"], ("val", "test")
    baselines = text_baseline_probs(names, data.frames, len(data.labels), splits)
    metrics = metrics_report(probs, data.datasets["train"].targets.numpy(), baselines)
    checkpoint.write_metrics(run, metrics)
    test = SplitScores("test", data.frames["test"], setup.dataset_dir, *probs["test"], data.labels)
    shown = {name: values["test"] for name, values in metrics["baselines"].items()}
    report = write_report(
        run / REPORT_FILE, run.resolve().name, test, metrics["test"], read_history(run), shown
    )
    log.info("report: %s", report)
    return metrics


def weights_plan(config: dict[str, Any]) -> dict[str, WeightsSource]:
    """Where each encoder's weights will come from, logged before any work; missing weights
    when offline (or an unknown encoder) stop the run here."""
    offline = offline_mode(config["offline"])
    if offline:
        go_offline()
    sources = {}
    if config["modality"] != "image":
        sources["text"] = text_source(config["text_encoder"], config["text_init"], offline)
    if config["modality"] != "text":
        sources["image"] = image_source(
            config["image_encoder"], config["image_init"], config["image_weights"], offline
        )
    for source in sources.values():
        log.info("%s", source.describe())
    return sources


def build_model(
    config: dict[str, Any],
    labels: list[str],
    train_frame: pd.DataFrame,
    sources: dict[str, WeightsSource],
    progress: bool,
) -> tuple[HashtagModel, Any, dict[str, Any]]:
    """A new model from pretrained or random encoders (and, when ``ngram_features`` > 0 and the
    model reads text, a wide part: the TF-IDF + logistic regression fit on the train split, that
    many n-grams of each kind), plus the ``model`` record of config.json (with where each
    encoder's weights came from, under ``weights``)."""
    text_encoder = tokenizer = backbone = None
    used = dict(sources)  # a download is recorded with the revision it fetched
    if "text" in sources and config["text_init"] == "random":
        tokenizer = train_tokenizer(
            train_frame["text"].fillna("").tolist(), config["random_tokenizer_vocab"]
        )
        text_encoder = random_text_encoder(
            config["random_text"], len(tokenizer), config["max_seq_len"]
        )
    elif "text" in sources:
        text_encoder, tokenizer, used["text"] = load_text_encoder(sources["text"])
    wide = None
    if "text" in sources and config["ngram_features"]:
        targets = multi_hot(train_frame["labels"].tolist(), len(labels)).numpy()
        texts = train_frame["text"].fillna("").tolist()
        wide = fit_tfidf(texts, targets, config["seed"], config["ngram_features"])
    name = config["image_encoder"]
    if "image" in sources:
        backbone = image_backbone(name)
        if config["image_init"] == "pretrained":
            load_backbone_weights(backbone, name, image_state_dict(sources["image"], progress))
    model_config = {
        "modality": config["modality"],
        "num_labels": len(labels),
        "text_encoder": config["text_encoder"] if config["text_init"] == "pretrained" else "random",
        "text_config": text_encoder.config.to_dict() if text_encoder is not None else None,
        "text_pooling": config["text_pooling"],
        "text_dim": config["text_dim"],
        "image_dim": config["image_dim"],
        "dropout": config["dropout"],
        "wide_dim": wide.vectorizer.dim if wide is not None else 0,
        "loss": config["loss"],
        "blend_alpha": INITIAL_ALPHA,  # until training chooses it on val
        "max_seq_len": config["max_seq_len"],
        "image_backbone": name,
        **image_input(name, config["image_size"]).record(),
        "text_init": config["text_init"],
        "image_init": config["image_init"],
        "weights": {encoder: source.record() for encoder, source in used.items()},
    }
    model = HashtagModel.from_record(model_config, text_encoder, backbone)
    if wide is not None:
        model.set_wide(*(torch.from_numpy(array) for array in wide.linear()))
        model.ngrams = wide.vectorizer
    return model, tokenizer, model_config


def predict_loader(
    model: HashtagModel,
    dataset: PostDataset,
    collate: Collator,
    config: dict[str, Any],
    device: torch.device,
    deep_only: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid scores and targets of a whole split, in order, with dropout off (the deep
    part's alone with ``deep_only``)."""
    was_training = model.training
    model.eval()
    loader = DataLoader(dataset, batch_size=config["eval_batch_size"], collate_fn=collate)
    scores = []
    with torch.inference_mode():
        for batch in loader:
            batch = {key: value.to(device) for key, value in batch.items()}
            batch.pop("targets")
            scores.append(torch.sigmoid(model(**batch, deep_only=deep_only).float()).cpu().numpy())
    model.train(was_training)
    return np.concatenate(scores), dataset.targets.numpy()


def _cached_features(
    model: HashtagModel,
    image: ImageInput | None,
    frames: dict[str, pd.DataFrame],
    setup: Setup,
    folder: RunFolder,
) -> dict[str, Any]:
    """Frozen-image mode: make sure every split's images are cached (rank 0), then map them."""
    config, world = setup.config, setup.world
    if not frozen_image(model, config):
        return {}
    root = Path(config["feature_cache"]) if config["feature_cache"] else default_cache_root()
    key = backbone_key(model.image_backbone, image)
    dim = model.image_backbone.feature_dim
    keys = {split: image_keys(frame["image_sha256"]) for split, frame in frames.items()}
    if world.is_main:
        cache = FeatureCache(root, key, dim)
        images: dict[str, Path | None] = {}
        for split, frame in frames.items():
            for sha, path in zip(keys[split], frame["image"], strict=True):
                images.setdefault(sha, setup.dataset_dir / path if path else None)
        cache.ensure(
            images,
            lambda pixels: model.image_features(pixels.to(setup.device)),
            image,
            batch_size=config["feature_batch_size"],
            num_workers=config["num_workers"],
            progress=setup.progress,
        )
        log.info("feature cache %s: %d hits, %d misses", cache.folder, cache.hits, cache.misses)
        folder.log({"event": "feature_cache", "hits": cache.hits, "misses": cache.misses})
    world.barrier()
    if not world.is_main:  # the index as rank 0 left it
        cache = FeatureCache(root, key, dim)
    return {split: cache.view(split_keys) for split, split_keys in keys.items()}


def _cached_text_features(
    model: HashtagModel,
    tokenizer: Any,
    frames: dict[str, pd.DataFrame],
    setup: Setup,
    folder: RunFolder,
) -> dict[str, Any]:
    """Frozen-text mode: every split's captions encoded once into the cache (rank 0), mapped."""
    config, world = setup.config, setup.world
    if not frozen_text(model, config):
        return {}
    root = Path(config["feature_cache"]) if config["feature_cache"] else default_cache_root()
    vocabulary = json.dumps(sorted(tokenizer.get_vocab().items()))
    inputs = {
        "max_seq_len": config["max_seq_len"],
        "pooling": model.text_pooling,
        "tokenizer": hashlib.sha256(vocabulary.encode()).hexdigest(),
    }
    key = backbone_key(model.text_encoder, inputs)
    dim = model.text_encoder.config.hidden_size
    texts = {split: frame["text"].fillna("").tolist() for split, frame in frames.items()}
    keys = {split: [text_key(text) for text in split_texts] for split, split_texts in texts.items()}
    if world.is_main:
        cache = FeatureCache(root, key, dim)
        unique = {k: t for split in texts for k, t in zip(keys[split], texts[split], strict=True)}

        def encode(batch: list[str]) -> torch.Tensor:
            encoded = tokenize(tokenizer, batch, config["max_seq_len"])
            return model.encode_text(**{k: v.to(setup.device) for k, v in encoded.items()})

        was_training = model.training
        model.eval()
        cache.ensure_texts(unique, encode, config["eval_batch_size"], setup.progress)
        model.train(was_training)
        log.info("text cache %s: %d hits, %d misses", cache.folder, cache.hits, cache.misses)
        folder.log({"event": "text_cache", "hits": cache.hits, "misses": cache.misses})
    world.barrier()
    if not world.is_main:
        cache = FeatureCache(root, key, dim)
    return {split: cache.view(split_keys) for split, split_keys in keys.items()}


def frozen_text(model: HashtagModel, config: dict[str, Any]) -> bool:
    """Frozen-text mode: the text encoder is not trained and the loop feeds cached captions."""
    return model.uses_text and config["text_mode"] == "frozen"


def frozen_image(model: HashtagModel, config: dict[str, Any]) -> bool:
    """Frozen-image mode: the backbone is not trained and the loop feeds its cached features."""
    return model.uses_image and config["image_mode"] == "frozen"


def _param_groups(model: HashtagModel, config: dict[str, Any]) -> list[dict]:
    """Pretrained encoders take the small ``lr``; new layers (and random encoders) ``head_lr``;
    frozen parts (a frozen encoder, the wide part) none."""
    encoders = ((model.text_encoder, "text_init"), (model.image_backbone, "image_init"))
    pretrained = [m for m, init in encoders if m is not None and config[init] == "pretrained"]
    slow = [p for module in pretrained for p in module.parameters() if p.requires_grad]
    slow_ids = {id(p) for p in slow}
    fast = [p for p in model.parameters() if p.requires_grad and id(p) not in slow_ids]
    groups = [{"params": fast, "lr": config["head_lr"]}]
    if slow:
        groups.append({"params": slow, "lr": config["lr"]})
    return groups
