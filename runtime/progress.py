"""Progress bars for every stage: tqdm on a terminal, plain lines in a log.

tqdm redraws its bar with carriage returns many times a second, which a log file keeps in full
(a 6-minute build wrote 15 KB of frames). When stderr is not a terminal, the same bar prints a
whole line at most every :data:`LINE_EVERY_S` seconds or when it crosses a 10% step, and a
last line when it closes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm

LINE_EVERY_S = 10.0
STEP_PERCENT = 10


def progress_bar(iterable: Iterable[Any] | None = None, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)``, as plain periodic lines when stderr is not a terminal."""
    if kwargs.get("disable") or stderr_is_terminal():
        return tqdm(iterable, **kwargs)
    return LineProgress(iterable, **kwargs)


def stderr_is_terminal() -> bool:
    """Whether progress may redraw in place; libraries' own bars are turned off when not."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


class LineProgress(tqdm):
    """A tqdm bar that writes whole lines, throttled by time and by 10% steps."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # No line at the start: the first comes after LINE_EVERY_S or at the first 10% step, so
        # a quick bar (a small file read before an error) adds no noise to a one-line error.
        self._last_line_at = time.monotonic()
        self._last_step = 0
        self._last_n: float = -1
        kwargs.update(leave=False, mininterval=1.0, dynamic_ncols=False, ncols=80, ascii=True)
        super().__init__(*args, **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        """Called by tqdm on every refresh: prints only when a line is due. tqdm closes a bar
        that does not ``leave`` with ``msg=""`` (to erase it); here that writes the last line,
        unless it was just written, and returns False so tqdm adds no carriage return."""
        closing = msg == ""
        now, step = time.monotonic(), self._step()
        if closing:  # a bar of unknown length that never printed stays silent
            due = self.n != self._last_n and bool(self.total or self._last_n >= 0)
        else:
            stepped = bool(self.total) and step != self._last_step
            due = now - self._last_line_at >= LINE_EVERY_S or stepped
        if due:
            self._last_line_at, self._last_step, self._last_n = now, step, self.n
            self.fp.write(self.__str__() + "\n")
            self.fp.flush()
        return not closing

    def _step(self) -> int:
        if not self.total:
            return -1
        return int(100 * self.n / self.total) // STEP_PERCENT
