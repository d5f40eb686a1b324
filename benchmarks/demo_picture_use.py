"""Does a trained run look at the demo pictures' tag motifs?  (issue 17.4)

Since the demo generator draws a motif for each topic tag a post has (demo_site.pictures), the
picture tells which of its topic's tags a post has; a model that reads pictures should score
differently when the motifs are gone. For each run this script:

* rescores the test split through ``Predictor`` twice, each post's picture drawn by the
  generator once with and once without its motifs (same composition and size), and prints both
  p@1 / p@5 / mAP and the largest change of any score;
* counts the image projection's ReLU units that are active on any of those pictures: a branch
  with none active hands the classifier a constant, whatever the picture shows;
* with ``--probe N``: whether the run's frozen image features could tell the motifs apart at all:
  one logistic regression per tag slot on the standardised features of N original demo posts
  (first two thirds to fit, the rest to score), mean ROC AUC of "slot shown" over the slots.

Usage: python -m benchmarks.demo_picture_use WORK/q-demo [--salts s0 s1 s2] [--probe 900]
(folders dataset-sN and run-sN built from the demo site of configs/demo.yaml, as
benchmarks.demo_ceiling reads). The run's private parts (its image transform, model layers) and
the generator's are read directly: a diagnosis, not product code.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from benchmarks.demo_ceiling import metrics
from demo_site import pictures
from demo_site.generator import DemoCorpus
from train.data import load_dataset, multi_hot
from train.predictor import Predictor

BATCH = 64


def active_units(predictor: Predictor, images: list[Image.Image]) -> tuple[int, int]:
    """How many of the image projection's ReLU units fire on any of ``images``, of how many."""
    model = predictor.model
    with torch.no_grad():
        pixels = torch.stack([predictor._transform(image.convert("RGB")) for image in images])
        pre = model.image_proj(model.image_features(pixels.to(predictor.device)))
    return int((pre > 0).any(dim=0).sum()), pre.shape[1]


def probe(corpus: DemoCorpus, predictor: Predictor, n_posts: int) -> tuple[float, list[float]]:
    """Mean and per-slot ROC AUC of linear probes for "slot k's motif is shown" on the run's
    frozen image features (posts that are neither reposts nor near-duplicates)."""
    originals = [i for i in range(len(corpus)) if corpus._root[i] < 0 and corpus._dup_of[i] < 0]
    posts = originals[:n_posts]
    features = []
    for start in range(0, len(posts), BATCH):
        batch = [corpus.draw_image(i) for i in posts[start : start + BATCH]]
        with torch.no_grad():
            pixels = torch.stack([predictor._transform(image) for image in batch])
            features.append(predictor.model.image_features(pixels.to(predictor.device)).numpy())
    x = np.concatenate(features)
    shown = np.zeros((len(posts), len(pictures.MOTIF_SHAPES)), dtype=bool)
    for row, i in enumerate(posts):
        shown[row, list(corpus.picture_slots(i))] = True
    fit = len(posts) * 2 // 3
    scaler = StandardScaler().fit(x[:fit])
    x_fit, x_score = scaler.transform(x[:fit]), scaler.transform(x[fit:])
    aucs = []
    for slot in range(shown.shape[1]):
        if len(set(shown[:fit, slot])) < 2 or len(set(shown[fit:, slot])) < 2:
            continue  # a slot always or never shown here: nothing to tell apart
        model = LogisticRegression(C=0.05, max_iter=300).fit(x_fit, shown[:fit, slot])
        aucs.append(float(roc_auc_score(shown[fit:, slot], model.decision_function(x_score))))
    return float(np.mean(aucs)), aucs


def one_salt(corpus: DemoCorpus, dataset: Path, run: Path, probe_posts: int) -> None:
    labels, frames = load_dataset(dataset, ("test",))
    test = frames["test"]
    targets = multi_hot(test["labels"].tolist(), len(labels)).numpy()
    indexes = [corpus.by_shortcode(code).index for code in test["shortcode"]]
    texts = test["text"].fillna("").tolist()
    predictor = Predictor.load(run)
    scores = {}
    for motifs in (True, False):
        images = [corpus.draw_image(i, motifs=motifs) for i in indexes]
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
    active, units = active_units(predictor, [corpus.draw_image(i) for i in indexes[:BATCH]])
    print(
        f"<!-- {run.name}: largest score change {change:.1e}; image_proj units active on "
        f"{min(BATCH, len(indexes))} test pictures: {active}/{units} -->",
        flush=True,
    )
    if probe_posts:
        mean, aucs = probe(corpus, predictor, probe_posts)
        per_slot = ", ".join(f"{auc:.2f}" for auc in aucs)
        print(f"<!-- {run.name}: probe ROC AUC {mean:.3f} (slots: {per_slot}) -->", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="holds dataset-sN and run-sN")
    parser.add_argument("--salts", nargs="+", default=["s0", "s1", "s2"])
    parser.add_argument("--probe", type=int, default=0, metavar="N", help="probe on N posts")
    args = parser.parse_args()
    corpus = DemoCorpus()  # the corpus of configs/demo.yaml, which the crawl served
    print("| run | pictures | p@1 | p@5 | mAP |\n| --- | --- | ---: | ---: | ---: |")
    for salt in args.salts:
        run = args.folder / f"run-{salt}"
        one_salt(corpus, args.folder / f"dataset-{salt}", run, args.probe)


if __name__ == "__main__":
    main()
