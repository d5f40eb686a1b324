"""The default ``caption`` backend on short informal captions, form by form (issue 14)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from preprocess import langid, langid_backends, langid_caption, word_evidence
from preprocess.settings import language_prior
from runtime.errors import EXIT_USAGE, UsageError

REPO = Path(__file__).resolve().parents[2]

ENGLISH_BY_FORM = {
    "single word": ["sunset", "vibes", "blessed", "brunch"],
    "short phrase": ["long day", "golden hour", "date night", "the view tho"],
    "elongated": ["so tireddddd", "yesssss", "gooood morning", "missss youuu"],
    "shouted": ["LOVE YOUUU", "BEST DAY EVER", "LINK IN BIO"],
    "greeting naming a person": ["happy bday sis <3", "happy birthday Jake!", "congrats Priya"],
    "greeting naming a festival": ["Happy Diwali :)", "happy hanukkah", "Happy Lunar New Year"],
    "ellipsis": ["me...at it again...", "well... that happened", "monday... again"],
    "mention": ["repost @someone", "photo by @mike_shoots", "thanks @carla for the pics"],
    "brand": ["new drop from @brand!!!", "Starbucks run", "Trader Joe's haul"],
}
OTHER_LANGUAGES = {
    "tl": ["mahal kita", "salamat po", "pagod na ako"],
    "sw": ["asante sana", "habari za asubuhi", "safari njema"],
    "fi": ["hyvää huomenta", "kiitos", "rakastan sinua"],
    "de": ["guten morgen", "endlich wochenende", "ich liebe dich"],
    "eo": ["bonan matenon", "mi amas vin"],
    "et": ["tere hommikust", "palju õnne"],
    "es": ["buen finde", "holaaaa", "feliz cumple hermana"],
}
MIXED = ["ich bin so tired of this", "kain tayo guys, so hungry", "love you all, te quiero mucho"]
UNDETERMINED = ["😍😍😍", "#tbt #love", "@anna", "2024", "ok", "!!!", "hahaha", "HAHAHA 😂"]


@pytest.fixture(scope="module")
def detector() -> langid.Detector:
    return langid.get_detector("caption")


@pytest.mark.parametrize("form", sorted(ENGLISH_BY_FORM))
def test_short_informal_english_is_english(detector: langid.Detector, form: str) -> None:
    captions = ENGLISH_BY_FORM[form]
    assert [lang for lang, _ in detector.detect_batch(captions)] == ["en"] * len(captions)


@pytest.mark.parametrize("lang", sorted(OTHER_LANGUAGES))
def test_other_languages_written_as_captions_are_not_english(
    detector: langid.Detector, lang: str
) -> None:
    found = [code for code, _ in detector.detect_batch(OTHER_LANGUAGES[lang])]
    assert "en" not in found, found


def test_code_mixed_captions_are_mixed(detector: langid.Detector) -> None:
    assert [lang for lang, _ in detector.detect_batch(MIXED)] == [langid.MIXED] * len(MIXED)


def test_undeterminable_captions_are_und(detector: langid.Detector) -> None:
    assert detector.detect_batch(UNDETERMINED) == [(langid.UNDETERMINED, 0.0)] * len(UNDETERMINED)


def test_laughter_does_not_vote() -> None:
    assert langid.clean_for_langid("HAHAHA so funny 😂 jajaja") == "so funny"
    assert langid.clean_for_langid("Haji Ali") == "Haji Ali"  # not a repeated syllable


def test_clear_sentences_keep_their_language(detector: langid.Detector) -> None:
    sentences = {
        "en": "We spent the whole afternoon walking along the river",
        "pt": "Passamos a tarde inteira caminhando à beira do rio",
        "de": "Wir sind den ganzen Nachmittag am Fluss entlang spaziert",
        "ru": "Мы провели весь день, гуляя вдоль реки",
    }
    assert [lang for lang, _ in detector.detect_batch(list(sentences.values()))] == list(sentences)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("so tireddddd", "so tired"),
        ("LOVE YOUUU", "love you"),
        ("gooood morning", "good morning"),
        ("missss you", "miss you"),
        ("me...at it again…", "me at it again "),
        ("holaaaa", "hola"),
        ("Sunday vibes", "Sunday vibes"),
    ],
)
def test_normalise_undoes_elongation_shouting_and_ellipses(raw: str, normalised: str) -> None:
    assert word_evidence.normalise(raw) == normalised


@pytest.mark.parametrize(
    "text",
    ["Aの", "I'M HOME", "OK then", "Ǆ", "Sunny Day In Rome", "ÉTÉ", "x'Y", "İSTANBUL", "aBC"],
)
def test_normalise_skips_the_word_split_only_where_no_word_is_shouted(text: str) -> None:
    """The quick tests before the split (a letter three times, two letters none of them
    ``a``-``z``) change nothing: each text comes out as word by word lowering gives it,
    a capital beside an uncased letter (``Aの``) and across an apostrophe included."""
    pieces = re.split(r"([^\W\d_]+(?:['’][^\W\d_]+)*)", text)
    pieces[1::2] = [w.lower() if len(w) > 1 and w.isupper() else w for w in pieces[1::2]]
    assert word_evidence.normalise(text) == "".join(pieces)


def test_word_votes_weigh_common_words_against_their_best_rival() -> None:
    votes = {v.word: v for v in word_evidence.word_votes("tired ich blorptastic", "en")}
    assert votes["tired"].evidence > 1
    assert votes["ich"].rival == "de" and votes["ich"].evidence < -1
    assert votes["blorptastic"].zipf == votes["blorptastic"].rival_zipf == 0.0
    assert votes["blorptastic"].evidence == 0.0  # in no list: the caller decides what it means


def test_a_word_vote_is_a_whole_word_vote() -> None:
    """word_vote builds its tuple without NamedTuple's own __new__ (issue 17's speed goal):
    still a WordVote, with every field named and equal to one built the usual way."""
    vote = word_evidence.word_vote("Sanchez", "en")
    assert type(vote) is word_evidence.WordVote
    assert vote == word_evidence.WordVote(*vote) and vote._asdict()["word"] == "sanchez"
    assert vote.capitalised and vote.script == "LATIN"


def test_explanation_shows_prior_detector_and_words(detector: langid.Detector) -> None:
    verdict = detector.explain_batch(["happy bday sis <3"])[0]
    assert verdict.lang == "en"
    for part in ("fastText en", "prior +2.20", "detector", "words", "happy +", "sis -"):
        assert part in verdict.evidence
    assert detector.explain_batch(["#love"])[0].evidence == "0 letters after cleaning (< 3)"


def test_the_prior_moves_borderline_captions() -> None:
    english_heavy = langid.get_detector("caption", {"en": 0.9})
    even = langid.get_detector("caption", {"en": 0.5})
    assert english_heavy.detect("happy bday sis <3")[0] == "en"
    assert even.detect("happy bday sis <3")[0] != "en"
    assert even.detect("We spent the whole afternoon walking along the river")[0] == "en"


@pytest.mark.parametrize(
    ("prior", "message"),
    [
        ({"en": 1.0}, "language.prior.en must be below 1, got 1.0"),
        ({"en": 0.6, "es": 0.5}, "language.prior must be shares that add up to less than 1"),
        ({"english": 0.9}, "must be an ISO 639-1 code such as en"),
        ({"en": "lots"}, "language.prior.en must be a number, got 'lots'"),
        (["en"], "language.prior must be a mapping"),
    ],
)
def test_a_bad_prior_is_a_usage_error(prior: object, message: str) -> None:
    """``langid --prior`` is checked by the build's own declaration of language.prior."""
    with pytest.raises(UsageError, match=re.escape(message)):
        language_prior(prior)  # type: ignore[arg-type]


def test_cli_prior_shares_are_checked_as_the_build_checks_them(run_langid) -> None:
    done = run_langid("--prior", "en=0.6,es=0.5", stdin="hello\n")
    assert done.returncode == EXIT_USAGE
    assert done.stderr.splitlines() == [
        "hashtag-build-dataset: error: --prior: language.prior must be shares that add up to "
        "less than 1, got {'en': 0.6, 'es': 0.5}"
    ]


def test_cli_explain_prints_the_evidence_per_line(run_langid) -> None:
    done = run_langid(
        "--explain", stdin="so tireddddd\nasante sana\n😍\nich bin so tired of this\n"
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    assert [row[0] for row in rows[:1] + rows[2:]] == ["en", "und", "mixed"]
    assert rows[1][0] != "en"
    assert all(len(row) == 3 for row in rows)
    assert "text 'so tired'" in rows[0][2] and "tired +" in rows[0][2]
    assert "from the detectors" in rows[1][2]


def test_cli_bad_prior_is_one_line_and_exit_2(run_langid) -> None:
    done = run_langid("--prior", "en=high", stdin="hello\n")
    assert done.returncode == EXIT_USAGE
    assert done.stderr.splitlines() == [
        "hashtag-build-dataset: error: --prior expects CODE=SHARE pairs such as en=0.9, "
        "got 'en=high'"
    ]


def test_word_lists_and_models_load_without_network() -> None:
    """wordfreq's lists and the fastText model ship in their wheels: no socket is opened."""
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from preprocess import langid\n"
        "print(langid.get_detector().detect('so tireddddd')[0])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=180,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "en"


def test_fasttext_is_not_asked_when_the_words_decide(detector: langid.Detector) -> None:
    """Prior, words and bias beyond anything fastText's term can take away: English without
    the detector, its term 0 in the confidence, and the same answer on the explaining path."""
    caption = "We had the best time at the beach with the whole family this weekend"
    verdict = detector.explain_batch([caption])[0]
    assert verdict.lang == "en" and "detector not asked" in verdict.evidence
    assert detector.detect(caption) == (verdict.lang, verdict.confidence)
    short = detector.explain_batch(["happy bday sis <3"])[0]  # borderline: fastText counts
    assert "detector not asked" not in short.evidence


def test_fast_and_explaining_paths_agree_on_every_development_caption(
    detector: langid.Detector,
) -> None:
    rows = (REPO / "benchmarks/langid_data/captions.tsv").read_text("utf-8").splitlines()[1:]
    texts = [row.split("\t")[2] for row in rows]
    explained = [(v.lang, v.confidence) for v in detector.explain_batch(texts)]
    assert detector.detect_batch(texts) == explained


def test_a_caption_outside_the_prior_is_named_by_fasttext(detector: langid.Detector) -> None:
    """What the prior rules out is named by fastText's best other language, with its
    probability, when no group of languages it confuses is among its guesses (issue 17)."""
    verdict = detector.explain_batch(["asante sana"])[0]
    assert verdict.evidence.endswith(f"-> {verdict.lang} from the detectors")
    ranked = langid_backends.fasttext_ranker()(word_evidence.normalise("asante sana"))
    assert (verdict.lang, verdict.confidence) == next(r for r in ranked if r[0] != "en")


def test_an_unsure_name_among_confused_languages_is_lingua_s(detector: langid.Detector) -> None:
    """fastText reads this Danish line as Spanish at 0.29, with Danish among its guesses:
    lingua, weighing only Danish, Norwegian, Swedish and fastText's best guess, names it."""
    text = "Tusind tak for en dejlig dag"
    ranked = langid_backends.fasttext_ranker()(word_evidence.normalise(text))
    assert ranked[0][0] != "da" and ranked[0][1] < langid_backends.CASCADE_ACCEPT_OTHER
    lang, confidence = detector.detect(text)
    assert lang == "da" and confidence > 0.5
    assert detector.explain_batch([text])[0][:2] == (lang, confidence)


def test_lingua_is_not_asked_outside_the_confused_groups() -> None:
    choose = langid_backends.lingua_chooser()
    assert choose("asante sana", ["tr", "la", "pt"]) is None
    assert choose("Tusind tak for en dejlig dag", ["es", "pl", "nl", "da"])[0] == "da"


BATCH = [
    "We had the best time at the beach with the whole family this weekend",  # words decide
    "ich bin so tired of this",  # mixed
    "😍😍😍",  # und
    "happy bday sis <3",  # fastText counts
    "asante sana",  # outside the prior: fastText names it
    "Tusind tak for en dejlig dag",  # lingua names it
]


def test_a_batch_decides_each_caption_as_it_alone(detector: langid.Detector) -> None:
    """fastText is asked for a batch's captions in a row (issue 17's speed goal); each caption
    still gets the verdict it gets on its own, on both paths."""
    alone = [detector.detect(text) for text in BATCH]
    assert detector.detect_batch(BATCH) == alone
    assert [(v.lang, v.confidence) for v in detector.explain_batch(BATCH)] == alone
    assert detector.detect_batch(BATCH[::-1]) == alone[::-1]


def test_fasttext_is_asked_once_for_each_caption_that_needs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []
    rank = langid_backends.fasttext_ranker()
    monkeypatch.setattr(
        langid_caption, "fasttext_ranker", lambda: lambda text: asked.append(text) or rank(text)
    )
    judge = langid_caption.caption_judge([("en", 0.9)])
    judged = [text for text in BATCH if text != "😍😍😍"]  # what the detector hands the judge
    judge(judged, False)
    assert asked == ["happy bday sis <3", "asante sana", "Tusind tak for en dejlig dag"]


def test_a_walk_that_asks_fasttext_twice_is_a_fault() -> None:
    def asks_twice() -> langid_caption.Walk:
        yield "one"
        yield "two"
        return langid_caption.Verdict("en", 1.0, "")

    with pytest.raises(RuntimeError, match="asked fastText twice"):
        langid_caption._walked([asks_twice()], lambda text: [("en", 1.0)])
