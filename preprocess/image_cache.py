"""The image cache's index: which source already became which cached image (or failed for good).

A SQLite file in the cache directory maps a *source key* to the stored outcome, so a re-run
skips every source it has already processed and fetches only what is missing. SQLite rather
than a JSON-lines file because outcomes are replaced (a source that timed out yesterday may
succeed today) and looked up one by one, and its journal keeps the file intact if a build is
killed mid-write.

The key carries everything that changes the outcome: the URL, or a local file's resolved path
with its size and modification time (an edited file is a new source), plus a *variant*
fingerprint of the processing settings, so images cached at another size or quality are never
mistaken for current ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from runtime.errors import UsageError
from runtime.settings import Section

INDEX_FILE = "index.sqlite"
#: Rows written between commits: a killed build loses at most this much bookkeeping, and the
#: images behind those rows are found again by content address on the next run.
COMMIT_EVERY = 500


def variant_of(settings: Section, fields: tuple[str, ...], version: int) -> str:
    """A short fingerprint of the settings (the ``fields`` of ``settings``) that change what
    gets cached for a source."""
    chosen = {name: getattr(settings, name) for name in fields}
    payload = json.dumps({"version": version, **chosen}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def url_source(url: str, variant: str) -> str:
    return f"{variant} url {url}"


def file_source(path: str, variant: str) -> str:
    """The key of a local file; raises ``OSError`` when it cannot be stat'ed."""
    resolved = Path(path).resolve()
    stat = os.stat(resolved)
    return f"{variant} file {resolved} {stat.st_size} {stat.st_mtime_ns}"


def check_index(cache_dir: Path) -> None:
    """Open an existing index once, so a damaged one stops a build before its inputs are read."""
    if (cache_dir / INDEX_FILE).exists():
        with CacheIndex(cache_dir):
            pass


class CacheIndex:
    """Source key -> outcome record (a JSON object), used from the thread that opened it."""

    def __init__(self, cache_dir: Path) -> None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        path = cache_dir / INDEX_FILE
        self._db = sqlite3.connect(path, timeout=30)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS outcomes "
                "(source TEXT PRIMARY KEY, record TEXT NOT NULL)"
            )
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise UsageError(
                f"the image cache's index {path} is damaged ({exc}): delete it, and the next "
                "build makes a new one (fetching the images again)"
            ) from None
        self._uncommitted = 0

    def __enter__(self) -> CacheIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._db.commit()
        self._db.close()

    def get(self, source: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT record FROM outcomes WHERE source = ?", (source,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, source: str, record: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO outcomes (source, record) VALUES (?, ?)",
            (source, json.dumps(record, separators=(",", ":"))),
        )
        self._uncommitted += 1
        if self._uncommitted >= COMMIT_EVERY:
            self._db.commit()
            self._uncommitted = 0
