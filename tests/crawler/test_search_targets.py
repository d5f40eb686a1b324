"""Keyword-search and reels targets: parsing, URLs, sharding and bad input (no browser)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from crawler import targets
from crawler.cli import main
from runtime.errors import UsageError


def test_search_and_reels_targets_from_flags_and_file(tmp_path: Path) -> None:
    listing = tmp_path / "targets.txt"
    listing.write_text(
        "search:#sunset\nsearch:  golden   hour  # words, not a tag\nreels:some.user\n#beach\n",
        "utf-8",
    )
    found = targets.resolve_targets(["beach"], None, listing, ["#Sunset"], ["nasa"])
    assert [t.source for t in found] == [
        "tag:beach",
        "reels:nasa",
        "search:#Sunset",
        "search:#sunset",
        "search:golden hour",
        "reels:some.user",
    ]
    search = found[3]
    assert search.path == "/explore/search/keyword/?q=%23sunset"
    assert parse_qs(urlsplit(found[4].path).query) == {"q": ["golden hour"]}
    assert found[1].path == "/nasa/reels/"


def test_searches_shard_like_other_targets() -> None:
    chosen = [targets.make_target("search", f"#tag{k}") for k in range(40)]
    chosen += [targets.make_target("tag", f"tag{k}") for k in range(40)]
    shards = [targets.shard(chosen, k, 3) for k in range(3)]
    assert sorted(t.source for s in shards for t in s) == sorted(t.source for t in chosen)
    assert all(any(t.kind == "search" for t in s) for s in shards)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty search"),
        ("  # ", "empty search"),
        ("x" * 101, "longer than 100"),
        ("a\x00b", "control"),
    ],
)
def test_bad_searches_are_refused(query: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        targets.make_target("search", query)


def test_bad_reels_name_and_search_line_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="illegal profile name"):
        targets.make_target("reels", "no/slash")
    listing = tmp_path / "targets.txt"
    listing.write_text("search:#ok\nsearch:\n", "utf-8")
    with pytest.raises(UsageError, match=r"targets.txt:2: empty search"):
        targets.read_targets_file(listing)


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--search", "  "], "empty search"), (["--reels", "a b"], "illegal profile name")],
)
def test_bad_search_flags_exit_2_before_a_browser_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code = main(["crawl", "--quiet", *args, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("#운동", "운동"),
        ("Café", "café"),
        ("Cafe\u0301", "café"),  # a decomposed é is the same tag as the composed one
        ("हिंदी", "हिंदी"),  # Devanagari vowel signs are combining marks
        ("رياضة", "رياضة"),
        ("СПОРТ", "спорт"),
    ],
)
def test_unicode_tags_are_casefolded_and_nfc(typed: str, stored: str) -> None:
    target = targets.make_target("tag", typed)
    assert target.name == stored
    assert target.path == f"/explore/tags/{stored}/"


@pytest.mark.parametrize("typed", ["\u0301cafe", "a-b", "x" * 151, "#"])
def test_tags_outside_the_alphabet_are_refused(typed: str) -> None:
    with pytest.raises(UsageError, match="illegal tag name"):
        targets.make_target("tag", typed)
