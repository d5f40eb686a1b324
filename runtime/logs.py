"""Logging set-up shared by the commands: ``-v`` for debug, ``--quiet`` for warnings only."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def add_logging_args(parser: argparse.ArgumentParser) -> None:
    """``-v`` / ``-q``; :func:`runtime.cli.add_common_options` adds them to every command."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    group.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")


def setup_logging(args: argparse.Namespace) -> None:
    """Log to stderr at the level the flags ask for (a command that keeps a log file adds it
    with :func:`log_to_file` once it knows its output folder).

    Called once per command, by :func:`runtime.cli.run`, before the command's body runs; it
    replaces the handlers an earlier set-up added and leaves anyone else's (pytest's) alone.
    """
    level = (
        logging.DEBUG
        if getattr(args, "verbose", False)
        else (logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    )
    root = logging.getLogger()
    _remove_ours(root)
    root.setLevel(level)
    console = _Console()
    console.setLevel(level)
    console.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    )
    root.addHandler(console)
    # onnxscript and onnx_ir narrate every pass of the ONNX export at INFO.
    for noisy in ("selenium", "PIL", "matplotlib", "httpx", "WDM", "onnxscript", "onnx_ir"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # urllib3 warns once per retry; our fetchers count the final failure by reason instead.
    logging.getLogger("urllib3").setLevel(logging.ERROR)


@contextmanager
def command_logging() -> Iterator[None]:
    """The logging a command sets up lasts while it runs: afterwards its handlers are gone
    (its log file closed) and the root level is back. A command run in-process (a test, a
    benchmark) then leaves no handler behind holding a stream that has since been closed."""
    root = logging.getLogger()
    level = root.level
    try:
        yield
    finally:
        _remove_ours(root)
        root.setLevel(level)


def _remove_ours(root: logging.Logger) -> None:
    """Take off (and close) the handlers :func:`setup_logging` and :func:`log_to_file` added."""
    for handler in root.handlers[:]:
        if isinstance(handler, (_Console, _LogFile)):
            root.removeHandler(handler)
            handler.close()


def log_to_file(log_file: str | Path) -> None:
    """Also write INFO and above (DEBUG under ``-v``) to ``log_file``, whatever stderr shows:
    a command adds its log file once it knows its output folder."""
    root = logging.getLogger()
    level = logging.DEBUG if root.level == logging.DEBUG else logging.INFO
    root.setLevel(min(root.level or logging.WARNING, logging.INFO))
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    handler = _LogFile(log_file, encoding="utf-8")
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)


class _Console(logging.StreamHandler):
    """stderr, as a handler of ours (see :func:`_remove_ours`)."""


class _LogFile(logging.FileHandler):
    """A log file that drops a line it cannot write (a full disk) instead of printing a
    traceback per line: the command's own writes then fail and say so in one line."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        return


def progress_disabled(args: argparse.Namespace) -> bool:
    """Progress bars follow ``--quiet`` so piped runs stay clean."""
    return bool(getattr(args, "quiet", False))
