"""What a caption's own words say about its language, from wordfreq's frequency lists.

Character n-gram detectors guess poorly on one to three words, and captions are often that
short. A word list does not guess: ``sunset``, ``vibes`` and ``bday`` are common English words,
``kiitos`` is a common Finnish one, a made-up brand name is in no list at all. This module turns
a cleaned caption into the words a detector should see (elongations undone, shouting lowered)
and scores each word for one language against the most frequent other language.

Frequencies are Zipf values (log10 of occurrences per billion words: 7 is "the", 3 is a word
seen once per million). The other languages use wordfreq's "small" lists, which all stop at
Zipf 3, so they compete on equal terms; the word lists ship inside the wordfreq wheel, so
nothing is downloaded. Only Latin-script languages are loaded: a caption in another script is
never taken for a Latin-script language by the detector, and leaving them out keeps the
start-up near 2.5 seconds and 145 MB (docs/langid.md).
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterator
from typing import NamedTuple

# fmt: off
RIVAL_LANGUAGES = (
    "ca", "cs", "da", "de", "es", "fi", "fil", "fr", "hu", "id", "is", "it", "lt", "lv", "ms",
    "nb", "nl", "pl", "pt", "ro", "sh", "sk", "sl", "sv", "tr", "vi", "en",
)
# fmt: on
"""Latin-script languages with a wordfreq list; a word's best rival is the most frequent of
these other than the language being scored."""
LIST_FLOOR_ZIPF = 3.0
"""Where wordfreq's small lists stop: a word below it is unknown to a rival language."""
MAX_WORD_EVIDENCE = 3.0
"""One word moves the evidence by at most this many Zipf points either way, so a single very
frequent word ("de", "so") cannot outvote the rest."""
MAX_ELONGATED_RUNS = 3
"""Runs of repeated letters tried both ways per word; 2**3 spellings at most."""
WORDFREQ_CODES = {"tl": "fil", "no": "nb", "hr": "sh", "sr": "sh", "bs": "sh"}
"""Detector codes whose wordfreq list has another name."""

_WORD_SPLIT = re.compile(r"([^\W\d_]+(?:['’][^\W\d_]+)*)")
"""A word of letters (with inner apostrophes), captured, so ``split`` keeps it."""
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
"""Letters and digits together, so a product code, price or size (``L45xW33``, ``170kr``,
``4Matic``) is one token and can be left out whole instead of leaving ``kr`` or ``xW``."""
_DIGIT = re.compile(r"\d")
LATIN_END = "\u024f"
"""Letters up to here (ASCII to Latin Extended-B) are Latin without a Unicode name look-up."""
ONE_WRITING_SYSTEM = {"HIRAGANA": "CJK", "KATAKANA": "CJK"}
"""Scripts written together in one word: Japanese mixes kanji (CJK) and kana in a word."""
_RUN = re.compile(r"([^\W\d_])\1{2,}")
_THRICE = re.compile(r"(.)\1\1", re.DOTALL)
"""Any character three times in a row: needed for :data:`_RUN`, and five times cheaper to look
for (a letter class is a Unicode look-up per character)."""
_SHOUTED_PAIR = re.compile(r"[^\W\d_a-z]['’]?[^\W\d_a-z]")
"""Two letters, neither of them ``a``-``z``, next to each other or across an apostrophe: every
word that :func:`normalise` lowers as shouted (two characters or more, none lower case) holds
such a pair, and most captions with capitals hold none (``Sunny day in Rome``), so they skip
the split into words."""
_ELLIPSIS = re.compile(r"\.{2,}|…")
_UNKNOWN = ("", 0.0)
SCRIPT_CACHE_SIZE = 1 << 13
"""Letters remembered with their script: a caption in Korean or Arabic repeats a few hundred."""
WORD_CACHE_SIZE = 1 << 16
"""Words remembered with their plain spelling per language: captions repeat their words, so a
crawl's look-ups are mostly answered from memory, in a few MB at most."""


class WordVote(NamedTuple):
    """A word's score; a tuple, as a crawl builds one per new word (issue 17's speed goal)."""

    word: str
    zipf: float
    """The word's frequency in the scored language (0 when unknown)."""
    rival: str
    """The most frequent other language for the word ("" when no list knows it)."""
    rival_zipf: float
    evidence: float
    """Positive: the word speaks for the scored language; negative: for ``rival``."""
    capitalised: bool = False
    """Written with a capital and then lower case (``Sanchez``, ``Boulevard``): maybe a name."""
    script: str = "LATIN"
    """The word's script (:func:`script`): the lists score Latin-script words only."""


def normalise(text: str, lang: str = "en") -> str:
    """The caption as the detectors should read it: ellipses opened into spaces, shouted words
    in lower case and elongations undone (``tireddddd`` -> ``tired``, ``gooood`` -> ``good``).

    An elongated word becomes the spelling most frequent in ``lang`` when ``lang`` knows one
    (``missss`` -> ``miss``, not Spanish ``mis``), else the most frequent in any language."""
    if ".." in text or "…" in text:  # what _ELLIPSIS needs, tested in C
        text = _ELLIPSIS.sub(" ", text)
    stretched = _THRICE.search(text) and _RUN.search(text)
    if not stretched and (text == text.lower() or not _SHOUTED_PAIR.search(text)):
        return text  # no elongation and no shouted word: no word to change, none to look up
    pieces = _WORD_SPLIT.split(text)  # text, word, text, word, ..., text
    if stretched:
        pieces[1::2] = map(_plain_word, pieces[1::2], itertools.repeat(wordfreq_code(lang)))
    else:  # only shouted words change: lowered without a look-up
        pieces[1::2] = [w.lower() if len(w) > 1 and w.isupper() else w for w in pieces[1::2]]
    return "".join(pieces)


def _unshouted(word: str) -> str:
    return word.lower() if len(word) > 1 and word.isupper() else word


def words(text: str) -> list[str]:
    """The lower-case words of a normalised caption, tokens with a digit left out."""
    return [word.lower() for word in _cased_words(text)]


def _cased_words(text: str) -> list[str]:
    return [token for token in tokens(text) if is_word(token)]


def tokens(text: str) -> list[str]:
    """Runs of letters and digits (with inner apostrophes) of a normalised caption."""
    return _TOKEN.findall(text)


def is_word(token: str) -> bool:
    """A token without a digit: product codes, prices and sizes are no language's words."""
    # isalpha() first: a token of letters only has no digit, and most tokens are such
    return token.isalpha() or not _DIGIT.search(token)


def word_votes(text: str, lang: str) -> list[WordVote]:
    """Each word of ``text`` scored for ``lang`` against its most frequent rival language."""
    code = wordfreq_code(lang)
    return [word_vote(cased, code) for cased in _cased_words(text)]


def word_vote(cased: str, lang: str) -> WordVote:
    """One word (as written) scored for ``lang`` (a wordfreq code) against its best rival."""
    word = cased.lower()
    zipf = _zipf_table(lang).get(word, 0.0)
    rival, rival_zipf = _rival_table(lang).get(word, _UNKNOWN)
    if not zipf and not rival_zipf:  # a name, a brand, a word of an unlisted language
        evidence = 0.0
    else:
        evidence = zipf - max(rival_zipf, LIST_FLOOR_ZIPF)
        evidence = max(-MAX_WORD_EVIDENCE, min(MAX_WORD_EVIDENCE, evidence))
    capitalised = cased[0].isupper() and not cased.isupper()
    # tuple.__new__ builds the WordVote in C: NamedTuple's own __new__ is Python code that
    # cost about 1 us a word, a fifth of a new word's figures (issue 17's speed goal)
    fields = (word, zipf, rival, rival_zipf, evidence, capitalised, script(cased))
    return tuple.__new__(WordVote, fields)


def script(word: str) -> str:
    """``LATIN``, another script's name (``CYRILLIC``, ``ARABIC``, ``CJK``, ``HANGUL``...),
    or ``""`` for a word of letters from several scripts: decoration (``Bʅυʂԋ``), not a
    language."""
    if word.isascii() or max(word) <= LATIN_END:  # most words, decided at C speed
        return "LATIN"
    scripts = set(map(_letter_script, filter(str.isalpha, word)))
    return scripts.pop() if len(scripts) == 1 else ""


@functools.lru_cache(maxsize=SCRIPT_CACHE_SIZE)
def _letter_script(letter: str) -> str:
    name = unicodedata.name(letter, "?").split()[0]
    return ONE_WRITING_SYSTEM.get(name, name)


def wordfreq_code(lang: str) -> str:
    return WORDFREQ_CODES.get(lang, lang)


@functools.lru_cache(maxsize=WORD_CACHE_SIZE)
def _plain_word(word: str, lang: str) -> str:
    word = _unshouted(word)
    if not _RUN.search(word):
        return word
    spellings = _unstretched(word)
    own = _zipf_table(lang)
    in_lang = max(spellings, key=lambda s: own.get(s.lower(), 0.0))
    if own.get(in_lang.lower(), 0.0) >= LIST_FLOOR_ZIPF:
        return in_lang
    rivals = _rival_table(lang)
    return max(spellings, key=lambda s: rivals.get(s.lower(), _UNKNOWN)[1])


def _unstretched(word: str) -> list[str]:
    """Every spelling with each run of 3+ equal letters shortened to one or two letters."""
    parts = _RUN.split(word)  # text, letter, text, letter, ..., text
    runs = parts[1::2][:MAX_ELONGATED_RUNS]
    spellings = []
    for lengths in itertools.product((1, 2), repeat=len(runs)):
        pieces = [parts[0]]
        for index, letter in enumerate(parts[1::2]):
            count = lengths[index] if index < len(runs) else 1
            pieces += [letter * count, parts[2 * index + 2]]
        spellings.append("".join(pieces))
    return spellings  # the first keeps one letter per run: the fallback when no list knows any


@functools.cache
def _zipf_table(lang: str) -> dict[str, float]:
    """Zipf frequency per word of ``lang``'s best list (for English the large one, to Zipf 1)."""
    if lang not in RIVAL_LANGUAGES:
        return {}
    return {word: zipf for zipf, bucket in _buckets(lang, "best") for word in bucket}


@functools.cache
def _rival_table(lang: str) -> dict[str, tuple[str, float]]:
    """Per word, the most frequent language other than ``lang`` and its Zipf frequency."""
    best: dict[str, tuple[str, float]] = {}
    for rival in RIVAL_LANGUAGES:
        if rival == lang:
            continue
        for zipf, bucket in _buckets(rival, "small"):
            if zipf < LIST_FLOOR_ZIPF:
                break  # buckets run from the most to the least frequent
            entry = (rival, zipf)  # one tuple per bucket, shared by its words
            for word in bucket:
                if zipf > best.get(word, _UNKNOWN)[1]:
                    best[word] = entry
    return best


def _buckets(lang: str, wordlist: str) -> Iterator[tuple[float, list[str]]]:
    """``(zipf, words)`` per frequency bucket of a wordfreq list, most frequent first.

    Read from the file in the wheel rather than through ``get_frequency_dict``, which keeps
    every list it ever built in a process-wide cache (hundreds of MB for 27 languages)."""
    from wordfreq import available_languages, read_cBpack

    for index, words in enumerate(read_cBpack(available_languages(wordlist)[lang])):
        if words:  # bucket ``index`` holds the words at -index centibels: Zipf 9 - index/100
            yield round(9 - index / 100, 2), words
