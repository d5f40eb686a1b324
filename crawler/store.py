"""The append-only ``posts.jsonl`` store of Contract 1 records (runtime.records.PostRecord).

The crawler and ``hashtag-crawl parse`` both write through :class:`PostStore`, which dedupes by
shortcode and survives ``kill -9``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from runtime.files import append_jsonl, iter_jsonl, repair_torn_tail
from runtime.records import PostRecord


class PostStore:
    """``posts.jsonl``: append-only, one fsync per batch, deduplicated by shortcode.

    Opening repairs a torn last line (an append cut by ``kill -9``) and loads the shortcodes
    already stored, so a resumed crawl never writes a duplicate.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired_bytes = repair_torn_tail(self.path)
        self.shortcodes: set[str] = set()
        if self.path.exists():
            for _, record, _ in iter_jsonl(self.path):
                if record and isinstance(record.get("shortcode"), str):
                    self.shortcodes.add(record["shortcode"])

    def __len__(self) -> int:
        return len(self.shortcodes)

    def __contains__(self, shortcode: object) -> bool:
        return shortcode in self.shortcodes

    def add(self, records: Iterable[PostRecord]) -> list[PostRecord]:
        """Append the records not stored yet (first one wins within a batch); return them."""
        fresh: dict[str, PostRecord] = {}
        for record in records:
            if record["shortcode"] not in self.shortcodes:
                fresh.setdefault(record["shortcode"], record)
        append_jsonl(self.path, fresh.values())
        self.shortcodes.update(fresh)  # only once they are on disk
        return list(fresh.values())
