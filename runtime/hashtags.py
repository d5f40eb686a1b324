"""Hashtag extraction and normalization: the one definition every stage uses (docs/architecture.md).

A hashtag is ``#`` or full-width ``＃`` not preceded by a letter, digit, underscore or ``&``
(so ``a#b`` and ``&#39;`` are not tags), followed by a run of letters, marks, decimal digits,
underscore and the joiners of :data:`JOINERS` holding at least one letter (so ``#123`` is not a
tag). As in twitter-text, a joiner (ZWNJ/ZWJ, middle dot, Hebrew geresh and gershayim, the
Japanese wave dash ...) continues a tag only when a letter, mark, digit or underscore follows
it, a ``#`` inside a URL is no tag and neither is a ``#`` followed by a scheme (``#https://``).
Run-together tags (``#foo#bar``) give both, as Instagram links them. The normalized form is
NFKC then ``casefold()``. docs/dataset.md lists where and why this differs from twitter-text.
"""

from __future__ import annotations

import functools
import re
import unicodedata

HASH_SIGNS = "#＃"
#: Characters inside a tag that are neither letters, marks nor digits: twitter-text's
#: ``hashtagSpecialChars`` less the underscore. ZWNJ/ZWJ join letters in Persian and Indic
#: scripts; U+A67E Cyrillic kavyka; Hebrew maqaf, geresh and gershayim (U+05BE, U+05F3,
#: U+05F4: צה״ל); full-width tilde and wave dash (U+FF5E, U+301C); the kana sound marks, double
#: hyphen and middle dot (U+309B, U+309C, U+30A0, U+30FB); the ditto mark (U+3003); the Tibetan
#: tsheg (U+0F0B, U+0F0C); the middle dot (U+00B7, Catalan ``l·l``).
JOINERS = frozenset(
    "\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e\u301c\u309b\u309c\u30a0\u30fb\u3003\u0f0b\u0f0c\u00b7"
)
_MENTION = re.compile(r"(?<![\w.])@[\w](?:[\w.]*[\w])?")
# A scheme or www. start a URL; so does a bare domain followed by a path (``x.com/#section``).
_URL = re.compile(
    r"[#＃]?(?:https?://|www\.|(?<![\w@.])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/)\S*",
    re.IGNORECASE,
)
_URL_HINT = re.compile(r"/|www\.", re.IGNORECASE)
"""Every URL holds one of these: text without them has no URL and skips :data:`_URL`, whose
bare-domain branch is tried at every word."""
_SIGN_AND_ASCII_BODY = re.compile(f"[{HASH_SIGNS}][A-Za-z0-9_]*")
"""A sign and the ASCII body characters after it (letters, digits, underscore): most of most
tags, read at C speed; :func:`_body_end` goes on where a non-ASCII character follows."""
_SCHEME_AFTER = "://"
_SPACE = re.compile(r"\s+")


@functools.cache  # a caption's characters repeat: each is classified once per process
def _is_body_char(char: str) -> bool:
    if "\ufe00" <= char <= "\ufe0f":  # emoji variation selectors are marks, not word parts
        return False
    category = unicodedata.category(char)
    return category[0] in "LM" or category == "Nd" or char == "_"


def _blocks_tag(char: str) -> bool:
    """A character right before ``#`` that makes it not a hashtag (``a#b``, ``&#39;``)."""
    return _is_body_char(char) or char == "&"


def hashtag_spans(text: str) -> list[tuple[int, int, str]]:
    """Return ``(start, end, raw_body)`` for each hashtag in ``text``, in order."""
    if "#" not in text and "＃" not in text:  # no sign, no tag: nothing to walk
        return []
    spans: list[tuple[int, int, str]] = []
    urls = _url_spans(text)
    previous_end = -1
    for sign in _SIGN_AND_ASCII_BODY.finditer(text):  # a body holds no sign: none is skipped
        index, end = sign.span()
        if urls and any(start <= index < stop for start, stop in urls):
            continue
        run_together = index == previous_end
        if index > 0 and not run_together and _blocks_tag(text[index - 1]):
            continue
        if end < len(text) and not text[end].isascii():  # no ASCII character continues a body
            end = _body_end(text, end)
        if text.startswith(_SCHEME_AFTER, end):  # #https://... is a URL, not a tag
            continue
        body = text[index + 1 : end]
        if any(map(str.isalpha, body)):  # isalpha: the letter categories (L*)
            spans.append((index, end, body))
            previous_end = end
    return spans


def _body_end(text: str, start: int) -> int:
    """Where a tag body starting at ``start`` ends: at the first character that is neither a
    body character nor a joiner with a body character after it (joiners may repeat)."""
    end = start
    length = len(text)
    while end < length:
        if _is_body_char(text[end]):
            end += 1
            continue
        joined = end
        while joined < length and text[joined] in JOINERS:
            joined += 1
        if joined in (end, length) or not _is_body_char(text[joined]):
            break
        end = joined
    return end


def _url_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every URL, where ``#`` is a fragment, not a hashtag."""
    if not _URL_HINT.search(text):
        return []
    return [match.span() for match in _URL.finditer(text)]


def normalize_hashtag(tag: str) -> str:
    """NFKC then casefold, without the leading sign."""
    return unicodedata.normalize("NFKC", tag.lstrip(HASH_SIGNS)).casefold()


def extract_hashtags(text: str | None) -> list[str]:
    """Normalized hashtags of ``text`` in order of first appearance, each once."""
    if not text:
        return []
    seen: dict[str, None] = {}
    for _, _, body in hashtag_spans(text):
        seen.setdefault(normalize_hashtag(body), None)
    return list(seen)


def strip_for_model(text: str | None) -> str:
    """The caption the model sees: every hashtag, @mention and URL removed, spaces collapsed."""
    if not text:
        return ""
    pieces, last = [], 0
    for start, end, _ in hashtag_spans(text):
        pieces.append(text[last:start])
        pieces.append(" ")
        last = end
    pieces.append(text[last:])
    text = "".join(pieces)
    if _URL_HINT.search(text):
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _MENTION.sub(" ", text)
    return _SPACE.sub(" ", text).strip()
