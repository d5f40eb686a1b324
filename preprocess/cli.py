"""``hashtag-build-dataset``: the ``build`` and ``export`` commands and the helpers ``hashtags``
and ``langid``.

``build`` turns raw posts into the dataset directory and prints the funnel on stdout;
``export`` writes a built dataset as webdataset shards or a saved Hugging Face dataset; the
helpers expose single steps on stdin/stdout so they can be checked or reused from a shell.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from preprocess import export, langid, langid_cli
from preprocess.build import build_dataset
from preprocess.readers import FORMATS, parse_csv_columns
from preprocess.splits import SPLIT_BY
from runtime.config import add_config_args, resolve_config
from runtime.errors import UsageError, run_main
from runtime.hashtags import extract_hashtags
from runtime.logs import add_logging_args, progress_disabled, setup_logging
from runtime.pipes import stop_quietly_on_closed_stdout

PROG = "hashtag-build-dataset"

#: argparse dest -> dotted key of configs/dataset.yaml
BUILD_FLAGS = {
    "inputs": "inputs",
    "out": "out",
    "format": "format",
    "csv_columns": "csv_columns",
    "demojize": "text.demojize",
    "langs": "language.keep",
    "keep_und": "language.keep_undetermined",
    "keep_mixed": "language.keep_mixed",
    "langid_backend": "language.backend",
    "top_k": "labels.top_k",
    "min_count": "labels.min_count",
    "stoplist": "labels.stoplist",
    "balance": "labels.balance",
    "near_dup": "dedup.near_dup",
    "split_by": "splits.by",
    "image_size": "images.image_size",
    "cache_dir": "image_cache",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Build the hashtag dataset from raw posts, and inspect its steps."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    register_build(subparsers)
    register_export(subparsers)
    register_hashtags(subparsers)
    langid_cli.register(subparsers)
    args = parser.parse_args(argv)
    setup_logging(args)
    return run_main(lambda: args.func(args), PROG)


def register_build(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build", help="raw posts to a dataset directory", description=build_command.__doc__
    )
    parser.add_argument(
        "--input",
        dest="inputs",
        action="append",
        metavar="PATH",
        help="posts.jsonl, instaloader folder or CSV file (repeatable)",
    )
    parser.add_argument("--out", metavar="DIR", help="the dataset directory to (re)place")
    parser.add_argument(
        "--format", choices=("auto", *FORMATS), help="input format (default: detected per input)"
    )
    parser.add_argument(
        "--csv-columns",
        type=_csv_columns,
        metavar="caption=COL,image=COL",
        help="CSV column roles (also shortcode=, owner=, taken_at=)",
    )
    parser.add_argument(
        "--demojize",
        action="store_true",
        default=None,
        help="spell emoji out as words in the model text",
    )
    parser.add_argument(
        "--lang",
        dest="langs",
        action="append",
        metavar="CODE",
        help="ISO 639-1 language to keep (repeatable; default en)",
    )
    parser.add_argument(
        "--keep-und",
        action="store_true",
        default=None,
        help="keep captions too short for language id",
    )
    parser.add_argument(
        "--keep-mixed",
        action="store_true",
        default=None,
        help="keep code-mixed captions (a kept language and another one)",
    )
    parser.add_argument("--langid-backend", choices=langid.BACKENDS)
    parser.add_argument("--top-k", type=int, metavar="K", help="number of labels (default 100)")
    parser.add_argument("--min-count", type=int, metavar="N", help="posts a label needs")
    parser.add_argument("--stoplist", metavar="FILE", help="hashtags never used as labels")
    parser.add_argument("--balance", choices=("none", "sqrt"), help="sampling weights")
    parser.add_argument(
        "--near-dup",
        type=int,
        metavar="BITS",
        help="max phash distance of near duplicates (default 6; -1 off)",
    )
    parser.add_argument("--split-by", choices=SPLIT_BY, help="unit kept in one split")
    parser.add_argument("--image-size", type=int, metavar="PX", help="shorter image side")
    parser.add_argument("--cache-dir", metavar="DIR", help="persistent image cache")
    add_config_args(parser)
    add_logging_args(parser)
    parser.set_defaults(func=build_command)


def build_command(args: argparse.Namespace) -> int:
    """Read posts, keep the English ones with top-K hashtags and a good image, write the
    dataset directory (Contract 2), print the funnel."""
    config = resolve_config("dataset", args, BUILD_FLAGS)
    if not config.get("out"):
        raise UsageError("--out DIR is required")
    funnel = build_dataset(config, progress=not progress_disabled(args))
    print(funnel.summary())
    return 0


def register_export(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="a dataset directory as webdataset shards or a saved Hugging Face dataset",
        description=export_command.__doc__,
    )
    parser.add_argument("--dataset", type=Path, metavar="DIR", help="the dataset directory")
    parser.add_argument("--out", type=Path, metavar="DIR", help="the folder to (re)place")
    parser.add_argument("--format", metavar="|".join(export.FORMATS), help="what to write")
    parser.add_argument(
        "--shard-size",
        type=int,
        default=export.DEFAULT_SHARD_SIZE,
        metavar="N",
        help=f"webdataset samples per shard (default {export.DEFAULT_SHARD_SIZE})",
    )
    add_logging_args(parser)
    parser.set_defaults(func=export_command)


def export_command(args: argparse.Namespace) -> int:
    """Write the dataset as webdataset tar shards per split (jpg, txt, json per post) or as a
    Hugging Face dataset saved with save_to_disk; print the samples per split."""
    for flag, value in (
        ("--dataset", args.dataset),
        ("--out", args.out),
        ("--format", args.format),
    ):
        if value is None:
            raise UsageError(f"{flag} is required")
    counts = export.export_dataset(
        args.dataset, args.out, args.format, args.shard_size, not progress_disabled(args)
    )
    print(", ".join(f"{split} {n}" for split, n in counts.items()), "->", args.out)
    return 0


def register_hashtags(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "hashtags",
        help="stdin text lines -> normalized hashtags, tab-separated",
        description="Print each stdin line's normalized hashtags, tab-separated, one line each.",
    )
    parser.set_defaults(func=hashtags_command)


def hashtags_command(args: argparse.Namespace) -> int:
    """Bytes that are not UTF-8 become U+FFFD, which is never part of a hashtag."""
    out = sys.stdout.buffer
    with stop_quietly_on_closed_stdout():
        for raw in sys.stdin.buffer:
            line = raw.decode("utf-8", errors="replace")
            out.write(("\t".join(extract_hashtags(line)) + "\n").encode("utf-8"))
        out.flush()
    return 0


def _csv_columns(spec: str) -> dict[str, str]:
    try:
        return parse_csv_columns(spec)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
