"""How well can ANY model rank the demo dataset's tags?  The Bayes-optimal ceilings, beside the
model and TF-IDF + LR, with a paired bootstrap of their difference (issue 17).

Why: the demo site (demo_site.generator) draws a post's tags at random given only its topic
(each topic slot with a fixed chance in TAG_CHANCES, the spam tags with a chance set by the
owner's spamminess, a local-script tag for ko/ja). Its caption words come from the topic,
language and a per-post rng, so the caption alone says at most the topic. Its picture shows the
topic's palette and shapes and, since the generator change of issue 17.4, one motif for each
topic tag slot the post has (demo_site.pictures; none for spam or local tags). So:

* ``oracle``: P(tag | topic) with the spam tags at their marginal rate - the ceiling of any
  ranking that knows the topic and nothing more, i.e. of the caption words. Model text drops
  mentions and links (Predictor.model_text), so nothing in the input names the owner and the
  owner's spamminess is not revealed. Before the generator change this was the ceiling of the
  whole input (pictures showed only the topic); now it is not.
* ``oracle+picture``: the topic tags the picture's motifs show (demo_site.generator
  picture_slots: a near-duplicate shows the picture it copies) scored 1, the topic's other
  tags 0, spam tags at their marginal rate - the ceiling when the motifs are read perfectly;
  the spam tags are all that is left to guess.
* ``oracle+owner``: ``oracle`` with the owner's true spam chance (not knowable from the input;
  an upper bound).
* ``oracle+leak``: ``oracle``, except that a test post whose repost family (original or any
  repost of it, which carry exactly the same tags) has a member in the train split is given
  its exact tags - what a model could at most learn by memorising reposts.
* ``topic rates``: each label's rate among the train + val posts of the post's true topic, i.e.
  P(tag | topic) as the crawl sampled it (its 12 tag feeds shift the rates from TAG_CHANCES).

Paired bootstrap intervals (over test posts) of model - tfidf, oracle - model, topic rates -
model and oracle+picture - model.  The generator's private arrays (``_topic``, ``_owner``...)
are read directly: this is a diagnosis of the demo site itself, not product code.

Usage: python -m benchmarks.demo_ceiling /work/scratch-demopics/q-demo  (folders dataset-sN
and run-sN, built from the demo site of configs/demo.yaml).  A few minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from demo_site.generator import TAG_CHANCES, DemoCorpus
from demo_site.topics import LANGUAGES, SPAM_TAGS
from train.baselines import fit_tfidf
from train.data import load_dataset, multi_hot, post_inputs
from train.evaluate import open_images
from train.predictor import Predictor
from train.scores import mean_average_precision, ranking_metrics

METRICS = ("p@1", "p@5", "map")
RESAMPLES = 2000


def metrics(scores: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    ranking = ranking_metrics(scores, targets, ks=(1, 5))
    return {
        "p@1": ranking["p@1"],
        "p@5": ranking["p@5"],
        "map": mean_average_precision(scores, targets),
    }


def oracle_scores(
    corpus: DemoCorpus, indexes: list[int], labels: list[str], by_owner: bool
) -> np.ndarray:
    """P(label | topic [, owner]) from the generator's own chances, for each post index."""
    column = {tag: j for j, tag in enumerate(labels)}
    spam_chance = np.where(corpus.owner_spammy, 0.45, 0.02)[corpus._owner]
    mean_spam = float(spam_chance.mean())
    mean_no_spam = float(((1 - spam_chance) ** len(SPAM_TAGS)).mean())
    scores = np.zeros((len(indexes), len(labels)))
    for row, i in enumerate(indexes):
        topic = corpus.topics[int(corpus._topic[i])]
        chances = list(TAG_CHANCES[: len(topic.tags)])
        s = spam_chance[i] if by_owner else mean_spam
        no_spam = (1 - s) ** len(SPAM_TAGS) if by_owner else mean_no_spam
        # slot 0 is forced on when nothing else was drawn ("at least one tag")
        chances[0] += (1 - chances[0]) * float(np.prod([1 - c for c in chances[1:]])) * no_spam
        absent = {}
        for tag, chance in zip(topic.tags, chances, strict=False):
            absent[tag] = absent.get(tag, 1.0) * (1 - chance)
        lang = LANGUAGES[int(corpus._lang[i])]
        if lang in ("ko", "ja"):
            absent[topic.local_tag(lang)] = absent.get(topic.local_tag(lang), 1.0) * 0.4
        for tag in SPAM_TAGS:
            absent[tag] = absent.get(tag, 1.0) * (1 - s)
        for tag, none in absent.items():
            if tag in column:
                scores[row, column[tag]] = 1 - none
    return scores


def picture_oracle_scores(corpus: DemoCorpus, indexes: list[int], labels: list[str]) -> np.ndarray:
    """The topic tags a post's picture shows scored 1, spam tags their marginal rate, all else 0."""
    column = {tag: j for j, tag in enumerate(labels)}
    spam_chance = np.where(corpus.owner_spammy, 0.45, 0.02)[corpus._owner]
    mean_spam = float(spam_chance.mean())
    scores = np.zeros((len(indexes), len(labels)))
    spam_columns = [column[tag] for tag in SPAM_TAGS if tag in column]
    scores[:, spam_columns] = mean_spam
    for row, i in enumerate(indexes):
        topic = corpus.topics[int(corpus._topic[i])]
        for slot in corpus.picture_slots(i):
            if topic.tags[slot] in column:
                scores[row, column[topic.tags[slot]]] = 1.0
    return scores


def topic_rates(topics: np.ndarray, targets: np.ndarray, test_topics: np.ndarray) -> np.ndarray:
    """Each label's rate among the posts (``topics``, ``targets``) of the test post's topic."""
    scores = np.zeros((len(test_topics), targets.shape[1]))
    for t in np.unique(test_topics):
        rows, members = test_topics == t, topics == t
        counts, n = targets[members].sum(axis=0), members.sum()
        scores[rows] = counts / max(n, 1)
    return scores


def bootstrap(a: np.ndarray, b: np.ndarray, targets: np.ndarray, seed: int = 0) -> dict:
    """95% interval of metric(a) - metric(b) over posts resampled with replacement (paired)."""
    rng = np.random.default_rng(seed)
    diffs = {m: [] for m in METRICS}
    n = len(targets)
    for _ in range(RESAMPLES):
        rows = rng.integers(0, n, size=n)
        ma, mb = metrics(a[rows], targets[rows]), metrics(b[rows], targets[rows])
        for m in METRICS:
            diffs[m].append(ma[m] - mb[m])
    return {m: np.percentile(d, [2.5, 97.5]) for m, d in diffs.items()}


def family(corpus: DemoCorpus, i: int) -> int:
    """The original a post's repost family hangs from (the post itself when not a repost)."""
    root = int(corpus._root[i])
    return root if root >= 0 else i


def one_salt(corpus: DemoCorpus, dataset: Path, run: Path) -> dict:
    labels, frames = load_dataset(dataset, ("train", "val", "test"))
    test = frames["test"]
    targets = multi_hot(test["labels"].tolist(), len(labels)).numpy()
    indexes = [corpus.by_shortcode(code).index for code in test["shortcode"]]
    mismatched = sum(
        set(corpus.post_tags(i)) != set(tags)
        for i, tags in zip(indexes, test["hashtags"], strict=True)
    )
    train_families = {
        family(corpus, corpus.by_shortcode(c).index) for c in frames["train"]["shortcode"]
    }
    leaked = np.array([family(corpus, i) in train_families for i in indexes])

    oracle = oracle_scores(corpus, indexes, labels, by_owner=False)
    with_owner = oracle_scores(corpus, indexes, labels, by_owner=True)
    with_leak = np.where(leaked[:, None], targets + oracle * 1e-3, oracle)
    with_picture = picture_oracle_scores(corpus, indexes, labels) + oracle * 1e-3
    topic_of = {
        s: np.array([corpus._topic[corpus.by_shortcode(c).index] for c in f["shortcode"]])
        for s, f in frames.items()
    }
    split_targets = {
        s: multi_hot(f["labels"].tolist(), len(labels)).numpy() for s, f in frames.items()
    }
    # what a model that knew each post's topic could learn: the crawled posts' label rates per
    # topic in train + val (the crawl picks posts from 12 tag feeds, which shifts the rates
    # away from the generator's chances); ties broken by the generator's chances
    known = np.concatenate([topic_of["train"], topic_of["val"]])
    known_targets = np.concatenate([split_targets["train"], split_targets["val"]])
    rates = topic_rates(known, known_targets, topic_of["test"]) + oracle * 1e-3

    predictor = Predictor.load(run)
    texts, paths = post_inputs(test, dataset)
    model = np.concatenate(
        [
            predictor.scores(texts[s : s + 64], open_images(paths[s : s + 64]))
            for s in range(0, len(texts), 64)
        ]
    )
    train_targets = multi_hot(frames["train"]["labels"].tolist(), len(labels)).numpy()
    tfidf = fit_tfidf(frames["train"]["text"].fillna("").tolist(), train_targets).scores(
        test["text"].fillna("").tolist()
    )
    rows = {
        "oracle": metrics(oracle, targets),
        "oracle+picture": metrics(with_picture, targets),
        "oracle+owner": metrics(with_owner, targets),
        "oracle+leak": metrics(with_leak, targets),
        "topic rates": metrics(rates, targets),
        "model": metrics(model, targets),
        "tfidf": metrics(tfidf, targets),
    }
    return {
        "rows": rows,
        "model-tfidf": bootstrap(model, tfidf, targets),
        "oracle-model": bootstrap(oracle, model, targets),
        "topic rates-model": bootstrap(rates, model, targets),
        "oracle+picture-model": bootstrap(with_picture, model, targets),
        "n_test": len(test),
        "leaked": int(leaked.sum()),
        "mismatched": mismatched,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="holds dataset-sN and run-sN")
    parser.add_argument("--salts", nargs="+", default=["s0", "s1", "s2"])
    args = parser.parse_args()
    corpus = DemoCorpus()  # the corpus of configs/demo.yaml, which the crawl served
    print("| salt | scorer | p@1 | p@5 | mAP |\n| --- | --- | ---: | ---: | ---: |")
    results = {}
    for salt in args.salts:
        result = one_salt(corpus, args.folder / f"dataset-{salt}", args.folder / f"run-{salt}")
        results[salt] = result
        for name, row in result["rows"].items():
            print(f"| {salt} | {name} | " + " | ".join(f"{row[m]:.3f}" for m in METRICS) + " |")
        for pair in ("model-tfidf", "oracle-model", "topic rates-model", "oracle+picture-model"):
            cells = " | ".join(f"[{lo:+.3f}, {hi:+.3f}]" for lo, hi in result[pair].values())
            print(f"| {salt} | {pair} 95% | {cells} |")
        print(
            f"<!-- {salt}: {result['n_test']} test posts, {result['leaked']} with a repost "
            f"family member in train, {result['mismatched']} with other tags than "
            "the generator's -->",
            flush=True,
        )
    names = next(iter(results.values()))["rows"]
    for name in names:
        means = [np.mean([r["rows"][name][m] for r in results.values()]) for m in METRICS]
        print(f"| mean | {name} | " + " | ".join(f"{v:.3f}" for v in means) + " |")


if __name__ == "__main__":
    main()
