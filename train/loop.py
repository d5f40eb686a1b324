"""The training run, top to bottom: data, model, optimiser, epochs, checkpoints, final metrics.

One process trains alone; under ``torchrun`` every process runs this same function and DDP keeps
them in step (gloo on CPU, nccl on GPU). Rank 0 alone writes files and evaluates; the others wait
at barriers. Shuffling is seeded by ``seed + epoch`` and the RNG states are saved with ``last/``
at each epoch end, so ``--resume`` continues exactly where an uninterrupted run would be.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter
from transformers import get_linear_schedule_with_warmup
from transformers.utils import logging as hf_logging

from runtime.errors import UsageError
from runtime.files import append_jsonl, repair_torn_tail
from runtime.progress import progress_bar
from train import checkpoint
from train.config_check import check_train_config
from train.data import Collator, ImageInput, PostDataset, demojized, load_dataset
from train.data import train_sampler as make_train_sampler
from train.encoders import (
    image_backbone,
    image_input,
    load_backbone_weights,
    random_text_encoder,
    train_tokenizer,
)
from train.evaluate import metrics_report
from train.features import FeatureCache, backbone_key, default_cache_root, image_keys
from train.metrics import mean_average_precision, ranking_metrics
from train.model import HashtagModel, hashtag_loss
from train.report import REPORT_FILE, SplitScores, read_history, write_report
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
TENSORBOARD_DIR = "tensorboard"


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def train(
    config: dict[str, Any], dataset_dir: Path, out_dir: Path, resume: bool, progress: bool
) -> dict[str, Any]:
    """Train per ``config`` and return the metrics written to ``out_dir/metrics.json``."""
    check_train_config(config)
    sources = {} if resume else weights_plan(config)  # a resumed run reads its own weights
    if not progress:  # --quiet also hides transformers' own "Loading weights" bar
        hf_logging.disable_progress_bar()
    world = _start_distributed()
    device = _pick_device(config["device"], world)
    _seed_everything(config["seed"])

    # ---- data and model -------------------------------------------------------------------
    labels, frames = load_dataset(dataset_dir)
    if not resume:
        _refuse_existing_run(out_dir)
    world.barrier()  # every rank has checked before rank 0 writes config.json
    saved_state = None
    if resume:  # weights first: the frozen backbone's features are cached from them
        saved = checkpoint.read_config(out_dir)
        model = checkpoint.model_from_config(saved["model"])
        tokenizer, model_config = checkpoint.load_tokenizer(out_dir), saved["model"]
        saved_state = checkpoint.load_last(out_dir, model)
    else:
        downloads = any(source.origin == DOWNLOAD for source in sources.values())
        with _main_first(world, downloads):  # one rank fills the caches, the others read them
            model, tokenizer, model_config = build_model(
                config, labels, frames["train"], sources, progress
            )
        model_config["demojize"] = demojized(dataset_dir)  # serving repeats the dataset's text
    model.to(device)
    if world.is_main:
        record = {
            "run_name": out_dir.resolve().name,
            "train": {**config, "dataset": str(dataset_dir)},  # stored relative to out_dir
            "model": model_config,
        }
        if resume:  # labels and tokenizer were just read from out_dir: only the config changes
            checkpoint.save_config(out_dir, record)
        else:
            checkpoint.save_run_files(out_dir, record, labels, tokenizer)
    frozen = model.uses_image and config["image_mode"] == "frozen"
    if frozen:
        model.image_backbone.requires_grad_(False)
    log_path = out_dir / checkpoint.LOG_FILE
    image = ImageInput.from_record(model_config) if model.uses_image else None
    features = _cached_features(
        model, image, frames, dataset_dir, config, world, device, log_path, progress
    )
    datasets = {
        split: PostDataset(
            frame,
            dataset_dir,
            len(labels),
            image=image if not frozen else None,
            features=features.get(split),
        )
        for split, frame in frames.items()
    }
    collate = Collator(tokenizer if model.uses_text else None, config["max_seq_len"])
    sampler = make_train_sampler(
        frames["train"], config["weighted_sampling"], config["seed"], world.rank, world.world_size
    )
    train_loader = DataLoader(
        datasets["train"],
        batch_size=config["batch_size"],
        sampler=sampler,
        collate_fn=collate,
        num_workers=config["num_workers"],
        drop_last=len(sampler) > config["batch_size"],
        persistent_workers=config["num_workers"] > 0,
    )

    # ---- optimiser and schedule -----------------------------------------------------------
    accumulate = config["grad_accum_steps"]
    steps_per_epoch = math.ceil(len(train_loader) / accumulate)
    total_steps = steps_per_epoch * config["epochs"]
    optimizer = torch.optim.AdamW(
        _param_groups(model, config),
        weight_decay=config["weight_decay"],
    )
    scheduler = get_linear_schedule_with_warmup(
        optimizer, round(config["warmup_ratio"] * total_steps), total_steps
    )
    progress_state = {"epoch": 0, "step": 0, "best_map": -1.0, "stale_epochs": 0}
    if saved_state is not None:
        optimizer.load_state_dict(saved_state["optimizer"])
        scheduler.load_state_dict(saved_state["scheduler"])
        progress_state = saved_state["progress"]
        _restore_rng(saved_state["rng"])
        if world.is_main:
            repair_torn_tail(log_path)
        log.info("resuming at epoch %d, step %d", progress_state["epoch"], progress_state["step"])
    else:  # set-up draws vary (a feature-cache miss runs a DataLoader); training's must not
        _seed_everything(config["seed"])

    trained = DistributedDataParallel(model) if world.active else model
    if config["compile"]:
        trained = torch.compile(trained)
    board = _tensorboard(out_dir) if world.is_main else None
    try:
        autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")

        # ---- epochs ---------------------------------------------------------------------------
        epochs_this_run = 0
        while progress_state["epoch"] < config["epochs"]:
            epoch = progress_state["epoch"]
            sampler.set_epoch(epoch)
            model.train()
            if frozen:
                model.image_backbone.eval()
            bar = progress_bar(
                total=len(train_loader),
                desc=f"epoch {epoch + 1}/{config['epochs']}",
                disable=not (progress and world.is_main),
            )
            window_loss, window_samples, window_start = 0.0, 0, time.perf_counter()
            epoch_loss, epoch_samples = 0.0, 0
            for micro_step, batch in enumerate(train_loader):
                batch = {key: value.to(device, non_blocking=True) for key, value in batch.items()}
                targets = batch.pop("targets")
                is_update = (micro_step + 1) % accumulate == 0 or micro_step + 1 == len(
                    train_loader
                )
                sync = (
                    contextlib.nullcontext() if is_update or not world.active else trained.no_sync()
                )
                with sync:
                    with autocast:
                        logits = trained(**batch)
                    loss = hashtag_loss(logits.float(), targets, config["loss"])
                    (loss / accumulate).backward()
                # A device tensor after the first add: ``.item()`` here would wait for the GPU at
                # every batch, the log line below reads it once per window.
                window_loss += loss.detach().double() * len(targets)
                window_samples += len(targets)
                epoch_loss += loss.detach().double() * len(targets)
                epoch_samples += len(targets)
                bar.update(1)
                if not is_update:
                    continue
                torch.nn.utils.clip_grad_norm_(model.parameters(), config["max_grad_norm"])
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                progress_state["step"] += 1
                if progress_state["step"] % config["log_every"] == 0 or micro_step + 1 == len(
                    train_loader
                ):
                    elapsed = time.perf_counter() - window_start
                    entry = {
                        "event": "train",
                        "epoch": epoch + 1,
                        "step": progress_state["step"],
                        "loss": float(window_loss) / window_samples,
                        "lr": scheduler.get_last_lr()[-1],
                        "samples_per_s": window_samples * world.world_size / max(elapsed, 1e-9),
                    }
                    bar.set_postfix(
                        loss=f"{entry['loss']:.4f}", sps=f"{entry['samples_per_s']:.0f}"
                    )
                    if world.is_main:
                        _log(log_path, board, entry)
                    window_loss, window_samples, window_start = 0.0, 0, time.perf_counter()
            bar.close()

            # ---- end of epoch: validate, keep the best, save last/ -----------------------------
            progress_state["epoch"] = epoch + 1
            epochs_this_run += 1
            if world.is_main:
                val_probs, val_targets = predict_loader(
                    model, datasets["val"], collate, config, device
                )
                val_map = mean_average_precision(val_probs, val_targets)
                improved = val_map > progress_state["best_map"]
                if improved:
                    progress_state["best_map"] = val_map
                    progress_state["stale_epochs"] = 0
                    checkpoint.save_weights(model, out_dir / checkpoint.WEIGHTS_FILE)
                else:
                    progress_state["stale_epochs"] += 1
                val_entry = {
                    "event": "val",
                    "epoch": epoch + 1,
                    "step": progress_state["step"],
                    "map": val_map,
                    "p@1": ranking_metrics(val_probs, val_targets, ks=(1,))["p@1"],
                    "train_loss": float(epoch_loss) / max(epoch_samples, 1),
                    "lr": scheduler.get_last_lr()[-1],
                    "best": improved,
                }
                _log(log_path, board, val_entry)
                _log_epoch(board, val_entry)
                checkpoint.save_last(
                    out_dir,
                    model,
                    {
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "progress": progress_state,
                        "rng": _capture_rng(),
                    },
                )
            progress_state = _broadcast(progress_state, world)
            if progress_state["stale_epochs"] >= config["patience"]:
                log.info("val mAP has not improved for %d epochs: stopping", config["patience"])
                break
            if config["stop_after_epochs"] and epochs_this_run >= config["stop_after_epochs"]:
                log.info(
                    "stopping after %d epochs as asked; continue with --resume", epochs_this_run
                )
                break

        # ---- final metrics with the best weights ----------------------------------------------
        metrics: dict[str, Any] = {}
        if world.is_main:
            checkpoint.load_weights(model, out_dir / checkpoint.WEIGHTS_FILE)
            probs = {
                split: predict_loader(model, datasets[split], collate, config, device)
                for split in ("val", "test")
            }
            train_targets = datasets["train"].targets.numpy()
            metrics = metrics_report(probs, train_targets)
            checkpoint.write_metrics(out_dir, metrics)
            test = SplitScores("test", frames["test"], dataset_dir, *probs["test"], labels)
            report = write_report(
                out_dir / REPORT_FILE,
                out_dir.resolve().name,
                test,
                metrics["test"],
                read_history(out_dir),
            )
            log.info("report: %s", report)
    finally:  # a failed run's folder is removed: the writer's thread must be done
        if board is not None:
            board.close()
    world.barrier()
    if world.active:
        dist.destroy_process_group()
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
    """A new model from pretrained or random encoders, plus the ``model`` record of config.json
    (with where each encoder's weights came from, under ``weights``)."""
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
        "max_seq_len": config["max_seq_len"],
        "image_backbone": name,
        **image_input(name, config["image_size"]).record(),
        "text_init": config["text_init"],
        "image_init": config["image_init"],
        "weights": {encoder: source.record() for encoder, source in used.items()},
    }
    return HashtagModel.from_record(model_config, text_encoder, backbone), tokenizer, model_config


def predict_loader(
    model: HashtagModel,
    dataset: PostDataset,
    collate: Collator,
    config: dict[str, Any],
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid scores and targets of a whole split, in order, with dropout off."""
    was_training = model.training
    model.eval()
    loader = DataLoader(dataset, batch_size=config["eval_batch_size"], collate_fn=collate)
    scores = []
    with torch.inference_mode():
        for batch in loader:
            batch = {key: value.to(device) for key, value in batch.items()}
            batch.pop("targets")
            scores.append(torch.sigmoid(model(**batch).float()).cpu().numpy())
    model.train(was_training)
    return np.concatenate(scores), dataset.targets.numpy()


def _cached_features(
    model: HashtagModel,
    image: ImageInput | None,
    frames: dict[str, pd.DataFrame],
    dataset_dir: Path,
    config: dict[str, Any],
    world: Distributed,
    device: torch.device,
    log_path: Path,
    progress: bool,
) -> dict[str, Any]:
    """Frozen-image mode: make sure every split's images are cached (rank 0), then map them."""
    if not (model.uses_image and config["image_mode"] == "frozen"):
        return {}
    root = Path(config["feature_cache"]) if config["feature_cache"] else default_cache_root()
    key = backbone_key(model.image_backbone, image)
    dim = model.image_backbone.feature_dim
    if world.is_main:
        cache = FeatureCache(root, key, dim)
        images: dict[str, Path | None] = {}
        for frame in frames.values():
            for sha, path in zip(image_keys(frame["image_sha256"]), frame["image"], strict=True):
                images.setdefault(sha, dataset_dir / path if path else None)
        cache.ensure(
            images,
            lambda pixels: model.image_features(pixels.to(device)),
            image,
            batch_size=config["feature_batch_size"],
            num_workers=config["num_workers"],
            progress=progress,
        )
        log.info("feature cache %s: %d hits, %d misses", cache.folder, cache.hits, cache.misses)
        _log(log_path, None, {"event": "feature_cache", "hits": cache.hits, "misses": cache.misses})
    world.barrier()
    cache = FeatureCache(root, key, dim)
    return {split: cache.view(image_keys(frame["image_sha256"])) for split, frame in frames.items()}


def _refuse_existing_run(out_dir: Path) -> None:
    """A run exists once it saved weights; the config, labels and log that a run killed before
    its first checkpoint left are removed, so the retry needs no ``--resume`` (there is nothing
    to resume) and no manual clean-up."""
    if (out_dir / checkpoint.WEIGHTS_FILE).exists() or (out_dir / checkpoint.LAST_DIR).exists():
        raise UsageError(f"{out_dir} already holds a run: pass --resume or another --out")
    if (out_dir / checkpoint.CONFIG_FILE).exists():
        log.warning("%s holds a run stopped before its first checkpoint: restarting it", out_dir)
        for name in (checkpoint.CONFIG_FILE, checkpoint.LABELS_FILE, checkpoint.LOG_FILE):
            (out_dir / name).unlink(missing_ok=True)
        for name in (checkpoint.TOKENIZER_DIR, TENSORBOARD_DIR):
            shutil.rmtree(out_dir / name, ignore_errors=True)


def _start_distributed() -> Distributed:
    """Join the torchrun process group when launched by torchrun (WORLD_SIZE > 1)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Distributed()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    world = Distributed(dist.get_rank(), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if backend == "gloo":
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    return world


@contextlib.contextmanager
def _main_first(world: Distributed, enabled: bool) -> Iterator[None]:
    """Rank 0 runs the block before the other ranks (when ``enabled``), e.g. a download."""
    if enabled and not world.is_main:
        world.barrier()
    yield
    if enabled and world.is_main:
        world.barrier()


def _pick_device(choice: str, world: Distributed) -> torch.device:
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise UsageError("device cuda asked for but no CUDA GPU is visible")
        torch.cuda.set_device(world.local_rank)
        return torch.device("cuda", world.local_rank)
    return torch.device(choice)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _param_groups(model: HashtagModel, config: dict[str, Any]) -> list[dict]:
    """Pretrained encoders take the small ``lr``; new layers (and random encoders) ``head_lr``."""
    encoders = ((model.text_encoder, "text_init"), (model.image_backbone, "image_init"))
    pretrained = [m for m, init in encoders if m is not None and config[init] == "pretrained"]
    slow = [p for module in pretrained for p in module.parameters() if p.requires_grad]
    slow_ids = {id(p) for p in slow}
    fast = [p for p in model.parameters() if p.requires_grad and id(p) not in slow_ids]
    groups = [{"params": fast, "lr": config["head_lr"]}]
    if slow:
        groups.append({"params": slow, "lr": config["lr"]})
    return groups


def _tensorboard(out_dir: Path) -> SummaryWriter:
    """Event files under OUT/tensorboard: ``tensorboard --logdir OUT`` shows the run."""
    return SummaryWriter(str(out_dir / TENSORBOARD_DIR))


def _log(path: Path, board: SummaryWriter | None, entry: dict[str, Any]) -> None:
    """One train_log.jsonl line; its figures also as TensorBoard scalars at the global step."""
    append_jsonl(path, [{**entry, "time": time.time()}])
    if board is not None:
        for key, value in entry.items():
            if isinstance(value, float):
                board.add_scalar(f"{entry['event']}/{key}", value, entry.get("step", 0))


def _log_epoch(board: SummaryWriter, entry: dict[str, Any]) -> None:
    """The end-of-epoch figures again with the epoch as x axis (the report's curves)."""
    for key in ("train_loss", "map", "lr"):
        board.add_scalar(f"epoch/{key}", entry[key], entry["epoch"])
    board.flush()


def _capture_rng() -> dict[str, Any]:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _broadcast(value: dict[str, Any], world: Distributed) -> dict[str, Any]:
    """Rank 0's early-stopping bookkeeping, so every rank leaves the epoch loop together."""
    if not world.active:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]
