"""The ``caption`` backend (the default): prior, fastText and the caption's own words, weighed.

For each language of the crawl's prior (largest share first) the prior, fastText's probability
and the words' evidence (:mod:`preprocess.word_evidence`) add up to one log-odds; the first
language with positive log-odds wins. A caption none of them wins gets fastText's best language
outside the prior, and a caption with a real share (a quarter or more of its judged letters)
in each of two languages is ``mixed``. docs/langid.md explains the weights.

Speed (issue 17): what a word contributes (its weighted evidence and its letters towards the
``mixed`` shares) is worked out once per word and language and remembered
(:func:`_word_figures`), so a caption costs one tokenising regex, a look-up per word and one
fastText call, asked in a row with the batch's other captions' calls (:func:`_walked`). The
per-word votes are only built again for ``--explain``.
"""

from __future__ import annotations

import collections
import math
import operator
from collections.abc import Callable, Generator, Sequence
from typing import NamedTuple

from preprocess import word_evidence
from preprocess.langid_backends import (
    CASCADE_ACCEPT_OTHER,
    UNDETERMINED,
    Prediction,
    fasttext_ranker,
    lingua_chooser,
)

MIXED = "mixed"
"""A caption with a real share of a prior language and of another one ("ich bin so tired of
this"), weighed by letters (:func:`mixed_shares`). Its confidence is always 0.5: the rule
weighs shares, it has no probability."""

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
DETECTOR_P_FLOOR = 1e-4
"""fastText's probability is clipped to [1e-4, 1 - 1e-4] before its log-odds are taken."""
DETECTOR_TERM_LIMIT = CAPTION_DETECTOR_WEIGHT * math.log((1 - DETECTOR_P_FLOOR) / DETECTOR_P_FLOOR)
"""The largest the detector's term can be either way (2.76). When prior, words and bias alone
exceed it, fastText cannot change the decision and is not asked (issue 17's speed goal: about
two fifths of the real captions); the confidence is then taken with the detector's term at 0."""
FASTTEXT_SAMPLE_CHARS = 300
"""fastText reads the first this many characters of the judged text: its time grows with the
text, and its probability, one term of the log-odds, is settled by then; the words still
count to the judged part's end (``langid_clean.JUDGED_CHARS``)."""
FIGURES_CACHE_SIZE = 1 << 17
"""Words remembered with their figures per language: a crawl repeats its words, so most
look-ups are answered from memory. The 14,367 real captions hold 71,398 distinct tokens (13 MB
of figures); half this many emptied the cache in the middle of a pass over them."""
_NOTHING = (0.0, 0, 0, 0, 0)
"""The figures of a token with a digit: a code, price or size says nothing about a language."""


class Verdict(NamedTuple):
    """A decision with the evidence that made it, for ``hashtag-build-dataset langid --explain``
    (a tuple: one is built per caption)."""

    lang: str
    confidence: float
    evidence: str


Judge = Callable[[Sequence[str], bool], list[Verdict]]
"""``judge(cleaned_texts, explain)``: a verdict per text; the evidence string is only written
when ``explain``."""
Walk = Generator[str, list[Prediction], Verdict]
"""One caption's judging (:func:`caption_judge`): it yields the text fastText must rank when
(and only when) it needs fastText's ranking, is sent that ranking, and returns its verdict."""


def caption_judge(prior: Sequence[tuple[str, float]]) -> Judge:
    """The default: each prior language's log-odds from prior, detector and words (module doc)."""
    fasttext_rank = fasttext_ranker()
    lingua_choose = lingua_chooser()
    expected = sorted(prior, key=lambda item: -item[1])
    ruled_out = {code for code, _ in expected}
    codes = {code: word_evidence.wordfreq_code(code) for code in ruled_out}
    main = expected[0][0] if expected else "en"

    def walk(text: str, explain: bool) -> Walk:
        normalised = word_evidence.normalise(text, main)
        tokens = word_evidence.tokens(normalised)
        sample = normalised[:FASTTEXT_SAMPLE_CHARS]
        ranked: list[Prediction] | None = None  # fastText's, once needed: a mixed caption is not
        notes = []
        if explain:
            ranked = yield sample
            notes += [f"text {normalised!r}", "fastText " + _listed(ranked)]
        for lang, share in expected:
            words, own, other, other_words = _caption_figures(tokens, codes[lang], explain)
            mixed = _is_mixed(own, other, other_words)
            votes = word_evidence.word_votes(normalised, lang) if explain else []
            if explain:
                notes.append(
                    f"{lang} {own:.0%}, other {other:.0%} of the judged letters "
                    f"({other_words} foreign) -> " + (MIXED if mixed else "not mixed")
                )
            if mixed:
                if explain:
                    notes.append(f"[{_listed_votes(votes)}]")
                return Verdict(MIXED, 0.5, "; ".join(notes))
            asked = not _words_decide(share, words)  # else fastText cannot change it
            if not asked:
                terms = _log_odds_terms(share, None, words)
            else:
                if ranked is None:
                    ranked = yield sample
                terms = _log_odds_terms(share, dict(ranked).get(lang, 0.0), words)
            log_odds = sum(terms)
            if explain:
                notes.append(_explained_log_odds(lang, terms, votes, asked))
            if log_odds > 0:
                return Verdict(lang, _sigmoid(log_odds), "; ".join(notes))
        if ranked is None:  # an empty prior
            ranked = yield sample
        lang, confidence = _best_other(ranked, ruled_out, lambda c: lingua_choose(sample, c))
        if explain:
            notes.append(f"-> {lang} from the detectors")
        return Verdict(lang, confidence, "; ".join(notes))

    def judge(texts: Sequence[str], explain: bool) -> list[Verdict]:
        return _walked([walk(text, explain) for text in texts], fasttext_rank)

    return judge


def _walked(walks: list[Walk], rank: Callable[[str], list[Prediction]]) -> list[Verdict]:
    """Every walk's verdict: each walk up to its question to fastText, then fastText's
    rankings for all the questions, one call after another, then each waiting walk to its end.

    Same verdicts as walking each caption to its end in turn, but fastText runs without the
    word look-ups between its calls: between them those pushed its model out of the CPU's
    caches, and a call took twice as long inside the walk as in a row (issue 17's speed
    goal, docs/benchmarks/langid.md)."""
    verdicts: list[Verdict | None] = []
    waiting: list[tuple[int, Walk, str]] = []
    for walk in walks:
        try:
            waiting.append((len(verdicts), walk, next(walk)))
            verdicts.append(None)
        except StopIteration as done:
            verdicts.append(done.value)
    rankings = [rank(sample) for _, _, sample in waiting]
    for (index, walk, _), ranked in zip(waiting, rankings, strict=True):
        try:
            walk.send(ranked)
        except StopIteration as done:
            verdicts[index] = done.value
        else:  # a walk asks fastText once at most
            raise RuntimeError("a caption's judging asked fastText twice")
    return verdicts  # type: ignore[return-value]  # every walk has ended


def _caption_figures(
    tokens: list[str], code: str, explain: bool
) -> tuple[float, float, float, int]:
    """Summed word evidence (weighted), the own and foreign shares of the judged letters and
    the number of foreign words (:func:`mixed_shares`).

    The shares only decide ``mixed``, which needs :data:`MIXED_MIN_OTHER_WORDS` foreign words:
    with fewer they are left at 0 unless ``explain`` shows them (most captions: summing three
    more columns of figures cost more than the look-ups, issue 17's speed goal)."""
    known = _KNOWN_FIGURES[code]  # a plain dict answers a remembered word at C speed
    figures = list(map(known.get, tokens))
    if None in figures:
        figures = [  # a new word twice in a caption is worked out once
            f or known.get(t) or _new_word_figures(known, t, code)
            for f, t in zip(figures, tokens, strict=True)
        ]
    other_words = sum(map(_FOREIGN_WORDS, figures))
    words = sum(map(_WEIGHTED, figures), 0.0)
    if not explain and other_words < MIXED_MIN_OTHER_WORDS:
        return words, 0.0, 0.0, other_words
    own, other, judged = (sum(map(column, figures)) for column in _LETTER_COLUMNS)
    return (words, *_shares(own, other, judged, other_words))


_WEIGHTED, _FOREIGN_WORDS = operator.itemgetter(0), operator.itemgetter(4)
_LETTER_COLUMNS = tuple(map(operator.itemgetter, (1, 2, 3)))
"""The columns of a word's figures (:func:`_word_figures`): weighted evidence; own, foreign
and judged letters; foreign words."""


_KNOWN_FIGURES: collections.defaultdict[str, dict[str, tuple[float, int, int, int, int]]] = (
    collections.defaultdict(dict)
)
"""Per wordfreq code, the figures of the words seen (:func:`_word_figures`), at most
:data:`FIGURES_CACHE_SIZE` words: a plain dict, as a look-up through ``functools.lru_cache``
with two arguments costs more than the rest of a remembered word's work."""


def _new_word_figures(
    known: dict[str, tuple[float, int, int, int, int]], token: str, code: str
) -> tuple[float, int, int, int, int]:
    if len(known) >= FIGURES_CACHE_SIZE:
        known.clear()  # a crawl's vocabulary is far smaller; this only bounds the memory
    known[token] = _word_figures(token, code)
    return known[token]


def _word_figures(token: str, code: str) -> tuple[float, int, int, int, int]:
    """One token's share of :func:`_caption_figures` (see :func:`mixed_shares` for the rule)."""
    if not word_evidence.is_word(token):
        return _NOTHING
    vote = word_evidence.word_vote(token, code)
    kind = _mixed_kind(vote)
    letters = len(vote.word) if kind else 0
    foreign = kind == "foreign"
    return _weighted(vote), letters * (kind == "own"), letters * foreign, letters, int(foreign)


def _log_odds_terms(
    share: float, detector_p: float | None, words: float
) -> tuple[float, float, float, float]:
    """Prior, detector, words and bias: their sum is the log-odds of the language. Without a
    detector probability (``None``: not asked) its term is 0, as for a probability of 0.5."""
    if detector_p is None:
        detector = 0.0
    else:
        p = min(max(detector_p, DETECTOR_P_FLOOR), 1 - DETECTOR_P_FLOOR)
        detector = CAPTION_DETECTOR_WEIGHT * math.log(p / (1 - p))
    return (
        math.log(share / (1 - share)),
        detector,
        CAPTION_WORD_WEIGHT * words,
        CAPTION_BIAS,
    )


def _words_decide(share: float, words: float) -> bool:
    """The language wins whatever fastText says: prior, words and bias are positive even with
    the detector's most negative term (:data:`DETECTOR_TERM_LIMIT`)."""
    return sum(_log_odds_terms(share, None, words)) > DETECTOR_TERM_LIMIT


def _explained_log_odds(
    lang: str,
    terms: tuple[float, float, float, float],
    votes: list[word_evidence.WordVote],
    asked: bool,
) -> str:
    prior, detector, words, bias = terms
    said = f"{detector:+.2f}" if asked else "not asked"
    return (
        f"{lang}: prior {prior:+.2f} detector {said} words {words:+.2f} "
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
    own = other = judged = other_words = 0
    for vote in votes:
        kind = _mixed_kind(vote)
        letters = len(vote.word) if kind else 0
        own += letters if kind == "own" else 0
        other += letters if kind == "foreign" else 0
        other_words += kind == "foreign"
        judged += letters
    return _shares(own, other, judged, other_words)


def _shares(own: int, other: int, judged: int, other_words: int) -> tuple[float, float, int]:
    return (own / judged, other / judged, other_words) if judged else (0.0, 0.0, 0)


def _mixed_kind(vote: word_evidence.WordVote) -> str:
    """``own``, ``foreign``, ``neither`` (judged, but not clearly either) or ``""`` (not
    judged), by the rule of :func:`mixed_shares`."""
    if len(vote.word) < MIXED_MIN_LETTERS or not vote.script:
        return ""
    foreign = vote.script != "LATIN" or (
        vote.evidence <= -MIXED_WORD_EVIDENCE and vote.rival_zipf > 0
    )
    if foreign:
        return "" if vote.capitalised and vote.script == "LATIN" else "foreign"
    if vote.evidence >= MIXED_WORD_EVIDENCE:
        return "own"
    return "neither" if vote.zipf or vote.rival_zipf else ""


def _best_other(
    ranked: list[Prediction],
    ruled_out: set[str],
    choose: Callable[[list[str]], Prediction | None],
) -> Prediction:
    """The best language outside the prior: fastText's when it is at least
    :data:`CASCADE_ACCEPT_OTHER` sure, else the one lingua picks among fastText's other
    guesses (``choose``), with fastText's probability for it.

    Only a caption ruled out of every prior language gets here, so its name never changes
    whether it is kept. fastText alone calls Danish posts Norwegian, Swedish or German; lingua
    over all its languages named them well but at 1.3-3.6 ms a caption, more than the rest of
    the filter; among fastText's few guesses it costs a fraction of that
    (docs/benchmarks/langid.md, issue 17)."""
    others = [(lang, p) for lang, p in ranked if lang not in ruled_out]
    if not others:
        return UNDETERMINED, 0.0
    if others[0][1] < CASCADE_ACCEPT_OTHER:
        return choose([lang for lang, _ in others]) or others[0]
    return others[0]


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _listed(ranked: list[Prediction]) -> str:
    return " ".join(f"{lang} {p:.2f}" for lang, p in ranked[:3])


def _listed_votes(votes: list[word_evidence.WordVote]) -> str:
    return ", ".join(
        f"{v.word} {_weighted(v):+.1f}" + (f" ({v.rival} {v.rival_zipf:.1f})" if v.rival else "")
        for v in votes
    )
