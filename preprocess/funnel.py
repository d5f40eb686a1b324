"""The build's funnel: posts left after each stage, and why the others were dropped.

docs/architecture.md fixes the stages (read -> parsed -> deduped -> language -> labelled ->
image ok); every dropped record is counted under a named reason at the stage that dropped it.
A text-only build (``--text-only``) has no image stage: its funnel ends at ``labelled`` and says
so, rather than showing an ``image ok`` stage that dropped nothing because it never ran.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

STAGES = ("read", "parsed", "deduped", "language", "labelled", "image ok")
TEXT_ONLY_NOTE = "text only: no image stage (no image fetched, no image dedup, no image ok drop)"


@dataclass
class Funnel:
    posts: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, Counter[str]] = field(default_factory=dict)
    text_only: bool = False

    def record(self, stage: str, posts: int, dropped: Counter[str] | None = None) -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown funnel stage {stage!r}")
        self.posts[stage] = posts
        self.dropped[stage] = +Counter(dropped or {})  # unary + drops zero counts

    def as_list(self) -> list[dict[str, Any]]:
        """The stages in order, for stats.json and the report."""
        return [
            {"stage": s, "posts": self.posts[s], "dropped": dict(self.dropped[s].most_common())}
            for s in STAGES
            if s in self.posts
        ]

    def brief(self) -> str:
        """The counts on one line, for an error message."""
        counts = " -> ".join(f"{stage} {posts}" for stage, posts in self.posts.items())
        return f"{counts} (text only)" if self.text_only else counts

    def summary(self) -> str:
        """The table printed at the end of a build: one line per stage with its drop reasons."""
        lines = []
        for entry in self.as_list():
            reasons = ", ".join(f"{reason} {n}" for reason, n in entry["dropped"].items())
            line = f"{entry['stage']:>9}  {entry['posts']:>8}"
            lines.append(f"{line}   dropped: {reasons}" if reasons else line)
        if self.text_only:
            lines.append(TEXT_ONLY_NOTE)
        return "\n".join(lines)
