"""``drops.parquet``: every record a build dropped, by shortcode, with the step and the reason.

The funnel (stats.json, the report) counts drops; this names them, one row per dropped record
(as img2dataset keeps a status per sample), so "why is my post not in the dataset?" has an
answer: ``pandas.read_parquet("DIR/drops.parquet").query("shortcode == 'C0ffee'")``. Its rows,
counted by step and reason, are the funnel's drops exactly. A record rejected by its reader
without a shortcode (bad JSON, undecodable bytes) has a null one: its reason is still there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DROP_LOG = "drops.parquet"
SCHEMA = pa.schema(
    [
        pa.field("shortcode", pa.string()),  # null for a record read without one
        pa.field("step", pa.string(), nullable=False),  # the funnel stage that dropped it
        pa.field("reason", pa.string(), nullable=False),
    ]
)

Dropped = tuple[str, str]
"""One post a step dropped: (shortcode, reason)."""
Unread = tuple[str | None, str]
"""One record its reader rejected: (its shortcode, if it has one; reason)."""


@dataclass(frozen=True)
class Drop:
    shortcode: str | None
    step: str
    reason: str


def at_step(step: str, dropped: Iterable[Dropped | Unread]) -> list[Drop]:
    """A step's dropped posts as rows of the log."""
    return [Drop(shortcode, step, reason) for shortcode, reason in dropped]


def reasons(dropped: Iterable[Dropped | Unread]) -> Counter[str]:
    """Dropped posts counted by reason, as the funnel shows them."""
    return Counter(reason for _, reason in dropped)


def write_drop_log(path: Path, drops: Sequence[Drop]) -> None:
    columns = {
        "shortcode": [d.shortcode for d in drops],
        "step": [d.step for d in drops],
        "reason": [d.reason for d in drops],
    }
    pq.write_table(pa.table(columns, schema=SCHEMA), path)
