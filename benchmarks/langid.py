"""Benchmark the language-id backends on the English filter's targets, all in one run.

Reads benchmarks/langid_data/sentences.tsv or --data (``lang<TAB>text``), derives single-word and
two-word texts from the sentences, and reports per backend and length: English recall, the
false-English rate (share of non-English texts called ``en``), exact-language accuracy and
texts/s on one core. The process is pinned to one CPU and throughput is counted in CPU seconds
(wall-clock too), so other work on a shared machine does not lower the figure. A text that
occurs in two languages' samples ("pizza", "de la") has no single right answer and is left out.

Usage: python benchmarks/langid.py [--data PATH] [--backend NAME ...] [--repeats N] [--json PATH]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from preprocess.langid import BACKENDS, get_detector

DATA_DIR = Path(__file__).with_name("langid_data")
DATA = DATA_DIR / "sentences.tsv"
"""The development set the cascade's thresholds were first chosen on."""
HELD_OUT = DATA_DIR / "heldout.tsv"
"""Written later, in a more casual style, to check the thresholds generalize (the final choice
looked at both sets; docs/benchmarks/langid.md tells how)."""
UNSPACED_LANGUAGES = {"ja", "zh"}
"""Stored word-segmented with spaces so words can be derived; the sentence joins them back."""
LENGTHS = ("word", "two_words", "sentence")
TARGETS = {  # length: (minimum English recall, maximum false-English rate)
    "two_words": (0.90, 0.005),
    "sentence": (0.99, 0.005),
}
MIN_TEXTS_PER_SECOND = 5000


@dataclass
class Row:
    backend: str
    length: str
    texts: int
    english_recall: float
    false_english_rate: float
    accuracy: float
    texts_per_cpu_second: float
    texts_per_wall_second: float


def load_sentences(path: Path = DATA) -> list[tuple[str, list[str]]]:
    """``(lang, words)`` per line; words keep their punctuation (it is part of a sentence)."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(row["lang"], row["text"].split()) for row in rows]


def _bare(word: str) -> str:
    return word.strip(".,!?;:\"'()")


def derive_samples(sentences: list[tuple[str, list[str]]]) -> dict[str, list[tuple[str, str]]]:
    """``length -> [(lang, text)]``: sentences, every adjacent word pair, every word."""
    texts: dict[str, dict[str, set[str]]] = {length: defaultdict(set) for length in LENGTHS}
    for lang, words in sentences:
        joiner = "" if lang in UNSPACED_LANGUAGES else " "
        texts["sentence"][joiner.join(words)].add(lang)
        bare = [b for b in map(_bare, words) if any(c.isalpha() for c in b)]
        for word in bare:
            texts["word"][word].add(lang)
        for first, second in zip(bare, bare[1:], strict=False):
            texts["two_words"][joiner.join((first, second))].add(lang)
    return {
        length: sorted((langs.pop(), text) for text, langs in by_text.items() if len(langs) == 1)
        for length, by_text in texts.items()
    }


def pin_to_one_core() -> str:
    """Run on a single CPU, as the target is per core; returns a note for the report."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def measure(backend: str, samples: list[tuple[str, str]], length: str, repeats: int) -> Row:
    detector = get_detector(backend)
    texts = [text for _, text in samples]
    predicted = [lang for lang, _ in detector.detect_batch(texts)]  # also warms lazy models
    best_cpu = best_wall = float("inf")
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        detector.detect_batch(texts)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    truth = [lang for lang, _ in samples]
    english = [guess for lang, guess in zip(truth, predicted, strict=True) if lang == "en"]
    other = [guess for lang, guess in zip(truth, predicted, strict=True) if lang != "en"]
    return Row(
        backend=backend,
        length=length,
        texts=len(texts),
        english_recall=sum(g == "en" for g in english) / len(english),
        false_english_rate=sum(g == "en" for g in other) / len(other),
        accuracy=sum(g == t for g, t in zip(predicted, truth, strict=True)) / len(truth),
        texts_per_cpu_second=len(texts) / best_cpu,
        texts_per_wall_second=len(texts) / best_wall,
    )


def meets_targets(rows: list[Row]) -> bool:
    for row in rows:
        if row.length in TARGETS:
            min_recall, max_false = TARGETS[row.length]
            if row.english_recall < min_recall or row.false_english_rate > max_false:
                return False
        if row.texts_per_cpu_second < MIN_TEXTS_PER_SECOND:
            return False
    return True


def markdown(rows: list[Row]) -> str:
    lines = [
        "| backend | length | texts | English recall | false-English | accuracy "
        "| texts/s (CPU) | texts/s (wall) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.backend} | {r.length} | {r.texts} | {r.english_recall:.4f} | "
            f"{r.false_english_rate:.2%} | {r.accuracy:.3f} | {r.texts_per_cpu_second:,.0f} | "
            f"{r.texts_per_wall_second:,.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=DATA,
        help=f"sentences TSV (default {DATA.name}; also {HELD_OUT.name})",
    )
    parser.add_argument("--backend", action="append", choices=BACKENDS, help="default: all")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the best counts")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)

    pinning = pin_to_one_core()
    samples = derive_samples(load_sentences(args.data))
    languages = sorted({lang for lang, _ in samples["sentence"]})
    print(f"{args.data.name}: {platform.machine()}, {os.cpu_count()} CPUs, {pinning}")
    print(
        f"{len(languages)} languages; texts per length: "
        + ", ".join(f"{length} {len(samples[length])}" for length in LENGTHS)
    )
    rows: list[Row] = []
    for backend in args.backend or BACKENDS:
        backend_rows = [measure(backend, samples[n], n, args.repeats) for n in LENGTHS]
        verdict = "meets all targets" if meets_targets(backend_rows) else "misses a target"
        print(f"{backend}: {verdict}", file=sys.stderr)
        rows.extend(backend_rows)
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
