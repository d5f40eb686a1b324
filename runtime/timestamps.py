"""Times in the contracts' one format: ISO 8601 UTC to the second, with a ``Z``.

Every stage writes and reads times this way (``crawled_at``, ``taken_at``, ``created_at``),
whatever Instagram, instaloader or a CSV gave.
"""

from __future__ import annotations

import datetime as dt


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_now_iso() -> str:
    return _iso(dt.datetime.now(dt.UTC))


def timestamp_to_iso(value: int | float | str | None) -> str | None:
    """Unix seconds (Instagram's ``taken_at``) to ISO 8601 UTC; ``None`` stays ``None``."""
    if value in (None, ""):
        return None
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return _iso(dt.datetime.fromtimestamp(seconds, tz=dt.UTC))
