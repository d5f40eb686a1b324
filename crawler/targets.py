"""Crawl targets (tag, profile and reels feeds, keyword searches): parsing, validation, sharding.

Names go into URLs and file-system state, so anything outside Instagram's own alphabet is
refused up front instead of being sent or written.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from runtime.errors import UsageError

TAG_MAX_CHARS = 150
_USER = re.compile(r"^(?!.*\.\.)[A-Za-z0-9_.]{1,30}$")
SEARCH_MAX_CHARS = 100
KINDS = ("tag", "profile", "reels", "search")


@dataclass(frozen=True)
class Target:
    kind: str  # one of KINDS
    name: str  # a tag, a username, or a search query as typed ("#sunset", "sunset beach")

    @property
    def path(self) -> str:
        """The page whose feed this target scrolls (a search's query is in the URL)."""
        if self.kind == "tag":
            return f"/explore/tags/{self.name}/"
        if self.kind == "search":
            return f"/explore/search/keyword/?{urlencode({'q': self.name}, quote_via=quote)}"
        return f"/{self.name}/reels/" if self.kind == "reels" else f"/{self.name}/"

    @property
    def source(self) -> str:
        return f"{self.kind}:{self.name}"


def make_target(kind: str, raw: str) -> Target:
    """Validate one name; a leading ``#`` or ``@`` is accepted and dropped (a search keeps its
    ``#``: "#sunset" searches the hashtag, "sunset" the word)."""
    name = raw.strip()
    if kind == "search":
        return Target(kind, _search_query(raw))
    if kind == "tag":
        name = unicodedata.normalize("NFC", name.lstrip("#＃").casefold())
        if not _is_tag(name):
            raise UsageError(f"illegal tag name {raw!r}: use letters, digits and underscore")
    elif kind in ("profile", "reels"):
        name = name.lstrip("@")
        if not _USER.match(name):
            raise UsageError(
                f"illegal profile name {raw!r}: use up to 30 letters, digits, '_' and '.'"
            )
    else:
        raise UsageError(f"unknown target kind {kind!r} ({', '.join(KINDS)})")
    return Target(kind, name)


def _is_tag(name: str) -> bool:
    """Instagram's tag alphabet: Unicode letters, digits and ``_``, plus the combining marks
    that many scripts write words with (Arabic harakat, Devanagari and Thai vowel signs), though
    never first. A regular expression's word class alone would refuse #हिंदी or #ที่เที่ยว."""

    def allowed(char: str) -> bool:
        return char == "_" or char.isalnum() or unicodedata.category(char).startswith("M")

    return (
        0 < len(name) <= TAG_MAX_CHARS
        and not unicodedata.category(name[0]).startswith("M")
        and all(map(allowed, name))
    )


def _search_query(raw: str) -> str:
    """A keyword search as typed, with runs of spaces made one; refused when empty, too long or
    holding control characters (it goes into a URL and into state.json's keys)."""
    query = " ".join(raw.split())
    if not query or query.strip("#＃") == "":
        raise UsageError(f"empty search {raw!r}: give words or a #hashtag")
    if len(query) > SEARCH_MAX_CHARS:
        raise UsageError(f"search {raw[:20]!r}... is longer than {SEARCH_MAX_CHARS} characters")
    if any(unicodedata.category(char).startswith("C") for char in query):
        raise UsageError(f"search {raw!r} holds control characters")
    return query


def read_targets_file(path: str | Path) -> list[Target]:
    """One target a line: ``tag:NAME``, ``#NAME``, ``profile:NAME``, ``@NAME``, ``reels:NAME``
    or ``search:QUERY``; ``#``-comments after whitespace and blank lines are ignored (so a
    search for two hashtags is two lines, or ``search:sunset beach``)."""
    try:
        lines = Path(path).read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read targets file {path}: {exc}") from None
    targets = []
    for number, line in enumerate(lines, start=1):
        entry = re.split(r"\s+#", line, maxsplit=1)[0].strip()
        if not entry:
            continue
        kind, sep, name = entry.partition(":")
        if not sep:
            kind, name = ("profile", entry) if entry.startswith("@") else ("tag", entry)
        try:
            targets.append(make_target(kind.strip(), name))
        except UsageError as exc:
            raise UsageError(f"{path}:{number}: {exc}") from None
    return targets


def resolve_targets(
    tags: list[str] | None,
    profiles: list[str] | None,
    targets_file: str | Path | None,
    searches: list[str] | None = None,
    reels: list[str] | None = None,
) -> list[Target]:
    """All targets in the order given (tags, profiles, reels, searches, then the file's),
    duplicates removed."""
    targets = [make_target("tag", t) for t in tags or []]
    targets += [make_target("profile", p) for p in profiles or []]
    targets += [make_target("reels", r) for r in reels or []]
    targets += [make_target("search", q) for q in searches or []]
    if targets_file:
        targets += read_targets_file(targets_file)
    return list(dict.fromkeys(targets))


def parse_shard(spec: str) -> tuple[int, int]:
    """``"i/n"`` (0-based i) to ``(i, n)``."""
    match = re.fullmatch(r"(\d+)/(\d+)", spec.strip())
    if not match or int(match[2]) < 1 or int(match[1]) >= int(match[2]):
        raise UsageError(f"--shard expects i/n with 0 <= i < n, got {spec!r}")
    return int(match[1]), int(match[2])


def shard(targets: list[Target], index: int, count: int) -> list[Target]:
    """The targets of shard ``index`` of ``count``, by a stable hash of the target, so several
    crawler processes (or Selenium Grid nodes) split a target list without talking."""
    return [t for t in targets if zlib.crc32(t.source.encode("utf-8")) % count == index]
