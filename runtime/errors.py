"""Exit codes of docs/architecture.md and the one wrapper that turns exceptions into them.

Every console script runs its body through :func:`run_main`, so a bad input is one line on
stderr and a documented exit code, never a traceback (unless ``-v`` asked for one).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REMOTE_STOP = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143, the shell's code for a SIGTERM death

log = logging.getLogger(__name__)


class PipelineError(Exception):
    """A run-time failure whose message already says what and where (exit 1)."""

    exit_code = EXIT_FAILED


class UsageError(PipelineError):
    """Bad usage or a bad input file (exit 2)."""

    exit_code = EXIT_USAGE


class RemoteStop(PipelineError):
    """The remote side stopped us (login wall, challenge, rate limit exhausted); state is saved."""

    exit_code = EXIT_REMOTE_STOP


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``docker stop``, systemd, Kubernetes), raised in the main thread.

    A KeyboardInterrupt, so that every ``finally`` and context manager that cleans up after
    Ctrl-C (a crawl's state save, the browser's and chromedriver's quit, a Grid session's
    release, a server's stop) does the same for SIGTERM; Python's default for SIGTERM is to die
    at once and leave all of that undone.
    """


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    # A second SIGTERM while cleaning up must not cut the cleanup short; SIGKILL still can.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` (main thread only: elsewhere Python
    cannot install a handler); the previous handler is back afterwards."""
    with _handling(signal.SIGTERM, _raise_terminated):
        yield


@contextmanager
def sigint_as_interrupt() -> Iterator[None]:
    """While inside, SIGINT raises KeyboardInterrupt even in a process started with SIGINT
    ignored (a shell starts background jobs so, and Python then leaves it ignored), for a
    command whose documented way to stop is SIGINT (``serve-demo``, as uvicorn does for
    ``hashtag-serve``)."""
    with _handling(signal.SIGINT, signal.default_int_handler):
        yield


@contextmanager
def _handling(
    signum: signal.Signals, handler: Callable[[int, FrameType | None], None]
) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signum, handler)
    try:
        yield
    finally:
        signal.signal(signum, previous)


def run_main(body: Callable[[], int | None], prog: str) -> int:
    """Run ``body`` and map its outcome to an exit code, printing one line on failure."""
    try:
        with sigterm_as_interrupt():
            code = body()
    except PipelineError as exc:
        _report(prog, str(exc), exc)
        return exc.exit_code
    except Terminated:
        print(f"{prog}: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        from runtime.write_faults import write_fault  # it imports PipelineError from here

        fault = write_fault(exc)
        if fault is not None:  # a full or read-only disk, wherever the write happened
            _report(prog, str(fault), exc)
            return fault.exit_code
        _report(prog, f"unexpected {type(exc).__name__}: {exc}", exc)
        return EXIT_FAILED
    return EXIT_OK if code is None else code


def _report(prog: str, message: str, exc: BaseException) -> None:
    """One line, always: library messages (WebDriver's, say) can span many."""
    first_line = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    print(f"{prog}: error: {first_line}", file=sys.stderr)
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        log.debug("traceback", exc_info=exc)
