"""Language identification: every backend's contract, the default's accuracy, the CLI."""

from __future__ import annotations

import argparse
import importlib.util
import io
import sys
from pathlib import Path

import pytest

from preprocess import langid
from preprocess.langid_cli import register
from runtime.errors import EXIT_USAGE, UsageError, run_main

REPO = Path(__file__).resolve().parents[2]
PROG = "hashtag-build-dataset"

MIXED_TEXTS = [
    "Best day ever with my favorite people",
    "so happy",
    "Los domingos son para el café",
    "Ich liebe diesen Ort",
    "Доброе утро, друзья",
    "今日はとても楽しかった",
    "sunset",
    "",
    "😍🔥",
]

CLEAR_SENTENCES = {
    "en": ["We spent the whole afternoon walking along the river", "I can't wait to see you all"],
    "es": ["Pasamos toda la tarde caminando junto al río", "No veo la hora de verlos a todos"],
    "fr": ["Nous avons passé tout l'après-midi à marcher le long de la rivière"],
    "de": ["Wir sind den ganzen Nachmittag am Fluss entlang spaziert"],
    "pt": ["Passamos a tarde inteira caminhando à beira do rio"],
    "it": ["Abbiamo passato tutto il pomeriggio a camminare lungo il fiume"],
    "nl": ["We hebben de hele middag langs de rivier gewandeld"],
    "tr": ["Bütün öğleden sonrayı nehir kenarında yürüyerek geçirdik"],
    "pl": ["Spędziliśmy całe popołudnie na spacerze nad rzeką"],
    "id": ["Saya tidak bisa datang besok karena harus bekerja"],  # Malay is a near twin
    "sv": ["Vi tillbringade hela eftermiddagen med att promenera längs floden"],
    "ru": ["Мы провели весь день, гуляя вдоль реки"],
    "ja": ["午後はずっと川沿いを散歩していました"],
    "zh": ["我们整个下午都在河边散步"],
    "ko": ["우리는 오후 내내 강을 따라 걸었어요"],
    "ar": ["قضينا فترة الظهيرة كلها نمشي على ضفاف النهر"],
    "hi": ["हमने पूरी दोपहर नदी के किनारे टहलते हुए बिताई"],
    "vi": ["Chúng tôi đã dành cả buổi chiều đi dạo dọc bờ sông"],
}


@pytest.mark.parametrize("backend", langid.BACKENDS)
def test_every_backend_returns_a_code_and_confidence_per_text(backend: str) -> None:
    results = langid.get_detector(backend).detect_batch(MIXED_TEXTS)
    assert len(results) == len(MIXED_TEXTS)
    for lang, confidence in results:
        assert lang == langid.UNDETERMINED or (len(lang) == 2 and lang.isalpha() and lang.islower())
        assert 0.0 <= confidence <= 1.0
    assert results[0][0] == "en"
    assert results[-1] == (langid.UNDETERMINED, 0.0)


@pytest.mark.parametrize("backend", langid.BACKENDS)
@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "😍🔥✨",
        "#love #instagood #photooftheday",
        "@friend https://example.com/x",
        "ok 👍",
        "12345 !!! 2024",
    ],
)
def test_too_little_to_judge_is_undetermined(backend: str, text: str) -> None:
    assert langid.get_detector(backend).detect(text) == (langid.UNDETERMINED, 0.0)


def test_langdetect_is_deterministic(run_langid) -> None:
    """langdetect draws from a random generator seeded per process: the same lines must get the
    same answers in separate processes (each with its own hash seed) and in this one."""
    ambiguous = ["ok ok ok", "mi amor", "la la land", "hola hello", "ciao bella"] * 4
    stdin = "".join(f"{line}\n" for line in ambiguous)
    runs = [run_langid("--langid-backend", "langdetect", stdin=stdin) for _ in range(2)]
    assert all(done.returncode == 0 for done in runs), runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    here = langid.get_detector("langdetect").detect_batch(ambiguous)
    assert runs[0].stdout == "".join(f"{lang}\t{confidence:.4f}\n" for lang, confidence in here)


def test_default_backend_is_one_of_the_backends() -> None:
    assert langid.DEFAULT_BACKEND in langid.BACKENDS
    assert langid.get_detector().backend == langid.DEFAULT_BACKEND


@pytest.mark.parametrize("lang", sorted(CLEAR_SENTENCES))
def test_default_backend_names_clear_sentences(lang: str) -> None:
    results = langid.get_detector().detect_batch(CLEAR_SENTENCES[lang])
    assert [code for code, _ in results] == [lang] * len(CLEAR_SENTENCES[lang])


def test_hashtags_mentions_urls_and_emoji_do_not_vote() -> None:
    caption = "Passamos a tarde inteira na praia 😍 #beach #summer #love @bestfriend https://x.co/a"
    assert langid.get_detector().detect(caption)[0] == "pt"


def test_unknown_backend_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown language-id backend 'nope'"):
        langid.get_detector("nope")


def _run_cli(argv: list[str], stdin: bytes) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog=PROG)
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    sink = io.StringIO()
    code = run_main(lambda: args.func(args, io.BytesIO(stdin), sink), PROG)
    return code, sink.getvalue()


def test_cli_writes_one_line_per_input_line_in_order() -> None:
    stdin = "Best day ever with my favorite people\n\n#love\nLos domingos son para el café\n"
    code, out = _run_cli(["langid", "--langid-backend", "fasttext"], stdin.encode())
    assert code == 0
    rows = [line.split("\t") for line in out.splitlines()]
    assert [lang for lang, _ in rows] == ["en", "und", "und", "es"]
    assert all(0.0 <= float(confidence) <= 1.0 for _, confidence in rows)


def test_cli_replaces_bytes_that_are_not_utf8_and_keeps_going() -> None:
    stdin = b"\xff\xfe\n\xffhello there my friend\n"
    code, out = _run_cli(["langid", "--langid-backend", "fasttext"], stdin)
    assert code == 0
    assert [line.split("\t")[0] for line in out.splitlines()] == ["und", "en"]


def test_cli_batches_long_input() -> None:
    lines = ["Good morning everyone and happy sunday"] * 1100
    code, out = _run_cli(["langid", "--langid-backend", "fasttext"], "\n".join(lines).encode())
    assert code == 0
    assert out.count("en\t") == 1100


def test_cli_streams_stdin_as_a_module(run_langid) -> None:
    done = run_langid("--langid-backend", "fasttext", stdin="Merci à tous pour vos messages\n😍\n")
    assert done.returncode == 0, done.stderr
    assert [line.split("\t")[0] for line in done.stdout.splitlines()] == ["fr", "und"]


def test_cli_unknown_backend_is_one_line_and_exit_2(run_langid) -> None:
    done = run_langid("--langid-backend", "nope", stdin="hello\n")
    assert done.returncode == EXIT_USAGE
    assert done.stderr.splitlines() == [
        f"{PROG}: error: unknown language-id backend 'nope' "
        "(choose from caption, cascade, fasttext, lingua, langdetect)"
    ]
    assert done.stdout == ""


def _load(name: str, path: Path):
    """A benchmark script as a module, without putting benchmarks/ on sys.path (there its
    train.py and serve.py would hide the packages of the same names from later tests)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


def _benchmark_module():
    _load("langid_real", REPO / "benchmarks/langid_real.py")  # what the script imports beside it
    return _load("langid_benchmark", REPO / "benchmarks/langid.py")


def test_benchmark_set_has_20_languages_three_lengths_and_no_ambiguous_text() -> None:
    benchmark = _benchmark_module()
    samples = benchmark.derive_samples(benchmark.load_sentences())
    assert set(samples) == {"word", "two_words", "sentence"}
    assert len({lang for lang, _ in samples["sentence"]}) >= 20
    for length, rows in samples.items():
        texts = [text for _, text in rows]
        assert len(texts) == len(set(texts)), length
    spaced = [text for lang, text in samples["two_words"] if lang not in {"ja", "zh"}]
    assert all(len(text.split()) == 2 for text in spaced)


def test_caption_sets_cover_the_issue_forms_and_do_not_overlap() -> None:
    benchmark = _benchmark_module()
    development = benchmark.load_captions(benchmark.CAPTIONS)
    held_out = benchmark.load_captions(benchmark.CAPTIONS_HELD_OUT)
    assert len(development) + len(held_out) >= 500
    for rows in (development, held_out):
        labels = {lang for lang, _, _ in rows}
        assert {"en", langid.MIXED, langid.UNDETERMINED, "tl", "sw", "fi", "de", "et"} <= labels
        assert all(len(lang) == 2 or lang in {langid.MIXED, langid.UNDETERMINED} for lang in labels)
        english_forms = {form for lang, form, _ in rows if lang == "en"}
        issue_forms = {"word", "phrase", "elongated", "shouted", "greeting", "ellipsis", "mention"}
        assert issue_forms | {"brand"} <= english_forms
        texts = [text for _, _, text in rows]
        assert len(texts) == len(set(texts))
    assert not {t for _, _, t in development} & {t for _, _, t in held_out}


def test_benchmark_skips_real_captions_with_a_message_when_absent(tmp_path: Path, capsys) -> None:
    benchmark = _benchmark_module()
    assert benchmark.report_real_data(tmp_path, ["caption"], 10, 1) == []
    assert f"real captions: skipped, {tmp_path} has no lang-labels.json" in capsys.readouterr().out


@pytest.mark.skipif(
    not (_benchmark_module().REALDEV / "lang-labels.json").is_file(),
    reason="no real labelled captions in ../shared/realdev",
)
def test_benchmark_halves_are_fixed_and_stratified_by_source_and_label() -> None:
    _benchmark_module()
    langid_real = sys.modules["langid_real"]

    items = langid_real.load_real_labels(langid_real.REALDEV)
    again = langid_real.load_real_labels(langid_real.REALDEV)
    assert [i["half"] for i in items] == [i["half"] for i in again]
    groups: dict[tuple[str, str], list[str]] = {}
    for item in items:
        groups.setdefault((item["source"], item["label"]), []).append(item["half"])
    for halves in groups.values():
        assert abs(halves.count("A") - halves.count("B")) <= 1


def test_real_pass_times_the_start_up_apart_with_every_model_loaded(tmp_path: Path) -> None:
    """One side of ``--baseline-tree``: the start-up (with lingua's naming models, loaded there
    and not in the pass) is its own figure, and each timed set is counted in full."""
    _benchmark_module()
    langid_real = sys.modules["langid_real"]
    (tmp_path / "posts.jsonl").write_text(
        '{"caption": "golden hour at the beach"}\n{"caption": null}\n', "utf-8"
    )
    timings = langid_real.time_real_pass(tmp_path, ["warm up on this"], ["short one"])
    assert list(timings) == ["start-up", "real", "short"]
    assert [timings[name]["texts"] for name in timings] == [1, 2, 1]
    assert all(timing["cpu"] >= 0 and timing["wall"] >= 0 for timing in timings.values())
    assert langid_real.load_lingua_models().compute_language_confidence_values("hej med dig")
