"""``hashtag-train`` and ``hashtag-evaluate``: argparse front ends of train.loop and train.evaluate.

Config precedence (runtime.config): configs/train.yaml, then --config FILE, then --set KEY=VALUE,
then the dedicated flags below.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from runtime.checkpoint_check import CONFIG_FILE, LAST_DIR, STATE_FILE, check_checkpoint
from runtime.cli import ConfigFlags, command_parser, required_group, run
from runtime.config import explicit_keys
from runtime.dataset_manifest import check_modality
from runtime.errors import UsageError
from runtime.label_file import read_labels
from runtime.logs import progress_disabled
from runtime.outputs import check_output_dir, check_output_file
from runtime.settings import choices, validate
from runtime.write_faults import writing_into
from train.settings import SPLITS, CheckpointBaseline, EvaluateSettings, TrainSettings

RESUMABLE_STATE = f"{LAST_DIR}/{STATE_FILE}"
# The flags that override configs/train.yaml and configs/evaluate.yaml, each with its key.
TRAIN_FLAGS = ConfigFlags("train")
EVALUATE_FLAGS = ConfigFlags("evaluate")
DEFAULT_REPORT = Path("report-SPLIT.html")  # --report without a path: in the checkpoint
# What shapes the saved model or what it is fed: a resumed run must keep them.
FIXED_ON_RESUME = (
    "modality",
    "text_init",
    "image_init",
    "text_encoder",
    "text_pooling",
    "text_dim",
    "image_dim",
    "dropout",
    "random_text",
    "random_tokenizer_vocab",
    "image_encoder",
    "image_weights",
    "image_mode",
    "image_size",
    "text_mode",
    "ngram_features",
    "max_seq_len",
)


def add_train_args(parser: argparse.ArgumentParser) -> None:
    _run_flags(parser)
    model = parser.add_argument_group("model")
    _encoder_flags(model)
    _model_input_flags(model)
    _optimisation_flags(parser)
    _machinery_flags(parser)
    parser.set_defaults(func=run_train)


def _run_flags(parser: argparse.ArgumentParser) -> None:
    required = required_group(parser)
    required.add_argument(
        "--dataset", required=True, type=Path, metavar="DIR", help="dataset directory"
    )
    required.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="checkpoint directory to write"
    )
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last/")


def _encoder_flags(model: argparse._ArgumentGroup) -> None:
    add = TRAIN_FLAGS.add
    add(
        model,
        "--modality",
        key="modality",
        choices=choices(TrainSettings, "modality"),
        help="inputs the model sees",
    )
    add(
        model,
        "--init",
        key=("text_init", "image_init"),  # one flag for both encoders; --set picks one
        choices=choices(TrainSettings, "text_init"),
        help="both encoders' weights: pretrained, or random (fresh, sized by random_text)",
    )
    add(
        model,
        "--text-encoder",
        key="text_encoder",
        metavar="NAME|DIR|minilm",
        help="HF hub name, a local folder, or minilm",
    )
    add(
        model,
        "--image-encoder",
        key="image_encoder",
        metavar="NAME",
        help="torchvision model: vgg16, resnet50, efficientnet_b0 ...",
    )
    add(
        model,
        "--image-weights",
        key="image_weights",
        metavar="PATH",
        help="its ImageNet .pth file (null: the torch.hub cache)",
    )
    add(
        model,
        "--offline",
        key="offline",
        action="store_true",
        help="never download weights (as HF_HUB_OFFLINE=1): use the caches or stop",
    )


def _model_input_flags(model: argparse._ArgumentGroup) -> None:
    add = TRAIN_FLAGS.add
    add(
        model,
        "--image-mode",
        key="image_mode",
        choices=choices(TrainSettings, "image_mode"),
        help="frozen: features cached once; finetune: the image encoder trains too",
    )
    add(
        model,
        "--text-mode",
        key="text_mode",
        choices=choices(TrainSettings, "text_mode"),
        help="frozen: captions encoded once and cached; finetune: the text encoder trains too",
    )
    add(
        model,
        "--image-size",
        key="image_size",
        type=int,
        metavar="PX",
        help="image input side (null: the encoder's own)",
    )
    add(
        model, "--max-seq-len", key="max_seq_len", type=int, metavar="N", help="caption tokens kept"
    )
    add(
        model,
        "--loss",
        key="loss",
        choices=choices(TrainSettings, "loss"),
        help="bce: independent sigmoids; softmax: 1/k targets",
    )


def _optimisation_flags(parser: argparse.ArgumentParser) -> None:
    add = TRAIN_FLAGS.add
    optim = parser.add_argument_group("optimisation")
    add(optim, "--epochs", key="epochs", type=int, metavar="N", help="passes over the train split")
    add(optim, "--batch-size", key="batch_size", type=int, metavar="N", help="posts per step")
    add(optim, "--lr", key="lr", type=float, help="learning rate of pretrained encoders")
    add(optim, "--head-lr", key="head_lr", type=float, help="learning rate of the new layers")
    add(optim, "--seed", key="seed", type=int, metavar="N", help="random seed of the run")
    add(
        optim,
        "--weighted-sampling",
        key="weighted_sampling",
        action="store_true",
        help="draw train posts by the dataset's weight column",
    )


def _machinery_flags(parser: argparse.ArgumentParser) -> None:
    add = TRAIN_FLAGS.add
    machinery = parser.add_argument_group("machinery")
    add(
        machinery,
        "--device",
        key="device",
        choices=choices(TrainSettings, "device"),
        help="where to train",
    )
    add(
        machinery,
        "--num-workers",
        key="num_workers",
        type=int,
        metavar="N",
        help="DataLoader worker processes",
    )
    add(machinery, "--compile", key="compile", action="store_true", help="torch.compile the model")
    add(
        machinery,
        "--feature-cache",
        key="feature_cache",
        metavar="DIR",
        help="cache of frozen image features (null: the user cache, see configs/train.yaml)",
    )


def add_evaluate_args(parser: argparse.ArgumentParser) -> None:
    required_group(parser).add_argument(
        "--checkpoint", required=True, type=Path, metavar="DIR", help="checkpoint directory"
    )
    add = EVALUATE_FLAGS.add
    add(
        parser,
        "--dataset",
        key="dataset",
        metavar="DIR",
        help="dataset directory (null: the one it was trained on)",
    )
    add(parser, "--split", key="split", choices=SPLITS, help="the split to score")
    add(
        parser,
        "--baselines",
        key="baselines",
        type=_comma_list,
        metavar="LIST",
        help="comma-separated extra baselines: text, image (this model with the other input "
        "neutral) or NAME=CHECKPOINT_DIR; popularity is always shown",
    )
    add(
        parser, "--batch-size", key="batch_size", type=int, metavar="N", help="posts per model call"
    )
    parser.add_argument(
        "--report",
        nargs="?",
        const=DEFAULT_REPORT,
        type=Path,
        metavar="HTML",
        help="also write a report with pictures (without HTML: CHECKPOINT/report-SPLIT.html)",
    )
    parser.set_defaults(func=run_evaluate)


def run_train(args: argparse.Namespace) -> int:
    config = TRAIN_FLAGS.resolve(args)
    check_output_dir(args.out)
    check_dataset_dir(args.dataset)
    if args.resume:
        config = _resumed_config(config, args)
    settings = validate(TrainSettings, config)
    check_modality(args.dataset, settings.modality, "this run")
    if settings.feature_cache:
        check_output_dir(settings.feature_cache, "--feature-cache")
    from train.loop import train  # torch and transformers load only once the flags are valid

    # A new run writes beside --out until its first checkpoint: a failure leaves nothing to clean.
    with writing_into(args.out):  # a full or read-only disk mid-run: one line that names it
        train(settings, args.dataset, args.out, args.resume, progress=not progress_disabled(args))
    return 0


def check_dataset_dir(path: Path) -> None:
    """A dataset directory (Contract 2) is a folder with labels.txt; say which part is wrong."""
    if not path.exists():
        raise UsageError(f"dataset directory {path} does not exist")
    if not path.is_dir():
        raise UsageError(
            f"--dataset {path} is a file: give the dataset directory that "
            "hashtag-build-dataset build wrote (with labels.txt and *.parquet)"
        )
    if not (path / "labels.txt").is_file():
        raise UsageError(f"--dataset {path} is not a dataset directory: labels.txt is missing")


def _resumed_config(resolved: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The saved run's settings, changed only by what this command names (``--epochs`` ...).

    Without this, ``--resume`` without the first command's ``--config`` would silently train on
    the shipped defaults (another image size, other parameter groups) and rewrite config.json.
    """
    if not (args.out / CONFIG_FILE).is_file():
        raise UsageError(
            f"nothing to resume in {args.out}: {CONFIG_FILE} is missing (no run was started "
            "there; drop --resume to start one)"
        )
    if not (args.out / RESUMABLE_STATE).is_file():
        raise UsageError(f"nothing to resume in {args.out}: {RESUMABLE_STATE} is missing")
    check_checkpoint(args.out, "--out")
    if read_labels(args.dataset, "dataset") != read_labels(args.out, "checkpoint"):
        raise UsageError(
            f"--dataset {args.dataset} has other labels than the run in {args.out} was trained "
            "on: resume with its dataset, or train into a new --out"
        )
    from train.hub import PATH_KEYS  # the Hub client: only for a run folder
    from train.run_record import read_run_record

    # config.json names paths relative to the run folder, not to this working directory
    trained = read_run_record(args.out).train
    if trained is None:
        raise UsageError(
            f"nothing to resume in {args.out}: its {CONFIG_FILE} records no training settings"
        )
    saved = trained.settings()  # checked below, once this command's flags are merged in
    given = explicit_keys(args, TRAIN_FLAGS.keys)
    for key in sorted(given.intersection(FIXED_ON_RESUME)):
        if not _same_setting(resolved[key], saved.get(key), is_path=key in PATH_KEYS):
            raise UsageError(
                f"--resume cannot change {key} (the run in {args.out} has {saved.get(key)!r}): "
                "train into a new --out instead"
            )
    return {**resolved, **saved, **{key: resolved[key] for key in given}}


def _same_setting(given: Any, saved: Any, is_path: bool) -> bool:
    """Paths compare as what they name: the first command's ``./albert`` is the run's record
    of it, resolved from the run folder. A Hub id resolves alike on both sides."""
    if is_path and isinstance(given, str) and isinstance(saved, str):
        return os.path.realpath(given) == os.path.realpath(saved)
    return given == saved


def run_evaluate(args: argparse.Namespace) -> int:
    settings = EVALUATE_FLAGS.settings(args, EvaluateSettings)
    check_checkpoint(args.checkpoint)
    dataset = None if settings.dataset is None else Path(settings.dataset)
    if dataset is not None:
        check_dataset_dir(dataset)
    for baseline in settings.baselines:
        if isinstance(baseline, CheckpointBaseline):
            check_checkpoint(baseline.checkpoint, f"baseline {baseline.name}:")
    report = args.report
    if report is DEFAULT_REPORT:  # the flag without a value, not a file of that name
        report = args.checkpoint / f"report-{settings.split}.html"
    if report is not None:
        check_output_file(report, "--report")
    from train.evaluate import evaluate

    with writing_into(report or args.checkpoint):  # metrics beside the checkpoint, the report
        evaluate(
            args.checkpoint,
            dataset,
            settings.split,
            settings.baselines,
            settings.batch_size,
            progress=not progress_disabled(args),
            report=report,
        )
    return 0


def _comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


TRAIN_HELP = (
    "Train the text + image hashtag model: dataset directory in, checkpoint directory out. "
    "Defaults come from configs/train.yaml."
)
EVALUATE_HELP = (
    "Score a checkpoint on a dataset split beside the popularity (and other) baselines. "
    "Defaults come from configs/evaluate.yaml."
)


def train_main(argv: list[str] | None = None) -> int:
    parser = command_parser("hashtag-train", TRAIN_HELP, stage="train")
    add_train_args(parser)
    return run(parser, argv)


def evaluate_main(argv: list[str] | None = None) -> int:
    parser = command_parser("hashtag-evaluate", EVALUATE_HELP, stage="evaluate")
    add_evaluate_args(parser)
    return run(parser, argv)
