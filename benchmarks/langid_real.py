"""The real-caption part of ``benchmarks/langid.py`` (issue 17): its goals, decisions and speed.

Read from ../shared/realdev (never copied into the repository): English recall and
false-English on the hand-labelled captions of lang-labels.json, overall, per fixed half and
per source; the decisions over every post of posts.jsonl; captions/s per backend; the default
filter's speed against another checkout, each pass in a fresh process started through
``benchmarks/langid.py --time-real-pass``; and the saved-decisions check that shows a speed-up
changes nothing. ``benchmarks/langid.py`` holds the command line and the public sets.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from preprocess.langid import DEFAULT_BACKEND, MIXED, UNDETERMINED, get_detector

REALDEV = Path(__file__).resolve().parents[2] / "shared" / "realdev"
"""Real posts and hand-labelled captions (its README.md); never copied into the repository."""
REAL_TARGET = (0.97, 0.02)
"""Minimum English recall and maximum false-English rate on real labelled captions: the goals
for short captions (``TARGETS["caption"]`` of benchmarks/langid.py is this pair)."""
REAL_SPEED_CAPTIONS = 3000
"""Real captions timed per backend (the first ones of posts.jsonl)."""


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


def time_real_pass(
    realdev: Path, warm_up: list[str], short: list[str]
) -> dict[str, dict[str, float]]:
    """CPU and wall seconds of the start-up, then of one pass of the default filter over every
    real caption, then of one over the ``short`` captions.

    Start-up: the detector built, every model loaded and a warm-up on ``warm_up`` (neither
    timed set is in it). Every model means fastText's and the word lists, which the detector
    loads when it is built or on its first caption, and lingua's, which the naming of dropped
    captions loads one language at a time when a caption first asks for it
    (:func:`load_lingua_models`): loaded here, the pass times judging, not loading, on both
    sides alike. The short set comes second: its lines are too few to time anything that
    loads lazily with them."""
    cpu, wall = time.process_time(), time.perf_counter()
    detector = get_detector(DEFAULT_BACKEND)
    lingua_models = load_lingua_models()
    detector.detect_batch(warm_up)
    timings = {
        "start-up": {
            "texts": len(warm_up),
            "cpu": time.process_time() - cpu,
            "wall": time.perf_counter() - wall,
        }
    }
    sets = {"real": load_real_captions(realdev), "short": short}
    for name, texts in sets.items():
        cpu, wall = time.process_time(), time.perf_counter()
        detector.detect_batch(texts)
        timings[name] = {
            "texts": len(texts),
            "cpu": time.process_time() - cpu,
            "wall": time.perf_counter() - wall,
        }
    del lingua_models  # held through the passes
    return timings


def load_lingua_models() -> object:
    """lingua's low-accuracy models of every language the naming of dropped captions may weigh
    (``langid_backends.lingua_chooser``: lingua's languages less ``LINGUA_EXCLUDED``), loaded
    now. lingua keeps loaded models for every detector of the process, so the naming's own
    detectors find them loaded; the detector returned holds them while it lives. Done with
    lingua's own builder, so a baseline checkout gets the same start-up as this one."""
    from lingua import Language, LanguageDetectorBuilder

    from preprocess.langid_backends import LINGUA_EXCLUDED

    weighed = [
        language
        for language in Language.all()
        if language.iso_code_639_1.name.lower() not in LINGUA_EXCLUDED
    ]
    builder = LanguageDetectorBuilder.from_languages(*weighed).with_low_accuracy_mode()
    return builder.with_preloaded_language_models().build()


def real_speed_side_by_side(realdev: Path, baseline: Path, repeats: int, script: Path) -> str:
    """Captions/s of the default filter on short and on real captions, ``baseline``'s code and
    this tree's alternately, each pass in a fresh process of ``script --time-real-pass`` (so
    no cache carries over), and each side's start-up. The best pass and the median one per
    side, and the real set's every pass: other jobs on a shared machine slow single passes by
    a tenth or more, so one best figure alone hides how far the passes spread."""
    trees = {"before": baseline.resolve(), "after": Path(__file__).resolve().parents[1]}
    passes: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
    for _ in range(repeats):
        for side, tree in trees.items():
            env = {**os.environ, "PYTHONPATH": str(tree)}
            command = [sys.executable, str(script), "--time-real-pass", "--realdev", str(realdev)]
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            for name, timing in json.loads(done.stdout.splitlines()[-1]).items():
                passes[(side, name)].append(timing)
    lines = [
        "| code | captions | captions/s (CPU), best | median | captions/s (wall), best |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for (side, name), timings in passes.items():
        if name == "start-up":
            continue
        count = int(timings[0]["texts"])
        cpu = sorted(timing["cpu"] for timing in timings)
        wall = min(timing["wall"] for timing in timings)
        what = f"{count:,} real (posts.jsonl)" if name == "real" else f"{count} short (held-out)"
        lines.append(
            f"| {side} ({trees[side]}) | {what} | {count / cpu[0]:,.0f} | "
            f"{count / statistics.median(cpu):,.0f} | {count / wall:,.0f} |"
        )
    lines += ["", "Every pass over the real captions, in order (captions/s, CPU):", ""]
    for side in trees:
        rates = [f"{t['texts'] / t['cpu']:,.0f}" for t in passes[(side, "real")]]
        lines.append(f"- {side}: {', '.join(rates)}")
    lines += [
        "",
        "Start-up (detector, fastText, word lists, lingua's naming models, warm-up on the "
        "public sets), not in the figures above:",
        "",
        "| code | start-up, CPU s, best | median | start-up, wall s, best |",
        "| --- | ---: | ---: | ---: |",
    ]
    for side, tree in trees.items():
        timings = passes[(side, "start-up")]
        cpu = [timing["cpu"] for timing in timings]
        wall = min(timing["wall"] for timing in timings)
        lines.append(
            f"| {side} ({tree}) | {min(cpu):.2f} | {statistics.median(cpu):.2f} | {wall:.2f} |"
        )
    return "\n".join(lines)


def real_speed_only(args: argparse.Namespace, script: Path, pin: Callable[[], str]) -> int:
    """The speed goal and the no-change check on real captions, nothing else; ``pin`` pins
    the process to one core and says which."""
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
            f"{platform.machine()}, {os.cpu_count()} CPUs, {pin()}, "
            f"load average {os.getloadavg()[0]:.1f} at the start"
        )
        print(f"\nDefault filter on every real caption, {args.repeats} passes a side, in turn:\n")
        print(real_speed_side_by_side(args.realdev, args.baseline_tree, args.repeats, script))
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
