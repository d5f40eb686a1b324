"""``hashtag-train`` and ``hashtag-evaluate``: argparse front ends of train.loop and train.evaluate.

Config precedence (runtime.config): configs/train.yaml, then --config FILE, then --set KEY=VALUE,
then the dedicated flags below.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from runtime.checkpoints import CONFIG_FILE, check_checkpoint
from runtime.config import FlagKeys, add_config_args, explicit_keys, resolve_config
from runtime.errors import UsageError, run_main
from runtime.logs import add_logging_args, progress_disabled, setup_logging
from runtime.outputs import check_output_dir, check_output_file
from train.config_check import check_train_config

RESUMABLE_STATE = "last/state.pt"  # train.checkpoint's LAST_DIR/STATE_FILE, without torch
TRAIN_FLAGS: FlagKeys = {
    "init": ("text_init", "image_init"),  # one flag for both encoders; --set picks one
    "modality": "modality",
    "text_encoder": "text_encoder",
    "image_encoder": "image_encoder",
    "image_weights": "image_weights",
    "offline": "offline",
    "image_mode": "image_mode",
    "image_size": "image_size",
    "max_seq_len": "max_seq_len",
    "loss": "loss",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "lr",
    "head_lr": "head_lr",
    "seed": "seed",
    "device": "device",
    "num_workers": "num_workers",
    "compile": "compile",
    "weighted_sampling": "weighted_sampling",
    "feature_cache": "feature_cache",
}
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
    "max_seq_len",
)


def add_train_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, type=Path, help="dataset directory")
    parser.add_argument("--out", required=True, type=Path, help="checkpoint directory to write")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last/")
    parser.add_argument("--modality", choices=("text", "image", "both"))
    parser.add_argument(
        "--init", choices=("pretrained", "random"), help="both encoders' weights (see text_init)"
    )
    parser.add_argument("--text-encoder", metavar="NAME|DIR|minilm")
    parser.add_argument(
        "--image-encoder",
        metavar="NAME",
        help="torchvision model: vgg16, resnet50, efficientnet_b0 ...",
    )
    parser.add_argument("--image-weights", metavar="PATH", help="its ImageNet .pth file")
    parser.add_argument(
        "--offline",
        action="store_true",
        default=None,
        help="never download weights (as HF_HUB_OFFLINE=1): use the caches or stop",
    )
    parser.add_argument("--image-mode", choices=("frozen", "finetune"))
    parser.add_argument("--image-size", type=int)
    parser.add_argument("--max-seq-len", type=int)
    parser.add_argument("--loss", choices=("bce", "softmax"))
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float, help="learning rate of pretrained encoders")
    parser.add_argument("--head-lr", type=float, help="learning rate of the new layers")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--num-workers", type=int)
    parser.add_argument("--compile", action="store_true", default=None)
    parser.add_argument("--weighted-sampling", action="store_true", default=None)
    parser.add_argument("--feature-cache", metavar="DIR")
    add_config_args(parser)
    add_logging_args(parser)
    parser.set_defaults(func=run_train)


def add_evaluate_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="checkpoint directory")
    parser.add_argument("--dataset", type=Path, help="default: the dataset it was trained on")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument(
        "--baselines",
        default="",
        metavar="LIST",
        help="comma-separated extra baselines: text, image (this model with the other input "
        "neutral) or NAME=CHECKPOINT_DIR; popularity is always shown",
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--report",
        nargs="?",
        const=DEFAULT_REPORT,
        type=Path,
        metavar="HTML",
        help="also write a report with pictures (default CHECKPOINT/report-SPLIT.html)",
    )
    add_logging_args(parser)
    parser.set_defaults(func=run_evaluate)


def run_train(args: argparse.Namespace) -> int:
    config = resolve_config("train", args, TRAIN_FLAGS)
    check_output_dir(args.out)
    check_dataset_dir(args.dataset)
    if args.resume:
        config = _resumed_config(config, args)
    check_train_config(config)
    if config["feature_cache"]:
        check_output_dir(config["feature_cache"], "--feature-cache")
    from train.loop import train  # torch and transformers load only once the flags are valid

    setup_logging(args)
    # A new run writes beside --out until its first checkpoint: a failure leaves nothing to clean.
    train(config, args.dataset, args.out, args.resume, progress=not progress_disabled(args))
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
    saved = check_checkpoint(args.out, "--out")["train"]
    saved.pop("dataset", None)
    given = explicit_keys(args, TRAIN_FLAGS)
    for key in sorted(given.intersection(FIXED_ON_RESUME)):
        if resolved[key] != saved.get(key):
            raise UsageError(
                f"--resume cannot change {key} (the run in {args.out} has {saved.get(key)!r}): "
                "train into a new --out instead"
            )
    return {**resolved, **saved, **{key: resolved[key] for key in given}}


def run_evaluate(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    check_checkpoint(args.checkpoint)
    if args.dataset is not None:
        check_dataset_dir(args.dataset)
    baselines = [b.strip() for b in args.baselines.split(",") if b.strip()]
    for name, _, path in (spec.partition("=") for spec in baselines):
        if path:
            check_checkpoint(path, f"baseline {name}:")
    report = args.report
    if report == DEFAULT_REPORT:
        report = args.checkpoint / f"report-{args.split}.html"
    if report is not None:
        check_output_file(report, "--report")
    from train.evaluate import evaluate

    setup_logging(args)
    evaluate(
        args.checkpoint,
        args.dataset,
        args.split,
        baselines,
        args.batch_size,
        progress=not progress_disabled(args),
        report=report,
    )
    return 0


TRAIN_HELP = "Train the text + image hashtag model: dataset directory in, checkpoint directory out."
EVALUATE_HELP = "Score a checkpoint on a dataset split beside the popularity (and other) baselines."


def _main(prog: str, description: str, add_args, argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_args(parser)
    args = parser.parse_args(argv)
    return run_main(lambda: args.func(args), prog)


def train_main(argv: list[str] | None = None) -> int:
    return _main("hashtag-train", TRAIN_HELP, add_train_args, argv)


def evaluate_main(argv: list[str] | None = None) -> int:
    return _main("hashtag-evaluate", EVALUATE_HELP, add_evaluate_args, argv)
