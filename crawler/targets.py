"""Crawl targets (tag feeds and profile feeds): parsing, validation and sharding.

Names go into URLs and file-system state, so anything outside Instagram's own alphabet is
refused up front instead of being sent or written.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import UsageError

_TAG = re.compile(r"^[^\W][\w]{0,149}$")  # Unicode letters/digits/_ (tags are Unicode)
_USER = re.compile(r"^(?!.*\.\.)[A-Za-z0-9_.]{1,30}$")


@dataclass(frozen=True)
class Target:
    kind: str  # "tag" or "profile"
    name: str

    @property
    def path(self) -> str:
        return f"/explore/tags/{self.name}/" if self.kind == "tag" else f"/{self.name}/"

    @property
    def source(self) -> str:
        return f"{self.kind}:{self.name}"


def make_target(kind: str, raw: str) -> Target:
    """Validate one name; a leading ``#`` or ``@`` is accepted and dropped."""
    name = raw.strip()
    if kind == "tag":
        name = name.lstrip("#＃").casefold()
        if not _TAG.match(name):
            raise UsageError(f"illegal tag name {raw!r}: use letters, digits and underscore")
    elif kind == "profile":
        name = name.lstrip("@")
        if not _USER.match(name):
            raise UsageError(
                f"illegal profile name {raw!r}: use up to 30 letters, digits, '_' and '.'"
            )
    else:
        raise UsageError(f"unknown target kind {kind!r} (tag or profile)")
    return Target(kind, name)


def read_targets_file(path: str | Path) -> list[Target]:
    """One target a line: ``tag:NAME``, ``#NAME``, ``profile:NAME`` or ``@NAME``; ``#``-comments
    after whitespace and blank lines are ignored."""
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
    tags: list[str] | None, profiles: list[str] | None, targets_file: str | Path | None
) -> list[Target]:
    """All targets in the order given, duplicates removed."""
    targets = [make_target("tag", t) for t in tags or []]
    targets += [make_target("profile", p) for p in profiles or []]
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
