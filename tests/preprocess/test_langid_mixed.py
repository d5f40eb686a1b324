"""``mixed`` is a real share of another language, weighed by letters (issue 17), one rule at a
time on short text written for the test; the goals on real labelled captions at the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from preprocess import langid, langid_caption, word_evidence
from preprocess.langid_clean import clean_for_langid

REALDEV = Path(__file__).resolve().parents[3] / "shared" / "realdev"
LABELS = REALDEV / "lang-labels.json"


@pytest.fixture(scope="module")
def detector() -> langid.Detector:
    return langid.get_detector("caption")


def shares(text: str) -> tuple[float, float, int]:
    normalised = word_evidence.normalise(clean_for_langid(text))
    return langid_caption.mixed_shares(word_evidence.word_votes(normalised, "en"))


def test_single_letters_are_not_foreign_words() -> None:
    # U, S, e and a are each a common word somewhere; alone they say nothing
    assert shares("U S e a")[2] == 0


@pytest.mark.parametrize(
    "caption",
    [
        "The U.S. team sold more e-cig kits this year than in all the years before",
        "Our new oak table L120xW80xH75 is only 450kr or £39 with free delivery this week",
        "Dinner at Casa de Pedro with Juan and Maria last night, what a great evening",
        "Meet us at Sønder Boulevard 12 tomorrow for the opening of our little shop",
        "WARNING: This product contains nicotine. Nicotine is an addictive chemical.",
    ],
    ids=["abbreviations", "codes and prices", "names", "address", "boilerplate warning"],
)
def test_long_english_captions_with_names_codes_and_abbreviations_are_english(
    detector: langid.Detector, caption: str
) -> None:
    assert detector.detect(caption)[0] == "en"


def test_words_with_digits_are_left_out() -> None:
    assert word_evidence.words("size L120xW80 for 450kr, 4Matic") == ["size", "for"]


def test_half_another_language_is_mixed(detector: langid.Detector) -> None:
    caption = (
        "Endlich Wochenende, wir gehen heute an den Strand. Finally the weekend, off to the beach"
    )
    assert detector.detect(caption)[0] == langid.MIXED


def test_half_another_script_is_mixed(detector: langid.Detector) -> None:
    caption = "Thank you all for coming to our show tonight 감사합니다 여러분 정말 행복했어요"
    assert detector.detect(caption)[0] == langid.MIXED


def test_mostly_another_language_is_that_language(detector: langid.Detector) -> None:
    caption = "Hoy fuimos a la playa con toda la familia y comimos muchísimo, best day"
    assert detector.detect(caption)[0] == "es"


def test_capitalised_foreign_words_are_names_not_foreign() -> None:
    own, other, foreign_words = shares("Lunch with Hija Sanchez Mejor and Bella Vista")
    assert foreign_words == 0 and other == 0.0


def test_decorative_mixed_script_words_are_not_a_language() -> None:
    assert word_evidence.script("Bʅυʂԋ") == ""
    assert word_evidence.script("감사합니다") == "HANGUL"
    assert word_evidence.script("hello") == "LATIN"
    assert word_evidence.script("楽しかった") == "CJK"  # kanji and kana: one writing system


def test_styled_letters_are_read_as_plain_letters(detector: langid.Detector) -> None:
    assert clean_for_langid("𝓑𝓮𝓼𝓽 𝓭𝓪𝔂 ⓔⓥⓔⓡ") == "Best day ever"
    assert detector.detect("𝘐 𝘮𝘪𝘴𝘴 𝘵𝘩𝘦 𝘴𝘶𝘮𝘮𝘦𝘳 𝘢𝘭𝘳𝘦𝘢𝘥𝘺")[0] == "en"


@pytest.mark.skipif(not LABELS.is_file(), reason=f"no real labelled captions at {LABELS}")
def test_goals_hold_on_real_labelled_captions(detector: langid.Detector) -> None:
    items = json.loads(LABELS.read_text("utf-8"))["items"]
    found = [lang for lang, _ in detector.detect_batch([item["text"] for item in items])]
    english = [lang for item, lang in zip(items, found, strict=True) if item["label"] == "en"]
    other = [lang for item, lang in zip(items, found, strict=True) if item["label"] == "other"]
    assert english.count("en") / len(english) >= 0.97
    assert other.count("en") / len(other) <= 0.02


def test_explanation_shows_the_shares(detector: langid.Detector) -> None:
    mixed = detector.explain_batch(["ich bin so tired of this"])[0]
    assert mixed.lang == langid.MIXED
    assert "other 32% of the judged letters (2 foreign) -> mixed" in mixed.evidence
    english = detector.explain_batch(["The U.S. team sold more e-cig kits this year"])[0]
    assert english.lang == "en" and "-> not mixed" in english.evidence


def test_shares_are_summed_only_where_they_can_make_a_caption_mixed() -> None:
    """Fewer than two foreign words cannot be ``mixed``: the shares are left at 0 then, unless
    the caption is explained; with two they are the shares of :func:`mixed_shares`."""
    one = word_evidence.tokens("sunset with my amigos")
    assert langid_caption._caption_figures(one, "en", False)[1:] == (0.0, 0.0, 1)
    text = "ich bin so tired of this"
    two = word_evidence.tokens(text)
    quick = langid_caption._caption_figures(two, "en", False)
    assert quick[1:] == langid_caption._caption_figures(two, "en", True)[1:]
    assert quick[1:] == shares(text)
