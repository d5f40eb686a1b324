"""``state.json``: where each target's feed stopped, so running the same command again resumes.

Counts are not trusted from here: ``posts.jsonl`` is fsynced before this file is replaced, so
after a ``kill -9`` between the two the file can be ahead of the state. Post counts are
therefore recounted from ``posts.jsonl`` on start, and a stale cursor only costs re-reading a
feed page whose posts the store then drops as duplicates.
"""

from __future__ import annotations

import collections
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import UsageError
from runtime.files import atomic_write_json, iter_jsonl

STATE_VERSION = 1


@dataclass
class TargetState:
    cursor: str | None = None  # next_max_id / end_cursor of the last fully stored feed page
    done: bool = False  # the feed said more_available = false
    posts: int = 0  # posts stored under this target's source, recounted on load
    requests: int = 0  # browser requests spent on it, all runs together


@dataclass
class CrawlState:
    targets: dict[str, TargetState] = field(default_factory=dict)
    stop_reason: str | None = None

    def target(self, key: str) -> TargetState:
        return self.targets.setdefault(key, TargetState())


def load_state(state_path: Path, posts_path: Path) -> CrawlState:
    """The saved state with post counts recounted from ``posts_path``; empty when there is none."""
    state = CrawlState()
    if state_path.exists():
        try:
            raw = json.loads(state_path.read_text("utf-8"))
            state.targets = {key: TargetState(**value) for key, value in raw["targets"].items()}
            state.stop_reason = raw.get("stop_reason")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"cannot read {state_path}: {exc}") from None
    for source, count in posts_per_source(posts_path).items():
        state.target(source).posts = count
    return state


def save_state(state: CrawlState, state_path: Path) -> None:
    payload: dict[str, Any] = {
        "version": STATE_VERSION,
        "stop_reason": state.stop_reason,
        "targets": {key: asdict(value) for key, value in state.targets.items()},
    }
    atomic_write_json(state_path, payload)


def posts_per_source(posts_path: Path) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    if posts_path.exists():
        for _, record, _ in iter_jsonl(posts_path):
            if record is not None:
                counts[str(record.get("source"))] += 1
    return counts
