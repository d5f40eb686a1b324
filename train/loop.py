"""The training run, top to bottom: :func:`train` reads as the list of its steps.

One process trains alone; under ``torchrun`` every process runs this same function and DDP keeps
them in step (gloo on CPU, nccl on GPU). Rank 0 alone writes files and evaluates; the others wait
at barriers. Shuffling is seeded by ``seed + epoch`` and the RNG states are saved with ``last/``
at each epoch end, so ``--resume`` continues exactly where an uninterrupted run would be. A new
run writes into a staging folder that becomes ``--out`` at its first checkpoint (train.run_folder).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from runtime.errors import UsageError
from runtime.files import repair_torn_tail
from train import checkpoint
from train.baselines import TrainSplitFits
from train.build import build_model
from train.data import demojized, load_dataset
from train.distributed import broadcast, capture_rng, main_first, restore_rng, seed_everything
from train.epoch import Trainer, make_trainer, train_epoch
from train.evaluate import metrics_report, text_baseline_probs
from train.inputs import Data, frozen_image, frozen_text, make_data, predict_loader
from train.model import HashtagModel, attach_ngrams
from train.model_record import ModelRecord
from train.report import REPORT_FILE, SplitScores, read_history, write_report
from train.run_folder import RunFolder, open_run_folder
from train.run_setup import RunState, Setup, prepare_run
from train.scores import mean_average_precision, ranking_metrics
from train.settings import TrainSettings
from train.weights import DOWNLOAD

log = logging.getLogger(__name__)


def train(
    settings: TrainSettings, dataset_dir: Path, out_dir: Path, resume: bool, progress: bool
) -> dict[str, Any]:
    """Train per ``settings`` and return the metrics written to ``out_dir/metrics.json``."""
    setup = prepare_run(settings, dataset_dir, out_dir, resume, progress)
    labels, frames = load_dataset(dataset_dir)
    tfidf = TrainSplitFits.of(frames["train"], len(labels), settings.seed)  # wide part, report
    with open_run_folder(out_dir, resume, writes=setup.world.is_main) as folder:
        model, tokenizer, record, saved = load_model(setup, labels, frames, tfidf)
        if setup.world.is_main:
            save_run_record(folder, setup, model, record, labels, tokenizer)
        data = make_data(setup, model, record, tokenizer, labels, frames, folder)
        trainer = make_trainer(setup, model, len(data.loader))
        state = restore_or_start(setup, trainer, saved, folder)
        while state.epoch < settings.epochs:
            train_loss = train_epoch(setup, trainer, data, state, folder)
            state = end_epoch(setup, trainer, data, state, folder, train_loss)
            if should_stop(settings, state):
                break
        metrics = final_metrics(setup, model, data, folder, tfidf) if setup.world.is_main else {}
    setup.world.finish()
    return metrics


def load_model(
    setup: Setup,
    labels: list[str],
    frames: dict[str, pd.DataFrame],
    tfidf: TrainSplitFits,
) -> tuple[HashtagModel, Any, ModelRecord, dict[str, Any] | None]:
    """A new model (train.build, its wide part from ``tfidf``) or the resumed run's, on the
    device, plus its tokenizer, its config.json ``model`` record and (on resume) the saved
    optimiser/RNG state."""
    saved_state, out_dir = None, setup.out_dir
    if setup.resume:  # weights first: the frozen backbone's features are cached from them
        record = checkpoint.read_model_record(out_dir)
        if record.wide_dim and record.wide_mode == "blend":
            raise UsageError(
                f"{out_dir} was started by an older version whose wide part is blended after "
                "training; it cannot be resumed: start a new run"
            )
        model = HashtagModel.from_record(record)
        tokenizer = checkpoint.load_tokenizer(out_dir)
        attach_ngrams(model, out_dir)
        saved_state = checkpoint.load_last(out_dir, model)
    else:
        downloads = any(source.origin == DOWNLOAD for source in setup.sources.values())
        demojize = demojized(setup.dataset_dir)  # serving repeats the dataset's
        with main_first(setup.world, downloads):  # one rank fills the caches, the others read
            model, tokenizer = build_model(
                setup.config,
                labels,
                frames["train"],
                setup.sources,
                tfidf,
                setup.progress,
                demojize,
            )
    model.to(setup.device)
    if frozen_image(model, setup.config):
        model.image_backbone.requires_grad_(False)
    if frozen_text(model, setup.config):
        model.text_encoder.requires_grad_(False)
    return model, tokenizer, model.record, saved_state


def save_run_record(
    folder: RunFolder,
    setup: Setup,
    model: HashtagModel,
    record: ModelRecord,
    labels: list[str],
    tokenizer: Any,
) -> None:
    """config.json (and for a new run labels.txt and tokenizer/), written before training so a
    resumed run rebuilds the same architecture and vocabulary."""
    run_record = {
        "run_name": folder.out.resolve().name,
        "train": {**setup.config.model_dump(), "dataset": str(setup.dataset_dir)},  # relative
        "model": record.saved(),
    }
    if setup.resume:  # labels and tokenizer were just read from the run: only the config changes
        checkpoint.save_config(folder.path, run_record)
    else:  # the staging folder is --out's sibling: the relative paths stay right after the move
        checkpoint.save_run_files(folder.path, run_record, labels, tokenizer, model.ngrams)


def restore_or_start(
    setup: Setup, trainer: Trainer, saved: dict[str, Any] | None, folder: RunFolder
) -> RunState:
    """The saved optimiser, schedule, progress and RNG states on resume; else a fresh start."""
    if saved is None:  # set-up draws vary (a feature-cache miss runs a DataLoader); training's not
        seed_everything(setup.config.seed)
        return RunState()
    trainer.optimizer.load_state_dict(saved["optimizer"])
    trainer.scheduler.load_state_dict(saved["scheduler"])
    state = RunState(**saved["progress"])
    restore_rng(saved["rng"])
    if setup.world.is_main:
        repair_torn_tail(folder.log_path)
    log.info("resuming at epoch %d, step %d", state.epoch, state.step)
    return state


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
            model, data.datasets["val"], data.collate, setup.config, setup.device
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


def should_stop(settings: TrainSettings, state: RunState) -> bool:
    """Early stopping after ``patience`` epochs without a val mAP gain, or the invocation's
    ``stop_after_epochs`` budget (the run continues with ``--resume``)."""
    if state.stale_epochs >= settings.patience:
        log.info("val mAP has not improved for %d epochs: stopping", settings.patience)
        return True
    if settings.stop_after_epochs and state.epochs_this_run >= settings.stop_after_epochs:
        log.info("stopping after %d epochs as asked; continue with --resume", state.epochs_this_run)
        return True
    return False


def final_metrics(
    setup: Setup, model: HashtagModel, data: Data, folder: RunFolder, tfidf: TrainSplitFits
) -> dict:
    """The best weights scored on val and test beside the popularity baseline and the
    ``baselines`` setting's (tfidf by default, ``tfidf``'s full fit: the wide part's own when
    ``ngram_features`` is the baseline's count) in metrics.json and the run's report.html."""
    run = folder.path
    checkpoint.load_weights(model, run / checkpoint.WEIGHTS_FILE)
    probs = {
        split: predict_loader(model, data.datasets[split], data.collate, setup.config, setup.device)
        for split in ("val", "test")
    }
    names, splits = setup.config.baselines, ("val", "test")
    baselines = text_baseline_probs(names, data.frames, len(data.labels), splits, tfidf)
    metrics = metrics_report(probs, data.datasets["train"].targets.numpy(), baselines)
    checkpoint.write_metrics(run, metrics)
    test = SplitScores("test", data.frames["test"], setup.dataset_dir, *probs["test"], data.labels)
    shown = {name: values["test"] for name, values in metrics["baselines"].items()}
    report = write_report(
        run / REPORT_FILE, run.resolve().name, test, metrics["test"], read_history(run), shown
    )
    log.info("report: %s", report)
    return metrics
