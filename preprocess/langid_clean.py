"""The caption as language detection sees it: what the caption *says*, without its markup.

Hashtags, @mentions, URLs, emoji and laughter say nothing about the language a caption is
written in (an English hashtag soup around a Portuguese sentence is a Portuguese post), so
:func:`clean_for_langid` removes them and reads styled letters (``𝓨𝓮𝓮𝓽``, ``ⓢⓜⓘⓛⓔ``,
full-width ``ｈｉ``) as the plain letters they are.

Speed (issue 17: the filter must judge 5,000 real captions/s on one core): the hashtags, the
mentions and the laughter are removed by one regular expression in C, not by walking the
caption in Python. It follows the one definition of a hashtag, :mod:`runtime.hashtags`
(signs, body characters, joiners, run-together tags, ``#`` in URLs), character classes and
all; ``tests/preprocess/test_langid_clean.py`` holds it to ``strip_for_model`` on the real
captions and on random strings of the characters where the rules differ.
"""

from __future__ import annotations

import functools
import itertools
import re
import sys
import unicodedata

import emoji

from runtime.hashtags import JOINERS

JUDGED_CHARS = 600
"""Only the start of a long cleaned caption is judged (words, ``mixed`` shares, detectors):
every step's time grows with the text, and a caption's language is settled well before its
600th character. A tighter bound (300) turned bilingual captions with the second language
further down from ``mixed`` into ``en`` (docs/benchmarks/langid.md, issue 17)."""
EMOJI_RANGE_GAP = 256
"""Code points of emoji closer than this are merged into one range of :data:`_EMOJI_RUN`."""
EMOJI_CACHE_SIZE = 1 << 14
"""Runs of emoji remembered with their replacement: captions repeat their emoji (the 14,367
real captions hold 6,953 different runs; a smaller cache forgot them in turn)."""

URL = r"(?i:#?(?:https?://|www\.|(?<![\w@.])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/)\S*)"
""":mod:`runtime.hashtags`' URL, after NFKC (which turns the full-width sign into ``#``)."""
URL_HINTS = ("/", "www.")
"""Every URL holds one of these (``www.`` in any case): text without them skips :data:`URL`,
whose bare-domain branch is tried at every word."""
_MENTION = r"@\w(?:[\w.]*\w)?"
_LAUGHTER = r"(?i:(?<=([hj]))(?<!\w[hj])([aeiou])\1\2(?:\1\2)*h?\b)"
"""``haha``, ``HAHAHA``, ``jajaja``, ``hehe``: a syllable repeated, in no language's words;
written to follow its first letter, already taken by :func:`_first_char_led`."""


_TAG_KINDS = {"Nd": "other", **{c: "letter" for c in ("Lu", "Ll", "Lt", "Lm", "Lo")}}
_TAG_KINDS |= {c: "other" for c in ("Mn", "Mc", "Me")}
"""What each Unicode category is in a tag body (:mod:`runtime.hashtags`): letters, and marks
and decimal digits beside them; ``_`` is also one, the emoji variation selectors are not."""


def _tag_classes() -> dict[str, str]:
    """Patterns for one ``letter``, ``other`` (a body character that is not a letter) and
    ``body`` character of a tag, from one scan of every code point's category."""
    kinds = list(
        map(_TAG_KINDS.get, map(unicodedata.category, map(chr, range(sys.maxunicode + 1))))
    )
    kinds[ord("_")] = "other"
    kinds[0xFE00:0xFE10] = [None] * 16
    runs, start = [], 0  # (kind, first code point, last code point)
    for kind, run in itertools.groupby(kinds):
        length = len(list(run))
        runs.append((kind, start, start + length - 1))
        start += length
    body: list[tuple[int, int]] = []
    for kind, low, high in runs:
        if kind and body and body[-1][1] == low - 1:
            body[-1] = (body[-1][0], high)
        elif kind:
            body.append((low, high))
    spans = {
        name: [(low, high) for kind, low, high in runs if kind == name]
        for name in _TAG_KINDS.values()
    }
    classes = {name: _char_class(found) for name, found in {**spans, "body": body}.items()}
    return classes | {"body run": _char_class(body, "++")}


def _char_class(spans: list[tuple[int, int]], first_plane_run: str = "") -> str:
    """A pattern for one character of ``spans``, as a class of the Basic Multilingual Plane or
    else one of the other planes: ``re`` tests a class of the first plane in one look-up and a
    class reaching past it range by range (hundreds of ranges for the letters), so the other
    planes are only tried for a character of theirs. ``first_plane_run`` (``++``) makes the
    first plane's class take a run of its characters at once: ``re`` repeats a bare class in a
    loop of its own, where a group around it goes through the whole pattern per character."""
    first = "".join(_span(low, min(high, 0xFFFF)) for low, high in spans if low <= 0xFFFF)
    other = "".join(_span(max(low, 0x10000), high) for low, high in spans if high > 0xFFFF)
    first = f"[{first}]{first_plane_run}"
    return f"(?:{first}|(?=[\U00010000-\U0010ffff])[{other}])" if other else first


def _span(low: int, high: int) -> str:
    return re.escape(chr(low)) + ("" if low == high else "-" + re.escape(chr(high)))


@functools.cache  # built once per process, for the first caption (0.3-0.5 s)
def _passes() -> dict[bool, tuple[re.Pattern[str], ...]]:
    """The expressions that remove the markup, in order, for text without and with a URL.

    Without: hashtag runs (with a mention written right after them), mentions and laughter in
    one. With a URL: URLs and hashtag runs first and then mentions and laughter, as
    ``strip_for_model`` removes mentions only after URLs (``@https://...`` is a URL). Tried
    first at each place, a URL keeps the ``#`` inside it, and a tag that starts before a URL
    keeps what it covers, as in ``strip_for_model``.

    A tag (:mod:`runtime.hashtags`): ``#`` not after a body character or ``&``, unless it
    continues a run of tags (``#foo#bar``); then body characters (letters, marks, decimal
    digits, ``_``, but not the emoji variation selectors) and joiners followed by a body
    character, at least one of them a letter, and no ``://`` after (``#https://`` is a URL).
    The quantifiers are possessive, as the walk of :mod:`runtime.hashtags` never gives back.
    A mention glued to a run (``#tag@anna``) goes with it: ``strip_for_model`` removes the
    tag first and then finds the mention."""
    classes = _tag_classes()
    letter, other, body = classes["letter"], classes["other"], classes["body"]
    joiner = f"[{''.join(map(re.escape, sorted(JOINERS)))}]"
    part = f"(?:{classes['body run']}|{joiner}++(?={body}))"  # possessive: runs as one char
    before_letter = f"(?:{other}|{joiner}++(?={body}))"
    tag = f"#{before_letter}*+{letter}{part}*+(?!://)"
    # the sign first, then a look back at the character before it: re searches for the sign
    first = f"#(?<!{body}#)(?<!&#){tag[1:]}"
    mention = f"@(?<![\\w.]@){_MENTION[1:]}"
    # with a URL, a URL glued to a tag (``#tag#x.com/``) is a URL, not the next tag of the run
    hashtags_before_urls = f"{first}(?:(?!{URL}){tag})*+"
    return {
        False: (
            _first_char_led(
                {"#": f"{first[1:]}(?:{tag})*+(?:{_MENTION})?", "@": mention[1:], "hjHJ": _LAUGHTER}
            ),
        ),
        True: (
            re.compile(f"{URL}|{hashtags_before_urls}"),
            _first_char_led({"@": mention[1:], "hjHJ": _LAUGHTER}),
        ),
    }


def _first_char_led(rests: dict[str, str]) -> re.Pattern[str]:
    """``first characters -> rest of the pattern`` as one expression that opens with a class of
    the first characters, tried in the order given, each rest after a look back at its first
    character. ``re`` scans for a leading class in C and tries the alternatives only at those
    characters; an alternation of its own (laughter's first letter in any case) it tries at
    every character, about a tenth of the filter's time on real captions (issue 17). The
    same matches as ``#...|@...|(?i:[hj])...``, as the rests look back at the same letters."""
    firsts = "".join(rests)
    alternatives = "|".join(f"(?<=[{first}]){rest}" for first, rest in rests.items())
    return re.compile(f"[{firsts}](?:{alternatives})")


def _emoji_runs() -> re.Pattern[str]:
    """Runs of the characters emoji are written with, for :func:`without_emoji`.

    ``emoji.replace_emoji`` walks a text one character at a time in Python. No emoji spans a
    character outside these runs, so handing it only the runs gives the same text at a fraction
    of the cost. Non-ASCII emoji code points (with the zero-width joiner and the variation
    selectors, which ``emoji`` also removes) are merged into a few ranges, which ``re`` tests
    fast; the ASCII ones (``#``, ``*``, digits: keycaps) only join a run next to one of them,
    as a keycap needs U+FE0F or U+20E3 after its digit. The expression opens with one class of
    both, which ``re`` scans for in C; one that opened with the ASCII ones or else a non-ASCII
    one was tried at every character (issue 17's speed goal)."""
    used = {*"".join(emoji.EMOJI_DATA), "\u200d", "\ufe0e", "\ufe0f"}
    ascii_part = re.escape("".join(sorted(c for c in used if c.isascii())))
    ranges: list[list[int]] = []
    for point in sorted(ord(c) for c in used if not c.isascii()):
        if ranges and point - ranges[-1][1] < EMOJI_RANGE_GAP:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    wide = "".join(f"{chr(low)}-{chr(high)}" for low, high in ranges)
    first_plane = "".join(f"{chr(low)}-{chr(high)}" for low, high in ranges if high <= 0xFFFF)
    # the class scanned for takes the other planes whole (one range to test per character, not
    # one per range of emoji); the look back checks the character found: an ASCII one needs a
    # non-ASCII one after its own kind; then the run goes on
    found = f"[{ascii_part}{first_plane}\U00010000-\U0010ffff]"
    first = f"(?:(?<=[{ascii_part}])[{ascii_part}]*+[{wide}]|(?<=[{wide}]))"
    return re.compile(f"{found}{first}[{ascii_part}{wide}]*+")


_EMOJI_RUN = _emoji_runs()


def clean_for_langid(text: str | None) -> str:
    """The caption as detection sees it: no hashtags, mentions, URLs, emoji or laughter, and
    styled letters as plain ones (NFKC), spaces collapsed."""
    if not text:
        return ""
    plain = unicodedata.normalize("NFKC", text)
    for markup in _passes()[may_hold_url(plain)]:
        plain = markup.sub(" ", plain)
    return " ".join(without_emoji(plain).split())  # spaces collapsed


def may_hold_url(text: str) -> bool:
    """Whether ``text`` holds a :data:`URL_HINTS` hint, by substring tests in C: a regular
    expression ignoring case tried them at every character (issue 17's speed goal). Only
    ``W`` lowers to ``w`` and nothing lowers to ``.``, so lowering finds ``www.`` in any case."""
    return URL_HINTS[0] in text or URL_HINTS[1] in text.lower()


def without_emoji(text: str) -> str:
    """``emoji.replace_emoji(text, replace=" ")``, given only the runs that can hold emoji."""
    return text if text.isascii() else _EMOJI_RUN.sub(_replaced_run, text)


def _replaced_run(run: re.Match[str]) -> str:
    return _replace_emoji(run.group())


@functools.lru_cache(maxsize=EMOJI_CACHE_SIZE)
def _replace_emoji(run: str) -> str:
    return emoji.replace_emoji(run, replace=" ")


def judged_part(text: str) -> str:
    """The first :data:`JUDGED_CHARS` characters of a cleaned caption, cut at a space."""
    if len(text) <= JUDGED_CHARS:
        return text
    head = text[: JUDGED_CHARS + 1]
    return head[: head.rfind(" ")] if " " in head else head[:JUDGED_CHARS]


def count_letters(text: str) -> int:
    return sum(map(str.isalpha, text))
