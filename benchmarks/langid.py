"""Benchmark the language-id backends on the English filter's targets, all in one run.

Reads benchmarks/langid_data/sentences.tsv or --data (``lang<TAB>text``), derives single-word and
two-word texts from the sentences, adds the short informal captions of captions.tsv or
--captions (``lang<TAB>form<TAB>text``, labels also ``mixed`` and ``und``), and reports per
backend and length: English recall, the false-English rate (share of texts in another language
called ``en``; ``mixed`` and ``und`` lines are not in it), exact-label accuracy and texts/s on
one core, then each backend's English recall per caption form. The process is pinned to one
CPU and throughput is counted in CPU seconds (wall-clock too), so other work on a shared machine
does not lower the figure. A text that occurs in two languages' samples ("pizza", "de la") has
no single right answer and is left out.

Then the same goals on real captions (issue 17), read from ../shared/realdev (skipped with a
message when absent): English recall and false-English on the hand-labelled captions of
lang-labels.json, overall, on two fixed halves (a stratified split by source and label, so a
change chosen on one half can be checked on the other) and per source; the decisions over all
14,367 unlabelled posts (how many are called ``mixed``); and captions/s on real captions for
every backend, measured alternately in the same run.

Speed of the default filter on every real caption, this tree against another checkout (issue
17's speed goal; ``--real-speed-only`` skips everything else): ``--baseline-tree PATH`` times
one pass over all posts.jsonl captions in a fresh process per side, alternately, each pinned to
the same CPU, after a start-up that is timed and reported on its own: the detector built,
every model loaded (fastText, the word lists and lingua's models for naming dropped captions,
which the filter itself loads one language at a time on first use) and a warm-up on the
public sets (not the real captions' words). ``--save-decisions PATH`` writes the default
filter's decision on every real caption (language, confidence and the ``--explain`` evidence:
the mixed shares and log-odds of each prior language) to a file outside the repository, and
``--check-decisions PATH`` fails (exit 1) unless this tree decides every caption identically,
so a speed-up can be shown to change nothing. The real-caption part is in
benchmarks/langid_real.py; this file holds the public sets and the command line.

Usage: python benchmarks/langid.py [--data PATH] [--captions PATH] [--backend NAME ...]
       [--repeats N] [--json PATH] [--realdev PATH] [--real-speed-captions N]
       [--real-speed-only] [--baseline-tree PATH] [--save-decisions PATH]
       [--check-decisions PATH]
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

from langid_real import (  # the real-caption part, next to this file (run as a script)
    REAL_SPEED_CAPTIONS,
    REAL_TARGET,
    REALDEV,
    real_speed_only,
    report_real_data,
    time_real_pass,
)

from preprocess.langid import BACKENDS, MIXED, UNDETERMINED, get_detector

DATA_DIR = Path(__file__).with_name("langid_data")
DATA = DATA_DIR / "sentences.tsv"
"""The development set the cascade's thresholds were first chosen on."""
HELD_OUT = DATA_DIR / "heldout.tsv"
"""Written later, in a more casual style, to check the thresholds generalize (the final choice
looked at both sets; docs/benchmarks/langid.md tells how)."""
CAPTIONS = DATA_DIR / "captions.tsv"
"""Short informal captions written for issue 14; the caption backend's weights were chosen
on it."""
CAPTIONS_HELD_OUT = DATA_DIR / "captions_heldout.tsv"
"""Written at the same time in the same forms, never looked at while choosing the weights."""
UNSPACED_LANGUAGES = {"ja", "zh"}
"""Stored word-segmented with spaces so words can be derived; the sentence joins them back."""
LENGTHS = ("word", "two_words", "sentence")
TARGETS = {  # length: (minimum English recall, maximum false-English rate)
    "two_words": (0.90, 0.01),
    "sentence": (0.99, 0.005),
    "caption": REAL_TARGET,
}
NOT_A_LANGUAGE = {MIXED, UNDETERMINED}
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


def load_captions(path: Path = CAPTIONS) -> list[tuple[str, str, str]]:
    """``(label, form, text)`` per line of a caption set."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(row["lang"], row["form"], row["text"]) for row in rows]


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
    other = [
        guess
        for lang, guess in zip(truth, predicted, strict=True)
        if lang != "en" and lang not in NOT_A_LANGUAGE
    ]
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


def recall_by_form(backend: str, captions: list[tuple[str, str, str]]) -> dict[str, float]:
    """English recall per caption form (word, elongated, greeting...)."""
    english = [(form, text) for lang, form, text in captions if lang == "en"]
    predicted = get_detector(backend).detect_batch([text for _, text in english])
    found: dict[str, list[bool]] = defaultdict(list)
    for (form, _), (lang, _) in zip(english, predicted, strict=True):
        found[form].append(lang == "en")
    return {form: sum(hits) / len(hits) for form, hits in found.items()}


def form_markdown(recalls: dict[str, dict[str, float]], captions: list) -> str:
    forms = sorted({form for lang, form, _ in captions if lang == "en"})
    counts = {f: sum(1 for lang, form, _ in captions if lang == "en" and form == f) for f in forms}
    lines = [
        "| backend | " + " | ".join(f"{f} ({counts[f]})" for f in forms) + " |",
        "| --- |" + " ---: |" * len(forms),
    ]
    for backend, by_form in recalls.items():
        lines.append(f"| {backend} | " + " | ".join(f"{by_form[f]:.2f}" for f in forms) + " |")
    return "\n".join(lines)


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
    parser.add_argument(
        "--captions",
        type=Path,
        default=CAPTIONS,
        help=f"captions TSV (default {CAPTIONS.name}; also {CAPTIONS_HELD_OUT.name})",
    )
    parser.add_argument("--backend", action="append", choices=BACKENDS, help="default: all")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the best counts")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument(
        "--realdev", type=Path, default=REALDEV, help=f"real posts (default {REALDEV})"
    )
    parser.add_argument(
        "--real-speed-captions",
        type=int,
        default=REAL_SPEED_CAPTIONS,
        metavar="N",
        help="real captions timed per backend",
    )
    parser.add_argument(
        "--real-speed-only",
        action="store_true",
        help="only the default filter's speed and decision check on real captions",
    )
    parser.add_argument(
        "--baseline-tree", type=Path, metavar="PATH", help="checkout to time side by side"
    )
    parser.add_argument("--save-decisions", type=Path, metavar="PATH")
    parser.add_argument("--check-decisions", type=Path, metavar="PATH")
    parser.add_argument("--time-real-pass", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.time_real_pass:  # one side of --baseline-tree, in its own process
        warm_up = [" ".join(words) for _, words in load_sentences(DATA)]
        warm_up += [text for _, _, text in load_captions(CAPTIONS)]
        short = [text for _, _, text in load_captions(CAPTIONS_HELD_OUT)]
        print(json.dumps(time_real_pass(args.realdev, warm_up, short)))
        return 0
    if args.real_speed_only or args.save_decisions or args.check_decisions:
        return real_speed_only(args, Path(__file__), pin_to_one_core)
    backends = args.backend or list(BACKENDS)

    pinning = pin_to_one_core()
    samples = derive_samples(load_sentences(args.data))
    captions = load_captions(args.captions)
    samples["caption"] = [(lang, text) for lang, _, text in captions]
    languages = sorted({lang for lang, _ in samples["sentence"]})
    print(
        f"{args.data.name} + {args.captions.name}: {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {pinning}"
    )
    print(
        f"{len(languages)} languages; texts per length: "
        + ", ".join(f"{length} {len(texts)}" for length, texts in samples.items())
    )
    rows: list[Row] = []
    recalls: dict[str, dict[str, float]] = {}
    for backend in backends:
        backend_rows = [measure(backend, texts, n, args.repeats) for n, texts in samples.items()]
        verdict = "meets all targets" if meets_targets(backend_rows) else "misses a target"
        print(f"{backend}: {verdict}", file=sys.stderr)
        rows.extend(backend_rows)
        recalls[backend] = recall_by_form(backend, captions)
    print(markdown(rows))
    print()
    print(form_markdown(recalls, captions))
    real = report_real_data(args.realdev, backends, args.real_speed_captions, args.repeats)
    if args.json:
        records = [asdict(r) for r in rows] + [asdict(r) for r in real]
        args.json.write_text(json.dumps(records, indent=2) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
