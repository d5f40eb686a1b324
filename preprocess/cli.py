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
from preprocess.readers import parse_csv_columns
from preprocess.settings import (
    DatasetSettings,
    ExportSettings,
    LabelsSection,
    LanguageSection,
    SplitsSection,
)
from runtime.cli import (
    ConfigFlags,
    command_parser,
    required_group,
    run,
    subcommand,
)
from runtime.errors import UsageError
from runtime.hashtags import extract_hashtags
from runtime.logs import progress_disabled
from runtime.pipes import stop_quietly_on_closed_stdout
from runtime.settings import choices
from runtime.write_faults import writing_into

PROG = "hashtag-build-dataset"

# The flags of ``build`` that override configs/dataset.yaml, each with the key it sets.
BUILD_FLAGS = ConfigFlags("dataset")
# The flags of ``export`` that override configs/export.yaml.
EXPORT_FLAGS = ConfigFlags("export")


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(), argv)


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser(
        PROG, "Build the hashtag dataset from raw posts, and inspect its steps."
    )
    subparsers = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="see COMMAND --help"
    )
    register_build(subparsers)
    register_export(subparsers)
    register_hashtags(subparsers)
    langid_cli.register(subparsers)
    return parser


def register_build(subparsers: argparse._SubParsersAction) -> None:
    parser = subcommand(
        subparsers,
        "build",
        help="raw posts to a dataset directory",
        description="Read posts, keep those in the chosen languages with top-K hashtags and a "
        "good image (--text-only: no image needed or fetched), write the dataset directory, "
        "print the funnel. Defaults come from configs/dataset.yaml.",
        stage="dataset",
    )
    _required_build_flags(parser)
    _input_flags(parser)
    _caption_text_flags(parser)
    _label_flags(parser)
    _dedup_split_image_flags(parser)
    parser.set_defaults(func=build_command)


def _required_build_flags(parser: argparse.ArgumentParser) -> None:
    required = required_group(parser)
    BUILD_FLAGS.add(
        required,
        "--input",
        key="inputs",
        dest="inputs",
        action="append",
        metavar="PATH",
        help="posts.jsonl, instaloader folder or CSV file (repeatable; or inputs in --config)",
    )
    BUILD_FLAGS.add(
        required,
        "--out",
        key="out",
        metavar="DIR",
        help="the dataset directory to (re)place (or out in --config)",
    )


def _input_flags(parser: argparse.ArgumentParser) -> None:
    add = BUILD_FLAGS.add
    add(
        parser,
        "--input-format",
        key="input_format",
        choices=choices(DatasetSettings, "input_format"),
        renamed_from=("--format",),
        help="input format",
    )
    add(
        parser,
        "--csv-columns",
        key="csv_columns",
        type=_csv_columns,
        metavar="caption=COL,image=COL",
        help="CSV column roles (also shortcode=, owner=, taken_at=)",
    )


def _caption_text_flags(parser: argparse.ArgumentParser) -> None:
    add = BUILD_FLAGS.add
    add(
        parser,
        "--demojize",
        key="text.demojize",
        action="store_true",
        help="spell emoji out as words in the model text",
    )
    add(
        parser,
        "--lang",
        key="language.keep",
        dest="langs",
        action="append",
        metavar="CODE",
        help="ISO 639-1 language to keep (repeatable)",
    )
    add(
        parser,
        "--keep-und",
        key="language.keep_undetermined",
        action="store_true",
        help="keep captions too short for language id",
    )
    add(
        parser,
        "--keep-mixed",
        key="language.keep_mixed",
        action="store_true",
        help="keep code-mixed captions (a kept language and another one)",
    )
    add(
        parser,
        "--langid-backend",
        key="language.backend",
        choices=choices(LanguageSection, "backend"),
        help=f"language detector (null: {langid.DEFAULT_BACKEND})",
    )


def _label_flags(parser: argparse.ArgumentParser) -> None:
    add = BUILD_FLAGS.add
    add(parser, "--top-k", key="labels.top_k", type=int, metavar="K", help="number of labels")
    add(
        parser,
        "--min-count",
        key="labels.min_count",
        type=int,
        metavar="N",
        help="posts a label needs",
    )
    add(
        parser,
        "--stoplist",
        key="labels.stoplist",
        metavar="FILE",
        help="hashtags never used as labels (null: the shipped list)",
    )
    add(
        parser,
        "--balance",
        key="labels.balance",
        choices=choices(LabelsSection, "balance"),
        help="sampling weights",
    )


def _dedup_split_image_flags(parser: argparse.ArgumentParser) -> None:
    add = BUILD_FLAGS.add
    add(
        parser,
        "--text-only",
        key="text_only",
        action="store_true",
        help="captions only: fetch no image, keep posts without one (image columns null)",
    )
    add(
        parser,
        "--near-dup",
        key="dedup.near_dup",
        type=int,
        metavar="BITS",
        help="max phash distance of near duplicates (-1: off)",
    )
    add(
        parser,
        "--split-by",
        key="splits.by",
        choices=choices(SplitsSection, "by"),
        help="unit kept in one split",
    )
    add(
        parser,
        "--image-size",
        key="images.image_size",
        type=int,
        metavar="PX",
        help="shorter image side",
    )
    add(
        parser,
        "--cache-dir",
        key="image_cache",
        metavar="DIR",
        help="persistent image cache (null: OUT.image-cache)",
    )


def build_command(args: argparse.Namespace) -> int:
    """Read posts, keep those in the kept languages with top-K hashtags and a good image, write
    the dataset directory (Contract 2), print the funnel."""
    settings = BUILD_FLAGS.settings(args, DatasetSettings)
    if not settings.out:
        raise UsageError("--out DIR is required")
    with writing_into(settings.out):  # a full or read-only disk mid-build: one line
        funnel = build_dataset(settings, progress=not progress_disabled(args))
    print(funnel.summary())
    return 0


def register_export(subparsers: argparse._SubParsersAction) -> None:
    parser = subcommand(
        subparsers,
        "export",
        help="a dataset directory as webdataset shards or a saved Hugging Face dataset",
        description="Write the dataset as webdataset tar shards per split (jpg, txt, json per "
        "post) or as a Hugging Face dataset saved with save_to_disk; print the samples per "
        "split. Defaults come from configs/export.yaml.",
        stage="export",
    )
    required = required_group(parser)
    required.add_argument(
        "--dataset", required=True, type=Path, metavar="DIR", help="the dataset directory"
    )
    required.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="the folder to (re)place"
    )
    EXPORT_FLAGS.add(
        required,
        "--output-format",
        key="output_format",
        renamed_from=("--format",),
        metavar="|".join(choices(ExportSettings, "output_format")),
        help="what to write (or output_format in --config)",
    )
    EXPORT_FLAGS.add(
        parser,
        "--shard-size",
        key="shard_size",
        type=int,
        metavar="N",
        help="webdataset samples per shard",
    )
    parser.set_defaults(func=export_command)


def export_command(args: argparse.Namespace) -> int:
    """Write the dataset as webdataset tar shards per split, or as a saved HF dataset."""
    settings = EXPORT_FLAGS.settings(args, ExportSettings)
    if settings.output_format is None:
        raise UsageError("--output-format is required")
    with writing_into(args.out):  # a full or read-only disk mid-export: one line
        counts = export.export_dataset(
            args.dataset,
            args.out,
            settings.output_format,
            settings.shard_size,
            not progress_disabled(args),
        )
    print(", ".join(f"{split} {n}" for split, n in counts.items()), "->", args.out)
    return 0


def register_hashtags(subparsers: argparse._SubParsersAction) -> None:
    parser = subcommand(
        subparsers,
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
