"""What one crawl run did: printed at its end and kept in crawl.log."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class CrawlSummary:
    """What this run did; printed at the end and logged to crawl.log."""

    posts_per_target: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    elapsed_s: float = 0.0
    stop_reason: str = ""
    post_pages: int = 0
    media_failures: dict[str, int] = field(default_factory=dict)
    images_saved: int = 0
    sleeps: dict[str, tuple[int, float]] = field(default_factory=dict)  # reason -> (count, s)

    @property
    def posts(self) -> int:
        return sum(self.posts_per_target.values())

    @property
    def requests_per_1000_posts(self) -> float | None:
        return 1000.0 * self.requests / self.posts if self.posts else None

    def lines(self) -> list[str]:
        per_1000 = self.requests_per_1000_posts
        out = ["crawl summary"]
        out += [f"  {key}: {count} new posts" for key, count in self.posts_per_target.items()]
        out += [
            f"  posts: {self.posts}",
            f"  requests used: {self.requests} (post pages opened: {self.post_pages})",
            "  requests per 1,000 posts: " + (f"{per_1000:.1f}" if per_1000 is not None else "n/a"),
            f"  elapsed: {self.elapsed_s:.1f} s",
            f"  stop reason: {self.stop_reason}",
        ]
        if self.images_saved or self.media_failures:
            failures = ", ".join(f"{k} {v}" for k, v in sorted(self.media_failures.items()))
            out.append(f"  images saved: {self.images_saved}; failed: {failures or 'none'}")
        total = sum(seconds for _, seconds in self.sleeps.values())
        out.append(f"  slept: {total:.1f} s" + ("" if self.sleeps else " (no waits)"))
        out += [
            f"    {reason}: {count} x, {seconds:.1f} s"
            for reason, (count, seconds) in sorted(self.sleeps.items())
        ]
        return out


def report_summary(summary: CrawlSummary, log_path: Path) -> None:
    """Print the summary on stdout (even under --quiet) and keep a copy in crawl.log."""
    text = "\n".join(summary.lines())
    print(text)
    with open(log_path, "a", encoding="utf-8") as handle:
        handle.write(text + "\n")
