"""Training speed on CPU: cached VGG16 features versus VGG16 run every step, same batch, same run.

    python -m benchmarks.train --dataset demo-output/dataset [--sizes 64,224] [--out FILE.md]

(As a module: run as a file, benchmarks/train.py would shadow the ``train`` package.)

For each image size it measures (1) the feature-cache build in images/s, JPEG decoding included,
then (2) optimizer steps of the same model on the same batch in three image modes: features read
from the cache (frozen mode), VGG16 forward each step with frozen weights (what frozen mode would
cost without the cache), and VGG16 trained end to end (finetune mode). The text side is the demo's
(MiniLM when installed, else a small random ALBERT) and identical across modes.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from runtime.config import default_config
from train.baselines import TrainSplitFits
from train.build import build_model, weights_plan
from train.data import Collator, PostDataset, load_dataset
from train.encoders import image_input, minilm_dir
from train.features import FeatureCache, backbone_key, image_keys
from train.model import hashtag_loss
from train.settings import TrainSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, type=Path)
    parser.add_argument("--sizes", default="64,224", help="image sides to measure")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3, help="timed steps (rounds) per mode")
    parser.add_argument("--cache-images", type=int, default=128, help="images for the cache build")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args()

    torch.manual_seed(0)
    labels, frames = load_dataset(args.dataset, ("train",))
    frame = frames["train"].head(max(args.cache_images, args.batch_size))
    config = _benchmark_config()
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        config["image_size"] = size
        image = image_input(config["image_encoder"], size)
        settings = TrainSettings.model_validate(config)
        tfidf = TrainSplitFits.of(frame, len(labels), settings.seed)
        model, tokenizer = build_model(
            settings, labels, frame, weights_plan(settings), tfidf, progress=False
        )
        with tempfile.TemporaryDirectory() as cache_root:
            key = backbone_key(model.image_backbone, image)
            cache = FeatureCache(Path(cache_root), key, model.image_backbone.feature_dim)
            images = _images(frame.head(args.cache_images), args.dataset)
            started = time.perf_counter()
            cache.ensure(images, model.image_features, image, progress=False)
            build_rate = len(images) / (time.perf_counter() - started)
            features = cache.view(image_keys(frame["image_sha256"]))
            collate = Collator(tokenizer, config["max_seq_len"])
            batch_rows = range(args.batch_size)
            cached = PostDataset(frame, args.dataset, len(labels), features=features)
            raw = PostDataset(frame, args.dataset, len(labels), image=image)
            cached_batch = collate([cached[i] for i in batch_rows])
            raw_batch = collate([raw[i] for i in batch_rows])
        seconds = _fastest_steps(
            model,
            {
                "cached": (cached_batch, False),
                "vgg16 frozen": (raw_batch, False),
                "vgg16 finetune": (raw_batch, True),
            },
            args.steps,
        )
        rows.append((size, build_rate, {k: args.batch_size / v for k, v in seconds.items()}))
    table = _markdown(rows, config, args)
    print(table)
    if args.out:
        args.out.write_text(table, "utf-8")


def _benchmark_config() -> dict:
    config = default_config("train")
    config.update(image_init="random", modality="both", max_seq_len=32, loss="softmax")
    if minilm_dir() is not None:
        config.update(text_init="pretrained", text_encoder="minilm", text_pooling="mean")
    else:
        config.update(text_init="random")
    return config


def _images(frame, dataset_dir: Path) -> dict:
    pairs = zip(image_keys(frame["image_sha256"]), frame["image"], strict=True)
    return {sha: dataset_dir / path for sha, path in pairs}


def _fastest_steps(model, modes: dict[str, tuple[dict, bool]], rounds: int) -> dict[str, float]:
    """Fastest full optimizer step (forward, loss, backward, AdamW) of each mode, in seconds.

    Modes take turns, one step each per round after a warm-up round, and the fastest step counts:
    on a machine shared with other jobs, interleaving exposes every mode to the same load and
    the minimum is the least disturbed measurement.
    """
    model.train()
    optimizers = {
        name: torch.optim.AdamW(
            [p for n, p in model.named_parameters() if finetune or "image_backbone" not in n],
            lr=1e-5,
        )
        for name, (_, finetune) in modes.items()
    }
    fastest = dict.fromkeys(modes, float("inf"))
    for round_number in range(rounds + 1):
        for name, (batch, finetune) in modes.items():
            model.image_backbone.requires_grad_(finetune)
            inputs = {k: v for k, v in batch.items() if k != "targets"}
            started = time.perf_counter()
            loss = hashtag_loss(model(**inputs), batch["targets"], "softmax")
            optimizers[name].zero_grad(set_to_none=True)
            loss.backward()
            optimizers[name].step()
            if round_number:  # round 0 warms up kernels and allocations
                fastest[name] = min(fastest[name], time.perf_counter() - started)
    return fastest


def _markdown(rows, config: dict, args: argparse.Namespace) -> str:
    text = config["text_encoder"] if config["text_init"] == "pretrained" else "random ALBERT"
    lines = [
        "# Training speed: cached VGG16 features vs VGG16 every step",
        "",
        f"Machine: {os.cpu_count()} CPU cores ({platform.machine()}), no GPU, torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads; shared with other jobs, so "
        "compare columns within a row rather than across runs.",
        f"Model: text {text} (max_seq_len {config['max_seq_len']}) + VGG16 (random weights), "
        f"batch {args.batch_size}, fastest of {args.steps} AdamW steps per mode (modes "
        "interleaved) on the same batch. "
        f"Cache build: {args.cache_images} images of `{args.dataset.name}`, JPEG decode included.",
        "",
        "| image side | cache build (img/s) | train, cached features (samples/s) "
        "| train, VGG16 frozen each step | train, VGG16 finetune | cached / frozen |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size, build_rate, rates in rows:
        lines.append(
            f"| {size} | {build_rate:.1f} | {rates['cached']:.1f} | {rates['vgg16 frozen']:.1f} "
            f"| {rates['vgg16 finetune']:.1f} | {rates['cached'] / rates['vgg16 frozen']:.1f}x |"
        )
    lines.append("")
    lines.append(
        "Command: `python -m benchmarks.train --dataset DIR --sizes "
        f"{args.sizes} --batch-size {args.batch_size} --steps {args.steps}`"
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
