"""The cleaning before language detection (preprocess.langid_clean): the one regular expression
for hashtags, mentions and laughter must remove exactly what the shared definition
(runtime.hashtags.strip_for_model, then laughter and emoji) removes."""

from __future__ import annotations

import json
import random
import re
import unicodedata
from pathlib import Path

import emoji
import pytest

from preprocess import langid_clean
from runtime.hashtags import JOINERS, hashtag_spans, strip_for_model

REALDEV = Path(__file__).resolve().parents[3] / "shared" / "realdev"
_LAUGHTER = re.compile(r"\b([hj][aeiou])\1+h?\b", re.IGNORECASE)


def _reference(text: str) -> str:
    """The cleaning step by step, as it was before the one expression (issue 17)."""
    plain = _LAUGHTER.sub(" ", strip_for_model(unicodedata.normalize("NFKC", text)))
    return " ".join(emoji.replace_emoji(plain, replace=" ").split())


def test_clean_for_langid_keeps_only_the_words() -> None:
    cleaned = langid_clean.clean_for_langid("Sunny 😎 day #beach with @anna at https://a.b/c  !")
    assert cleaned == "Sunny day with at !"


def test_laughter_goes_in_any_case() -> None:
    assert langid_clean.clean_for_langid("HAha so funny jajaja hehe hahah") == "so funny"


def test_same_text_as_the_shared_definition_on_hard_strings() -> None:
    """Signs, run-together tags, joiners, marks, digits, URLs, mentions, laughter and emoji in
    random order: the places where a regular expression and the walk could part."""
    pieces = [
        "#", "＃", "##", "&", "a", "é", "Ж", "中", "_", "1", "٣", "\u0301", "\u093f", " ",
        "\ufe0f", "😀", "👍🏻", "1\ufe0f\u20e3", "@", "@ann.a", ".", "/", "://", "https://x.co/a#b",
        "www.", "x.com/", "ha", "HA", "ja", "he", "h", "tag", "ab'c", "\U0001d4d1", *JOINERS,
    ]  # fmt: skip
    rng = random.Random(0)
    texts = ["".join(rng.choices(pieces, k=rng.randint(1, 12))) for _ in range(20_000)]
    for text in filter(_no_tag_into_a_url, texts):
        assert langid_clean.clean_for_langid(text) == _reference(text), repr(text)


def _no_tag_into_a_url(text: str) -> bool:
    """The one place they part: a tag that runs into the start of a URL (``#・www.x#y``) eats
    the URL's start, and strip_for_model then leaves the signs inside the URL that is no longer
    one, where the expression takes them as tags. Not in any real caption (the test below)."""
    plain = unicodedata.normalize("NFKC", text)
    urls = [match.start() for match in re.finditer(langid_clean.URL, plain)]
    return not any(s < u < e for s, e, _ in hashtag_spans(plain) for u in urls)


def test_same_text_as_the_shared_definition_on_real_captions() -> None:
    if not (REALDEV / "posts.jsonl").is_file():
        pytest.skip(f"{REALDEV} has no posts.jsonl (real captions are not in the repository)")
    with open(REALDEV / "posts.jsonl", encoding="utf-8") as handle:
        captions = [json.loads(line)["caption"] or "" for line in handle]
    differing = [c for c in captions if langid_clean.clean_for_langid(c) != _reference(c)]
    assert not differing, f"{len(differing)} of {len(captions)} differ"


def test_emoji_removal_matches_replace_emoji() -> None:
    """without_emoji hands emoji.replace_emoji only the runs of emoji characters, for speed:
    the text must be the one replace_emoji gives for the whole caption, for every emoji, beside
    letters, digits (keycaps), joiners, variation selectors and skin tones."""
    keys = sorted(emoji.EMOJI_DATA)
    texts = [f"a{key}b 1{key}2 {key}\u200d{key}\ufe0f#{key}" for key in keys]
    pieces = keys + list("ab1#* \u200d\ufe0f\ufe0e\u20e3é«\U0001f3fb")
    rng = random.Random(0)
    texts += ["".join(rng.choices(pieces, k=8)) for _ in range(3000)]
    for text in texts:
        assert langid_clean.without_emoji(text) == emoji.replace_emoji(text, replace=" "), text


def test_judged_part_cuts_a_long_caption_at_a_space() -> None:
    words = "sunset " * 200  # 1,400 characters
    part = langid_clean.judged_part(words.strip())
    assert len(part) <= langid_clean.JUDGED_CHARS
    assert part.split() == ["sunset"] * len(part.split())  # no half word at the end
    assert langid_clean.judged_part("short caption") == "short caption"
    assert langid_clean.judged_part("x" * 1000) == "x" * langid_clean.JUDGED_CHARS  # hard cut


def test_url_hint_is_a_slash_or_www_dot_in_any_case() -> None:
    """The substring tests say what ``/|www\\.`` ignoring case says, on strings of the
    characters where they could part (capital and dotted letters, a bare ``www``)."""
    assert langid_clean.may_hold_url("shop at x.com/sale")
    assert langid_clean.may_hold_url("WwW.shop.dk")
    assert not langid_clean.may_hold_url("www shop, dk")
    expression = re.compile(r"/|www\.", re.IGNORECASE)
    pieces = ["w", "W", ".", "/", "ẃ", "İ", "x", " ", "www", "WWW"]
    rng = random.Random(1)
    for text in ("".join(rng.choices(pieces, k=rng.randint(1, 8))) for _ in range(20_000)):
        assert langid_clean.may_hold_url(text) == (expression.search(text) is not None), text


def test_first_char_led_expression_finds_what_the_alternation_finds() -> None:
    """One class of first characters and look-backs give the matches of ``#...|@...|[hj]...``,
    first alternative first, laughter's letter in any case."""
    rests = {"#": r"\w+", "@": r"\w+(?:\.\w+)*", "hjHJ": r"(?i:a+)"}
    led = langid_clean._first_char_led(rests)
    plain = re.compile(r"#\w+|@\w+(?:\.\w+)*|(?i:[hj]a+)")
    pieces = ["#", "@", "h", "H", "j", "J", "a", "A", "b", ".", " ", "é", "_"]
    rng = random.Random(2)
    for text in ("".join(rng.choices(pieces, k=rng.randint(1, 12))) for _ in range(20_000)):
        assert led.sub(" ", text) == plain.sub(" ", text), text


def test_a_tag_of_letters_from_two_planes_goes_whole() -> None:
    """A tag's first-plane letters are taken in runs; a letter of another plane between them
    (mathematical script, NFKC keeps none of these) still continues the tag."""
    assert langid_clean.clean_for_langid("go #ab\U0001e900cd\U0001e901 now") == "go now"


def test_digits_without_an_emoji_stay_and_a_keycap_goes() -> None:
    for text in ("Größe 42, nur 19€", "Größe 4\ufe0f\u20e3 ☕12", "12 ☕ 3\u20e3x"):
        assert langid_clean.without_emoji(text) == emoji.replace_emoji(text, replace=" "), text
    assert langid_clean.without_emoji("Größe 42") == "Größe 42"
