"""``hashtag-build-dataset langid``: the language of each stdin line, as the English filter sees it.

A debugging and scripting aid: pipe captions in, get ``lang<TAB>confidence`` per line out, in
the same order, so a filter decision can be checked without building a dataset.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Iterator
from typing import BinaryIO, TextIO

from preprocess.langid import BACKENDS, DEFAULT_BACKEND, get_detector
from runtime.cli import subcommand
from runtime.pipes import stop_quietly_on_closed_stdout

BATCH_LINES = 512
"""Lines read before detecting and writing; output is flushed after each batch."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subcommand(
        subparsers,
        "langid",
        help="detect the language of each stdin line",
        description="Read text lines on stdin and write 'lang<TAB>confidence' per line: an "
        "ISO 639-1 code or 'und' (too little text to judge) after hashtags, mentions, URLs "
        "and emoji are removed.",
    )
    parser.add_argument(
        "--backend",
        default=DEFAULT_BACKEND,
        metavar="NAME",
        help=f"detector: {', '.join(BACKENDS)}",
    )
    parser.set_defaults(func=run_langid)


def run_langid(
    args: argparse.Namespace, source: BinaryIO | None = None, sink: TextIO | None = None
) -> int:
    """Stream stdin to stdout in batches; undecodable bytes are replaced, never fatal."""
    detector = get_detector(args.backend)  # an unknown name is a UsageError: exit 2, one line
    source = sys.stdin.buffer if source is None else source
    sink = sys.stdout if sink is None else sink
    with stop_quietly_on_closed_stdout():
        for batch in _batches(source):
            for lang, confidence in detector.detect_batch(batch):
                sink.write(f"{lang}\t{confidence:.4f}\n")
            sink.flush()
    return 0


def _batches(source: BinaryIO) -> Iterator[list[str]]:
    lines = (raw.decode("utf-8", errors="replace").rstrip("\r\n") for raw in source)
    while batch := list(itertools.islice(lines, BATCH_LINES)):
        yield batch
