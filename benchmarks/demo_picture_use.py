"""Does a trained run look at the demo pictures' tag motifs?  (issue 17.4)

Since the demo generator draws a motif for each topic tag a post has (demo_site.pictures), the
picture tells which of its topic's tags a post has; a model that reads pictures should score
differently when the motifs are gone. For each run this script:

* rescores the test split through ``Predictor`` twice, each post's picture drawn by the
  generator once with and once without its motifs (same composition and size), and prints both
  p@1 / p@5 / mAP and the largest change of any score;
* counts the image projection's ReLU units that are active on any of those pictures: a branch
  with none active hands the classifier a constant, whatever the picture shows.

Usage: python -m benchmarks.demo_picture_use WORK/q-demo [--salts s0 s1 s2]  (folders dataset-sN
and run-sN built from the demo site of configs/demo.yaml, as benchmarks.demo_ceiling reads).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.demo_ceiling import metrics
from demo_site import pictures
from demo_site.generator import DemoCorpus
from train.data import load_dataset, multi_hot
from train.predictor import Predictor

BATCH = 64


def draw(corpus: DemoCorpus, i: int, motifs: bool) -> Image.Image:
    """Post ``i``'s first picture as the demo site draws it, with or without its motifs."""
    width, height = corpus.image_size(i)
    jitter = int(corpus._jitter[i])
    return pictures.draw(
        corpus.topics[int(corpus._topic[i])],
        f"{corpus.seed}:{int(corpus._art[i])}:0",
        width,
        height,
        f"{corpus.seed}:{jitter}:jitter" if jitter >= 0 else None,
        corpus.picture_slots(i) if motifs else (),
    )


def active_units(predictor: Predictor, images: list[Image.Image]) -> tuple[int, int]:
    """How many of the image projection's ReLU units fire on any of ``images``, of how many."""
    model = predictor.model
    with torch.no_grad():
        pixels = torch.stack([predictor._transform(image.convert("RGB")) for image in images])
        pre = model.image_proj(model.image_features(pixels.to(predictor.device)))
    return int((pre > 0).any(dim=0).sum()), pre.shape[1]


def one_salt(corpus: DemoCorpus, dataset: Path, run: Path) -> None:
    labels, frames = load_dataset(dataset, ("test",))
    test = frames["test"]
    targets = multi_hot(test["labels"].tolist(), len(labels)).numpy()
    indexes = [corpus.by_shortcode(code).index for code in test["shortcode"]]
    texts = test["text"].fillna("").tolist()
    predictor = Predictor.load(run)
    scores = {}
    for motifs in (True, False):
        images = [draw(corpus, i, motifs) for i in indexes]
        scores[motifs] = np.concatenate(
            [
                predictor.scores(texts[s : s + BATCH], images[s : s + BATCH])
                for s in range(0, len(images), BATCH)
            ]
        )
        row = metrics(scores[motifs], targets)
        name = "with motifs" if motifs else "without motifs"
        print(f"| {run.name} | {name} | " + " | ".join(f"{row[m]:.3f}" for m in row) + " |")
    change = float(np.abs(scores[True] - scores[False]).max())
    active, units = active_units(predictor, [draw(corpus, i, True) for i in indexes[:BATCH]])
    print(
        f"<!-- {run.name}: largest score change {change:.1e}; image_proj units active on "
        f"{min(BATCH, len(indexes))} test pictures: {active}/{units} -->",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="holds dataset-sN and run-sN")
    parser.add_argument("--salts", nargs="+", default=["s0", "s1", "s2"])
    args = parser.parse_args()
    corpus = DemoCorpus()  # the corpus of configs/demo.yaml, which the crawl served
    print("| run | pictures | p@1 | p@5 | mAP |\n| --- | --- | ---: | ---: | ---: |")
    for salt in args.salts:
        one_salt(corpus, args.folder / f"dataset-{salt}", args.folder / f"run-{salt}")


if __name__ == "__main__":
    main()
