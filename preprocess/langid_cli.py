"""``hashtag-build-dataset langid``: the language of each stdin line, as the English filter sees it.

A debugging and scripting aid: pipe captions in, get ``lang<TAB>confidence`` per line out, in
the same order, so a filter decision can be checked without building a dataset. ``--explain``
adds a third column with the evidence that decided the line.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Iterator
from typing import BinaryIO, TextIO

from preprocess.langid import BACKENDS, DEFAULT_BACKEND, get_detector, parse_prior
from preprocess.settings import language_prior
from runtime.cli import add_flag, subcommand
from runtime.pipes import stop_quietly_on_closed_stdout

BATCH_LINES = 512
"""Lines read before detecting and writing; output is flushed after each batch."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subcommand(
        subparsers,
        "langid",
        help="detect the language of each stdin line",
        description="Read text lines on stdin and write 'lang<TAB>confidence' per line: an "
        "ISO 639-1 code, 'und' (too little text to judge) or 'mixed' (code-mixed), after "
        "hashtags, mentions, URLs and emoji are removed.",
    )
    add_flag(
        parser,
        "--langid-backend",
        renamed_from=("--backend",),
        default=DEFAULT_BACKEND,
        metavar="NAME",
        help=f"detector: {', '.join(BACKENDS)}",
    )
    parser.add_argument(
        "--prior",
        metavar="CODE=SHARE,...",
        help="expected share of each language in the crawl (caption backend; default: "
        "language.prior of configs/dataset.yaml)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="add a third column: the evidence that decided the line",
    )
    parser.set_defaults(func=run_langid)


def run_langid(
    args: argparse.Namespace, source: BinaryIO | None = None, sink: TextIO | None = None
) -> int:
    """Stream stdin to stdout in batches; undecodable bytes are replaced, never fatal."""
    prior = None if args.prior is None else language_prior(parse_prior(args.prior))
    detector = get_detector(
        args.langid_backend, prior
    )  # a bad name is a UsageError: exit 2, one line
    source = sys.stdin.buffer if source is None else source
    sink = sys.stdout if sink is None else sink
    with stop_quietly_on_closed_stdout():
        for batch in _batches(source):
            for verdict in detector.explain_batch(batch):
                evidence = f"\t{verdict.evidence}" if args.explain else ""
                sink.write(f"{verdict.lang}\t{verdict.confidence:.4f}{evidence}\n")
            sink.flush()
    return 0


def _batches(source: BinaryIO) -> Iterator[list[str]]:
    lines = (raw.decode("utf-8", errors="replace").rstrip("\r\n") for raw in source)
    while batch := list(itertools.islice(lines, BATCH_LINES)):
        yield batch
