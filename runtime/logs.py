"""Logging set-up shared by the commands: ``-v`` for debug, ``--quiet`` for warnings only."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


def add_logging_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    group.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")


def setup_logging(args: argparse.Namespace, log_file: str | Path | None = None) -> None:
    """Log to stderr at the level the flags ask for, and everything at INFO+ to ``log_file``."""
    level = (
        logging.DEBUG
        if getattr(args, "verbose", False)
        else (logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    )
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(min(level, logging.INFO) if log_file else level)
    console = logging.StreamHandler()
    console.setLevel(level)
    console.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    )
    root.addHandler(console)
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setLevel(logging.DEBUG if level == logging.DEBUG else logging.INFO)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    # onnxscript and onnx_ir narrate every pass of the ONNX export at INFO.
    for noisy in ("selenium", "PIL", "matplotlib", "httpx", "WDM", "onnxscript", "onnx_ir"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # urllib3 warns once per retry; our fetchers count the final failure by reason instead.
    logging.getLogger("urllib3").setLevel(logging.ERROR)


def progress_disabled(args: argparse.Namespace) -> bool:
    """Progress bars follow ``--quiet`` so piped runs stay clean."""
    return bool(getattr(args, "quiet", False))
