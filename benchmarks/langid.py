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
the same CPU and warmed on the public sets first (models and lingua's lazily loaded languages,
not the real captions' words). ``--save-decisions PATH`` writes the default filter's decision
on every real caption (language, confidence and the ``--explain`` evidence: the mixed shares
and log-odds of each prior language) to a file outside the repository, and
``--check-decisions PATH`` fails (exit 1) unless this tree decides every caption identically,
so a speed-up can be shown to change nothing.

Usage: python benchmarks/langid.py [--data PATH] [--captions PATH] [--backend NAME ...]
       [--repeats N] [--json PATH] [--realdev PATH] [--real-speed-captions N]
       [--real-speed-only] [--baseline-tree PATH] [--save-decisions PATH]
       [--check-decisions PATH]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from preprocess.langid import BACKENDS, DEFAULT_BACKEND, MIXED, UNDETERMINED, get_detector

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
    "caption": (0.97, 0.02),
}
NOT_A_LANGUAGE = {MIXED, UNDETERMINED}
MIN_TEXTS_PER_SECOND = 5000
REALDEV = Path(__file__).resolve().parents[2] / "shared" / "realdev"
"""Real posts and hand-labelled captions (its README.md); never copied into the repository."""
REAL_TARGET = TARGETS["caption"]
"""Recall and false-English goals on real labelled captions: the caption goals."""
REAL_SPEED_CAPTIONS = 3000
"""Real captions timed per backend (the first ones of posts.jsonl)."""


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


@dataclass
class RealRow:
    backend: str
    part: str
    english: int
    english_recall: float
    other: int
    false_english_rate: float
    english_called_mixed: int
    mixed_called_english: str


def load_real_labels(realdev: Path) -> list[dict[str, str]]:
    """The hand-labelled captions, each with its ``half`` (``A`` or ``B``) added."""
    items = json.loads((realdev / "lang-labels.json").read_text("utf-8"))["items"]
    groups: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for item in items:
        groups[(item["source"], item["label"])].append(item)
    for group in groups.values():  # stratified: alternate within each source and label
        group.sort(key=lambda item: hashlib.sha256(item["shortcode"].encode()).hexdigest())
        for index, item in enumerate(group):
            item["half"] = "AB"[index % 2]
    return items


def real_rows(backend: str, items: list[dict[str, str]]) -> list[RealRow]:
    """Goal figures on the labelled captions: all, each half, each source."""
    predicted = [lang for lang, _ in get_detector(backend).detect_batch([i["text"] for i in items])]
    parts: dict[str, list[tuple[str, str]]] = {"all": [], "half A": [], "half B": []}
    for source in sorted({item["source"] for item in items}):
        parts[source.removeprefix("file:")] = []
    for item, guess in zip(items, predicted, strict=True):
        pair = (item["label"], guess)
        for part in ("all", f"half {item['half']}", item["source"].removeprefix("file:")):
            parts[part].append(pair)
    return [_real_row(backend, part, pairs) for part, pairs in parts.items()]


def _real_row(backend: str, part: str, pairs: list[tuple[str, str]]) -> RealRow:
    english = [guess for label, guess in pairs if label == "en"]
    other = [guess for label, guess in pairs if label == "other"]
    mixed = [guess for label, guess in pairs if label == MIXED]
    return RealRow(
        backend=backend,
        part=part,
        english=len(english),
        english_recall=_share(english, "en"),
        other=len(other),
        false_english_rate=_share(other, "en"),
        english_called_mixed=english.count(MIXED),
        mixed_called_english=f"{mixed.count('en')} of {len(mixed)}",
    )


def _share(guesses: list[str], lang: str) -> float:
    return guesses.count(lang) / len(guesses) if guesses else float("nan")


def real_meets_targets(rows: list[RealRow]) -> bool:
    min_recall, max_false = REAL_TARGET
    return all(
        r.english_recall >= min_recall and r.false_english_rate <= max_false
        for r in rows
        if r.part == "all"
    )


def real_markdown(rows: list[RealRow]) -> str:
    lines = [
        "| backend | captions | English | English recall | other language | false-English "
        "| English called mixed | mixed called English |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.backend} | {r.part} | {r.english} | {_figure(r.english_recall, '.3f')} | "
            f"{r.other} | {_figure(r.false_english_rate, '.2%')} | {r.english_called_mixed} | "
            f"{r.mixed_called_english} |"
        )
    return "\n".join(lines)


def _figure(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)


def load_real_captions(realdev: Path) -> list[str]:
    with open(realdev / "posts.jsonl", encoding="utf-8") as handle:
        return [json.loads(line)["caption"] or "" for line in handle]


def real_decisions(backends: list[str], captions: list[str]) -> str:
    """How each backend labels every real post: English, another language, mixed, und."""
    kinds = ("en", "other language", MIXED, UNDETERMINED)
    lines = ["| backend | " + " | ".join(kinds) + " |", "| --- |" + " ---: |" * len(kinds)]
    for backend in backends:
        found = Counter(
            lang if lang in ("en", MIXED, UNDETERMINED) else "other language"
            for lang, _ in get_detector(backend).detect_batch(captions)
        )
        lines.append(f"| {backend} | " + " | ".join(f"{found[k]:,}" for k in kinds) + " |")
    return "\n".join(lines)


def real_speed(backends: list[str], captions: list[str], repeats: int) -> str:
    """Captions/s on real captions, the backends timed in turn within each pass."""
    best = {backend: (float("inf"), float("inf")) for backend in backends}
    for _ in range(repeats):
        for backend in backends:
            detector = get_detector(backend)
            cpu, wall = time.process_time(), time.perf_counter()
            detector.detect_batch(captions)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            best[backend] = (min(best[backend][0], cpu), min(best[backend][1], wall))
    lines = [
        "| backend | captions | captions/s (CPU) | captions/s (wall) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for backend, (cpu, wall) in best.items():
        n = len(captions)
        lines.append(f"| {backend} | {n:,} | {n / cpu:,.0f} | {n / wall:,.0f} |")
    return "\n".join(lines)


CONFIDENCE_DIGITS = 9
"""Decimals of a confidence compared: lingua sums its n-gram probabilities in an order that
changes from call to call, so the same text gets confidences that differ in the last bits."""


def decision_records(captions: list[str]) -> list[list[object]]:
    """The default filter's decision per caption: ``[lang, confidence, evidence]``; the fast
    path (``detect_batch``) and the explaining one must agree on language and confidence."""
    detector = get_detector(DEFAULT_BACKEND)
    fast = detector.detect_batch(captions)
    explained = detector.explain_batch(captions)
    records: list[list[object]] = []
    for (lang, confidence), verdict in zip(fast, explained, strict=True):
        record = [lang, round(confidence, CONFIDENCE_DIGITS), verdict.evidence]
        if record[:2] != [verdict.lang, round(verdict.confidence, CONFIDENCE_DIGITS)]:
            raise SystemExit(f"detect_batch and explain_batch disagree: {record} vs {verdict}")
        records.append(record)
    return records


def check_decisions(path: Path, captions: list[str]) -> int:
    """0 when this tree decides every caption as the saved file says; 1 and the first
    differences otherwise."""
    saved = json.loads(path.read_text("utf-8"))
    now = decision_records(captions)
    if len(saved) != len(now):
        print(f"decisions: {path} has {len(saved)} captions, posts.jsonl {len(now)}")
        return 1
    differing = [i for i, (old, new) in enumerate(zip(saved, now, strict=True)) if old != new]
    for index in differing[:5]:
        print(f"caption {index}: saved {saved[index][:2]}, now {now[index][:2]}")
    print(
        f"decisions on {len(now):,} real captions (language, confidence, mixed shares, "
        f"log-odds): {len(differing)} differ from {path}"
    )
    moves = Counter(
        (saved[i][0] == "en", now[i][0] == "en", saved[i][0] == now[i][0]) for i in differing
    )
    print(
        f"  kept -> dropped {sum(n for (old, new, _), n in moves.items() if old and not new)}, "
        f"dropped -> kept {sum(n for (old, new, _), n in moves.items() if new and not old)}, "
        f"dropped under another label {moves[(False, False, False)]}, "
        f"same label {moves[(True, True, True)] + moves[(False, False, True)]}"
    )
    return 1 if differing else 0


def time_real_pass(realdev: Path) -> dict[str, dict[str, float]]:
    """CPU and wall seconds of one pass of the default filter over every real caption, then one
    over the short held-out captions, after a warm-up on the development sets (loads fastText,
    lingua's languages and the word lists; neither timed set is in it). The short set comes
    second: its 190 lines are too few to time lingua's lazy loading of a language with them."""
    detector = get_detector(DEFAULT_BACKEND)
    warm_up = [" ".join(words) for _, words in load_sentences(DATA)]
    detector.detect_batch(warm_up + [text for _, _, text in load_captions(CAPTIONS)])
    sets = {
        "real": load_real_captions(realdev),
        "short": [text for _, _, text in load_captions(CAPTIONS_HELD_OUT)],
    }
    timings = {}
    for name, texts in sets.items():
        cpu, wall = time.process_time(), time.perf_counter()
        detector.detect_batch(texts)
        timings[name] = {
            "texts": len(texts),
            "cpu": time.process_time() - cpu,
            "wall": time.perf_counter() - wall,
        }
    return timings


def real_speed_side_by_side(realdev: Path, baseline: Path, repeats: int) -> str:
    """Captions/s of the default filter on short and on real captions, ``baseline``'s code and
    this tree's alternately, each pass in a fresh process (so no cache carries over)."""
    trees = {"before": baseline.resolve(), "after": Path(__file__).resolve().parents[1]}
    best: dict[tuple[str, str], tuple[int, float, float]] = {}
    for _ in range(repeats):
        for side, tree in trees.items():
            env = {**os.environ, "PYTHONPATH": str(tree)}
            command = [sys.executable, __file__, "--time-real-pass", "--realdev", str(realdev)]
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            for name, timing in json.loads(done.stdout.splitlines()[-1]).items():
                cpu, wall = best.get((side, name), (0, float("inf"), float("inf")))[1:]
                best[(side, name)] = (
                    timing["texts"],
                    min(cpu, timing["cpu"]),
                    min(wall, timing["wall"]),
                )
    lines = [
        "| code | captions | captions/s (CPU) | captions/s (wall) |",
        "| --- | --- | ---: | ---: |",
    ]
    for (side, name), (count, cpu, wall) in best.items():
        what = f"{count:,} real (posts.jsonl)" if name == "real" else f"{count} short (held-out)"
        lines.append(
            f"| {side} ({trees[side]}) | {what} | {count / cpu:,.0f} | {count / wall:,.0f} |"
        )
    return "\n".join(lines)


def real_speed_only(args: argparse.Namespace) -> int:
    """The speed goal and the no-change check on real captions, nothing else."""
    if not (args.realdev / "posts.jsonl").is_file():
        print(f"real captions: skipped, {args.realdev} has no posts.jsonl")
        return 0
    captions = load_real_captions(args.realdev)
    if args.save_decisions:
        records = decision_records(captions)
        args.save_decisions.write_text(json.dumps(records, ensure_ascii=False), "utf-8")
        print(f"decisions on {len(records):,} real captions written to {args.save_decisions}")
    status = check_decisions(args.check_decisions, captions) if args.check_decisions else 0
    if args.baseline_tree:
        print(
            f"{platform.machine()}, {os.cpu_count()} CPUs, {pin_to_one_core()}, "
            f"load average {os.getloadavg()[0]:.1f} at the start"
        )
        print(f"\nDefault filter on every real caption, best of {args.repeats} passes each:\n")
        print(real_speed_side_by_side(args.realdev, args.baseline_tree, args.repeats))
        print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return status


def report_real_data(
    realdev: Path, backends: list[str], speed_captions: int, repeats: int
) -> list[RealRow]:
    """Print the goal figures on real captions; nothing (and a message) without realdev."""
    if not (realdev / "lang-labels.json").is_file():
        print(f"\nreal captions: skipped, {realdev} has no lang-labels.json")
        return []
    items = load_real_labels(realdev)
    captions = load_real_captions(realdev)
    rows = [row for backend in backends for row in real_rows(backend, items)]
    for backend in backends:
        met = real_meets_targets([r for r in rows if r.backend == backend])
        print(
            f"{backend} on real captions: {'meets' if met else 'misses'} the goals", file=sys.stderr
        )
    print(f"\nReal labelled captions ({realdev / 'lang-labels.json'}, {len(items)} captions):\n")
    print(real_markdown(rows))
    print(f"\nDecisions on every real post ({len(captions):,}):\n")
    print(real_decisions(backends, captions))
    print(f"\nSpeed on real captions (the first {speed_captions:,}, best of {repeats}):\n")
    print(real_speed(backends, captions[:speed_captions], repeats))
    return rows


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
        print(json.dumps(time_real_pass(args.realdev)))
        return 0
    if args.real_speed_only or args.save_decisions or args.check_decisions:
        return real_speed_only(args)
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
