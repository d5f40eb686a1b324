"""Exit codes of docs/architecture.md and the one wrapper that turns exceptions into them.

Every console script runs its body through :func:`run_main`, so a bad input is one line on
stderr and a documented exit code, never a traceback (unless ``-v`` asked for one).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REMOTE_STOP = 3
EXIT_INTERRUPTED = 130

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


def run_main(body: Callable[[], int | None], prog: str) -> int:
    """Run ``body`` and map its outcome to an exit code, printing one line on failure."""
    try:
        code = body()
    except PipelineError as exc:
        _report(prog, str(exc), exc)
        return exc.exit_code
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
