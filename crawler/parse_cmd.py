"""``hashtag-crawl parse``: the crawler's parsers run offline over saved pages and responses.

Pages saved from a browser, API responses saved as JSON and ``.har`` exports from devtools all
become Contract 1 records appended to ``--out`` through :class:`crawler.store.PostStore`, so
re-parsing the same files never duplicates a post. Each file is read on its own and reported on
one line with the posts found in it; a document without posts (a page shell, an empty profile)
is 0 posts, not an error. A file that cannot be read, or is not JSON, HTML or a HAR file, is
reported on one line and skipped, so one bad file does not cost the others, but the run still
ends with exit 2.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from crawler.blocks import Blocked
from crawler.parsers import (
    NO_MEDIA,
    Page,
    UnknownShape,
    decode_json,
    looks_like_json,
    parse_json,
    parse_text,
)
from crawler.store import PostStore
from runtime.cli import add_flag, required_group, subcommand
from runtime.errors import EXIT_OK, EXIT_USAGE
from runtime.logs import progress_disabled
from runtime.outputs import check_output_file
from runtime.records import DEFAULT_BASE_URL, check_base_url
from runtime.write_faults import writing_into

PROG = "hashtag-crawl parse"
log = logging.getLogger(__name__)

# HAR entries whose bodies are never Instagram post data; skipped without trying to parse.
_SKIPPED_MIME_PREFIXES = ("image/", "video/", "audio/", "font/", "text/css")
_SKIPPED_MIME_WORDS = ("javascript", "octet-stream", "protobuf", "woff")


@dataclass
class ParseSummary:
    files_parsed: int = 0
    files_failed: int = 0
    posts_added: int = 0
    duplicates: int = 0

    def line(self, out: Path) -> str:
        total = self.files_parsed + self.files_failed
        return (
            f"parsed {self.files_parsed} of {total} files: {self.posts_added} posts added to "
            f"{out}, {self.duplicates} duplicates skipped"
        )


def file_line(path: Path, pages: list[Page]) -> str:
    """What one file held: its posts, the kinds of media objects they came from, its cursor."""
    posts = sum(len(page.records) for page in pages)
    kinds = sorted({kind for page in pages for kind in page.found.split("+")} - {NO_MEDIA})
    where = f" in {len(pages)} responses" if len(pages) > 1 else ""
    noun = "post" if posts == 1 else "posts"
    line = f"{path}: {posts} {noun}{where} ({', '.join(kinds) or 'no media objects'})"
    cursor = next((page.next_cursor for page in pages if page.more_available), None)
    return line + (f", feed continues after {cursor}" if cursor else "")


def register(subparsers: Any) -> None:
    """Add ``parse`` to the ``hashtag-crawl`` sub-commands."""
    parser = subcommand(
        subparsers,
        "parse",
        help="turn saved Instagram pages, JSON responses and .har files into posts.jsonl",
        description="Parse saved Instagram pages (HTML), API responses (JSON) and browser "
        ".har exports with the crawler's parsers; append the posts to --append-to FILE, "
        "deduplicated by shortcode, and say per file how many posts it held. "
        "Exit 2 when any file could not be read or is not JSON, HTML or HAR.",
    )
    parser.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="files to parse; a folder stands for every file in it (and its sub-folders)",
    )
    add_flag(
        required_group(parser),
        "--append-to",
        renamed_from=("--out",),
        required=True,
        type=Path,
        metavar="FILE",
        help="posts.jsonl to append to",
    )
    parser.add_argument(
        "--source", help="the records' source field (default: file:<file name> per file)"
    )
    parser.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        metavar="URL",
        help="site the post URLs are built on",
    )
    parser.set_defaults(func=run_parse)


def run_parse(args: argparse.Namespace) -> int:
    check_base_url(args.base_url)
    check_output_file(args.append_to, "--append-to", what="posts.jsonl file")
    store: PostStore | None = None  # opened at the first parsed file: a failed run writes nothing
    summary = ParseSummary()
    # disable=None: the bar shows on a terminal only, so piped stderr holds just the errors.
    files = expand_folders(args.files, skip=args.append_to)
    for path in tqdm(files, unit="file", disable=progress_disabled(args) or None):
        source = args.source or f"file:{path.name}"
        try:
            pages = parse_file(path, source, args.base_url)
        except (OSError, UnicodeDecodeError, UnknownShape, Blocked) as exc:
            summary.files_failed += 1
            tqdm.write(f"{PROG}: error: {path}: {_reason(exc)}", file=sys.stderr)
            continue
        summary.files_parsed += 1
        records = [record for page in pages for record in page.records]
        with writing_into(args.append_to):  # a full or read-only disk: one line, no torn record
            if store is None:
                store = PostStore(args.append_to)
            added = store.add(records)
        summary.posts_added += len(added)
        summary.duplicates += len(records) - len(added)
        tqdm.write(file_line(path, pages), file=sys.stdout)
    print(summary.line(args.append_to))
    return EXIT_USAGE if summary.files_failed else EXIT_OK


def expand_folders(paths: list[Path], skip: Path) -> list[Path]:
    """The files to parse: a folder gives its files, sorted, without hidden ones and without
    ``skip`` (the --out file, often kept beside the captures). An empty folder stays itself and
    is reported like any unreadable input."""
    files: list[Path] = []
    out = skip.resolve()
    for path in paths:
        inside = (
            sorted(
                found
                for found in path.rglob("*")
                if found.is_file()
                and not any(part.startswith(".") for part in found.relative_to(path).parts)
                and found.resolve() != out
            )
            if path.is_dir()
            else []
        )
        files += inside or [path]
    return files


def parse_file(path: Path, source: str, base_url: str = DEFAULT_BASE_URL) -> list[Page]:
    """Every response in one saved file: one page for HTML/JSON, one per useful HAR entry."""
    text = path.read_bytes().decode("utf-8-sig")
    if not looks_like_json(text):
        return [parse_text(text, source, base_url)]
    obj = decode_json(text)
    entries = _har_entries(obj)
    if entries is None:
        return [parse_json(obj, source, base_url)]
    parsed = (_har_entry_page(entry, source, base_url) for entry in entries)
    pages = [page for page in parsed if page is not None]
    if not pages:
        raise UnknownShape(
            f"HAR file with no Instagram JSON or HTML response ({len(entries)} entries)"
        )
    return pages


def _har_entries(obj: Any) -> list[Any] | None:
    """``log.entries`` of a HAR file, or None when ``obj`` is not one."""
    log_section = obj.get("log") if isinstance(obj, dict) else None
    if not isinstance(log_section, dict) or "entries" not in log_section:
        return None
    entries = log_section["entries"]
    if not isinstance(entries, list):
        raise UnknownShape("HAR file whose log.entries is not a list")
    return entries


def _har_entry_page(entry: Any, source: str, base_url: str) -> Page | None:
    """The parsed body of one HAR entry; None for media, scripts and other sites' pages."""
    content = (entry.get("response") or {}).get("content") if isinstance(entry, dict) else None
    if not isinstance(content, dict) or not isinstance(content.get("text"), str):
        return None
    mime = str(content.get("mimeType") or "").lower()
    if mime.startswith(_SKIPPED_MIME_PREFIXES) or any(w in mime for w in _SKIPPED_MIME_WORDS):
        return None
    body = content["text"]
    try:
        if content.get("encoding") == "base64":
            body = base64.b64decode(body, validate=True).decode("utf-8")
        return parse_text(body, source, base_url)
    except (binascii.Error, UnicodeDecodeError, UnknownShape):
        return None
    except Blocked as exc:
        log.warning("HAR entry %s is a %s page; skipped", _entry_url(entry), exc.kind)
        return None


def _entry_url(entry: dict[str, Any]) -> str:
    return str((entry.get("request") or {}).get("url") or "?")


def _reason(exc: BaseException) -> str:
    """One line saying why a file was not parsed."""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "a folder with no files in it"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError):
        return f"cannot read: {exc.strerror or exc}"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (binary or corrupt file, bad byte at offset {exc.start})"
    if isinstance(exc, Blocked):
        return f"a {exc.kind} page, not posts"
    return " ".join(str(exc).split())
