"""Hashtag extraction and normalization: the one definition every stage uses (DESIGN.md).

A hashtag is ``#`` or full-width ``＃`` not preceded by a letter, digit, underscore or ``&``
(so ``a#b`` and ``&#39;`` are not tags), followed by a run of letters, marks, decimal digits
and underscore holding at least one letter (so ``#123`` is not a tag). Run-together tags
(``#foo#bar``) give both. The normalized form is NFKC then ``casefold()``.
"""

from __future__ import annotations

import re
import unicodedata

HASH_SIGNS = "#＃"
_MENTION = re.compile(r"(?<![\w.])@[\w](?:[\w.]*[\w])?")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


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
    spans: list[tuple[int, int, str]] = []
    in_url = _url_mask(text)
    index, length = 0, len(text)
    previous_end = -1
    while index < length:
        if text[index] not in HASH_SIGNS or in_url[index]:
            index += 1
            continue
        run_together = index == previous_end
        if index > 0 and not run_together and _blocks_tag(text[index - 1]):
            index += 1
            continue
        end = index + 1
        while end < length and _is_body_char(text[end]):
            end += 1
        body = text[index + 1 : end]
        if any(unicodedata.category(c)[0] == "L" for c in body):
            spans.append((index, end, body))
            previous_end = end
            index = end
        else:
            index = max(end, index + 1)
    return spans


def _url_mask(text: str) -> list[bool]:
    """True at every position inside a URL, where ``#`` is a fragment, not a hashtag."""
    mask = [False] * len(text)
    for match in _URL.finditer(text):
        mask[match.start() : match.end()] = [True] * (match.end() - match.start())
    return mask


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
    without_tags = "".join(pieces)
    without_urls = _URL.sub(" ", without_tags)
    without_mentions = _MENTION.sub(" ", without_urls)
    return _SPACE.sub(" ", without_mentions).strip()
