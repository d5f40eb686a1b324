"""The text the model reads: the caption without its labels, mentions or links.

Built on :func:`runtime.hashtags.strip_for_model`, so no hashtag (the labels to predict)
survives in the input in any form. Emoji carry meaning the model may learn from; they are kept
as they are, or spelled out as English words with ``demojize`` for a tokenizer whose vocabulary
lacks them (ALBERT's SentencePiece model maps most emoji to ``<unk>``).
"""

from __future__ import annotations

import re
from typing import Any

import emoji

from runtime.hashtags import strip_for_model

_SPACE = re.compile(r"\s+")


def model_text(caption: str | None, demojize: bool = False) -> str:
    """The caption the model sees; with ``demojize`` an emoji becomes its name in words."""
    text = strip_for_model(caption)
    if demojize:
        text = emoji.replace_emoji(text, replace=_emoji_words)
    return _SPACE.sub(" ", text).strip()


def _emoji_words(chars: str, data: dict[str, Any]) -> str:
    """``❤️`` to `` red heart ``: the emoji's English name, as words the tokenizer knows."""
    return " " + data["en"].strip(":").replace("_", " ") + " "
