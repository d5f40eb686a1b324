"""Filters that write to stdout end quietly when the reader goes away (``... | head``).

Python turns the closed pipe into ``BrokenPipeError`` at the next write or flush, and again
while flushing stdout at exit; the usual Unix filter just stops. This is the recipe of the
Python docs (the ``signal`` module's "Note on SIGPIPE"): point stdout at /dev/null and leave.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def stop_quietly_on_closed_stdout() -> Iterator[None]:
    """Run a block that writes to stdout; a reader that closed the pipe ends it silently."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
