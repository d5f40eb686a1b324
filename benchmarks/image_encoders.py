"""Feature-cache build speed of each ``--image-encoder``, VGG16 (the original's) as the peer.

    python -m benchmarks.image_encoders [--encoders vgg16,resnet50,efficientnet_b0]
        [--images 48] [--size 224] [--rounds 3] [--out FILE.md]

(As a module: run as a file, benchmarks/ would shadow the ``train`` package.)

What frozen-image training waits for before its first step: ``FeatureCache.ensure`` over N
photo-like JPEGs (640x480, written once into a temporary folder), JPEG decoding, resizing and
normalisation included, into a fresh cache each time. The encoders have random weights: the
arithmetic, and so the speed, is the same as with ImageNet weights, and nothing is downloaded.
A last row, ``decode only``, runs the same build with the encoder replaced by a per-channel mean:
the ceiling that reading and preprocessing the JPEGs alone sets. Rounds rotate the order of the
rows after a warm-up build of each; the fastest round of each counts (a shared machine only ever
slows a run down), and the ratio is to VGG16's.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from train.encoders import image_backbone, image_input
from train.features import FeatureCache

DECODE_ONLY = "decode only"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", default="vgg16,resnet50,efficientnet_b0")
    parser.add_argument("--images", type=int, default=48, help="images per timed build")
    parser.add_argument("--size", type=int, default=224, help="input side")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args()
    names = args.encoders.split(",")
    device = torch.device(args.device)

    torch.manual_seed(0)
    backbones = {name: image_backbone(name).eval().to(device) for name in names}
    backbones[DECODE_ONLY] = _ChannelMean().to(device)
    names.append(DECODE_ONLY)
    best = dict.fromkeys(names, float("inf"))
    with tempfile.TemporaryDirectory() as work:
        images = _photos(Path(work) / "images", args.images)
        warm_up = dict(list(images.items())[: args.batch_size])
        for round_number in range(args.rounds + 1):
            order = names[round_number % len(names) :] + names[: round_number % len(names)]
            for name in order:
                batch = warm_up if round_number == 0 else images
                seconds = _build(backbones[name], name, batch, args, Path(work), device)
                if round_number:  # round 0 warms up kernels and allocations
                    best[name] = min(best[name], seconds)
    rates = {name: args.images / best[name] for name in names}
    table = _markdown(names, backbones, rates, args)
    print(table)
    if args.out:
        args.out.write_text(table, "utf-8")


class _ChannelMean(torch.nn.Module):
    """No network: the cheapest features of preprocessed pixels, for the decode-only row."""

    feature_dim = 3

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return pixels.mean(dim=(2, 3))


def _photos(folder: Path, count: int) -> dict[str, Path]:
    """Smooth random-colour 640x480 JPEGs (noise would make JPEG decoding unusually slow)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = {}
    for number in range(count):
        corners = rng.integers(0, 256, size=(2, 2, 3)).astype(np.uint8)
        small = Image.fromarray(corners).resize((640, 480), Image.Resampling.BILINEAR)
        path = folder / f"{number:04d}.jpg"
        small.save(path, quality=90)
        images[f"{number:064x}"] = path
    return images


def _build(
    backbone, name: str, images: dict, args: argparse.Namespace, work: Path, device: torch.device
) -> float:
    """Seconds to fill a fresh cache with ``images`` through ``backbone``."""
    with tempfile.TemporaryDirectory(dir=work) as root:
        cache = FeatureCache(Path(root), name, backbone.feature_dim)
        started = time.perf_counter()
        cache.ensure(
            images,
            lambda pixels: torch.flatten(backbone(pixels.to(device)), 1),
            image_input("vgg16" if name == DECODE_ONLY else name, args.size),
            batch_size=args.batch_size,
            progress=False,
        )
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started


def _markdown(names, backbones, rates, args: argparse.Namespace) -> str:
    peer = rates.get("vgg16")
    where = (
        torch.cuda.get_device_name(args.device)
        if args.device.startswith("cuda")
        else f"{os.cpu_count()} CPU cores ({platform.machine()}), {torch.get_num_threads()} threads"
    )
    lines = [
        f"Machine: {where}, torch {torch.__version__}. {args.images} JPEGs of 640x480 at "
        f"{args.size} px, batch {args.batch_size}, random weights, fastest of {args.rounds} "
        "rounds (encoders rotated each round); load average at the end "
        f"{os.getloadavg()[0]:.1f}.",
        "",
        "| image encoder | features per image | parameters | cache build (img/s) | vs VGG16 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name in names:
        parameters = sum(p.numel() for p in backbones[name].parameters()) / 1e6
        ratio = f"{rates[name] / peer:.2f}x" if peer else "-"
        size = "-" if name == DECODE_ONLY else f"{parameters:.1f} M"
        lines.append(
            f"| {name} | {backbones[name].feature_dim:,} | {size} | {rates[name]:.1f} | {ratio} |"
        )
    lines.append("")
    lines.append(
        f"Command: `python -m benchmarks.image_encoders --encoders {args.encoders} "
        f"--images {args.images} --size {args.size} --rounds {args.rounds}`"
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
