"""One training epoch over 50,000 posts on a GPU: ALBERT-base fine-tuned, VGG16 features cached.

    python -m benchmarks.train_gpu_epoch [--posts 50000] [--batch-size 256] [--compile] [--out F]

The goal is <= 60 s per epoch on one H200. GPU hosts here have no internet, so ALBERT-base is
built from its published configuration with random weights (the same FLOPs as the pretrained
one) and posts are synthetic: token ids of ``--seq-len`` and fp16 512x7x7 feature rows, already
on the GPU as a warm feature cache would be after the first epoch's page-in. It times the real
``HashtagModel`` with the loop's recipe: AdamW, bf16 autocast, gradient clipping, softmax or BCE.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from transformers import AlbertConfig, AutoModel

from train.encoders import VGG16_FEATURE_DIM
from train.model import HashtagModel, hashtag_loss

ALBERT_BASE = {  # albert-base-v2's config.json
    "embedding_size": 128,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "vocab_size": 30000,
    "max_position_embeddings": 512,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=50_000)
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--device", default="cuda", help="cpu only to smoke-test the script")
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("train_gpu_epoch: no CUDA GPU visible")
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = True

    encoder = AutoModel.from_config(AlbertConfig(**ALBERT_BASE))
    cached = torch.nn.Identity()  # the features come from the cache: no backbone runs
    cached.feature_dim = VGG16_FEATURE_DIM
    model = HashtagModel(args.labels, encoder, cached).to(device)
    trained = torch.compile(model) if args.compile else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-5, fused=True)

    ids = torch.randint(5, ALBERT_BASE["vocab_size"], (args.posts, args.seq_len), device=device)
    mask = torch.ones_like(ids)
    features = torch.randn(args.posts, VGG16_FEATURE_DIM, device=device, dtype=torch.float16)
    targets = (torch.rand(args.posts, args.labels, device=device) < 0.03).float()

    def run(indices: torch.Tensor) -> None:
        for start in range(0, len(indices), args.batch_size):
            rows = indices[start : start + args.batch_size]
            with torch.autocast(device.type, dtype=torch.bfloat16):
                logits = trained(ids[rows], mask[rows], image_features=features[rows])
            loss = hashtag_loss(logits.float(), targets[rows], "softmax")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()

    run(torch.arange(min(20 * args.batch_size, args.posts), device=device))  # warm-up, compile
    synchronize = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    synchronize()
    started = time.perf_counter()
    run(torch.randperm(args.posts, device=device))
    synchronize()
    seconds = time.perf_counter() - started
    result = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "posts": args.posts,
        "batch_size": args.batch_size,
        "seq_len": args.seq_len,
        "compile": args.compile,
        "epoch_seconds": round(seconds, 2),
        "samples_per_s": round(args.posts / seconds, 1),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)
        if device.type == "cuda"
        else None,
    }
    print(json.dumps(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
