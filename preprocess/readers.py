"""Input readers: posts.jsonl (Contract 1), instaloader download folders and CSV files.

Every reader yields one :data:`ReadItem` per raw record: a :class:`Post`, or the named reason
the record was rejected, with the record's shortcode when it has one (for the build's drop
log). Nothing is dropped silently, so the build can count every input line in its funnel. A
path that is not there at all is a usage error (exit 2), not a count.
"""

from __future__ import annotations

import csv
import hashlib
import lzma
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

from runtime.errors import UsageError
from runtime.files import decode_json_object, iter_jsonl
from runtime.records import PostRecord, wrong_fields
from runtime.timestamps import timestamp_to_iso

FORMATS = ("jsonl", "instaloader", "csv")
INSTALOADER_SUFFIXES = ("_UTC.json.xz", "_UTC.json")
URL_PREFIXES = ("http://", "https://")


@dataclass(frozen=True)
class Post:
    """One post on its way through the build. The fields after ``taken_at`` hold what a build
    step learnt; a step returns new posts with them set (``dataclasses.replace``), never edits."""

    shortcode: str
    caption: str
    image_url: str | None
    image_path: str | None  # absolute path of a local copy; preferred over the URL
    owner: str | None
    taken_at: str | None  # ISO 8601 UTC
    hashtags: list[str] = field(default_factory=list)
    text: str = ""
    image: str = ""  # path of the saved JPEG relative to the dataset dir
    image_sha256: str = ""
    lang: str = "und"
    lang_confidence: float = 0.0
    labels: list[int] = field(default_factory=list)
    weight: float = 1.0


ReadItem = tuple[Post | None, str, str | None]
"""(post, "", its shortcode), or (None, reason, the record's shortcode where it has one)."""


def detect_format(path: Path) -> str:
    """Folders are instaloader downloads; files are CSV by suffix, else JSON Lines."""
    if path.is_dir():
        return "instaloader"
    return "csv" if path.suffix.lower() in (".csv", ".tsv") else "jsonl"


def read_input(
    path: Path, fmt: str, csv_columns: dict[str, str], need_image: bool = True
) -> Iterator[ReadItem]:
    """Yield every record of one input; ``fmt`` is ``auto`` or one of :data:`FORMATS` (as
    ``input_format`` of :class:`preprocess.settings.DatasetSettings` allows).

    ``need_image`` False (a text-only build) keeps a record with no image URL or local file,
    which is otherwise rejected as ``missing_image``, and a CSV needs no image column."""
    if not path.exists():
        raise UsageError(f"input not found: {path}")
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "instaloader":
        if not path.is_dir():
            raise UsageError(f"instaloader input must be a folder: {path}")
        return read_instaloader(path, need_image)
    if path.is_dir():
        raise UsageError(f"{fmt} input must be a file, got a folder: {path}")
    if fmt == "csv":
        records = read_csv(path, csv_columns, need_image)
    else:
        records = read_posts_jsonl(path, need_image)
    return _counting_read_errors(records)


def _counting_read_errors(records: Iterator[ReadItem]) -> Iterator[ReadItem]:
    """A file that cannot be read (permissions, I/O error) ends as one counted record."""
    try:
        yield from records
    except OSError:
        yield None, "unreadable_file", None


# posts.jsonl ---------------------------------------------------------------------------------


def read_posts_jsonl(path: Path, need_image: bool = True) -> Iterator[ReadItem]:
    """Contract 1 records (:class:`runtime.records.PostRecord`); a field of the wrong type is
    read as missing, so a record without a shortcode or caption is dropped by its reason;
    ``image_path`` is relative to the file's folder."""
    for _, line, reason in iter_jsonl(path):
        if line is None:
            yield None, reason, None
            continue
        wrong = wrong_fields(line)  # checked against runtime.records.PostRecord
        record = cast(PostRecord, {k: v for k, v in line.items() if k not in wrong})
        image_path = record.get("image_path")
        yield _checked_post(
            shortcode=record.get("shortcode"),
            caption=record.get("caption"),
            image_url=record.get("image_url"),
            image_path=str(path.parent / image_path) if image_path else None,
            owner=record.get("owner"),
            taken_at=record.get("taken_at"),
            need_image=need_image,
        )


def _checked_post(
    shortcode: Any,
    caption: Any,
    image_url: Any,
    image_path: str | None,
    owner: Any,
    taken_at: Any,
    need_image: bool,
) -> ReadItem:
    """A Post when the fields the build needs are there and well typed, else the reason."""
    if not isinstance(shortcode, str) or not shortcode:
        return None, "missing_shortcode", None
    if not isinstance(caption, str):
        return None, "missing_caption", shortcode
    if image_path and not Path(image_path).is_file():
        image_path = None
    if not isinstance(image_url, str) or not image_url:
        image_url = None
    if need_image and image_url is None and image_path is None:
        return None, "missing_image", shortcode
    return (
        Post(
            shortcode=shortcode,
            caption=caption,
            image_url=image_url,
            image_path=image_path,
            owner=owner if isinstance(owner, str) and owner else None,
            taken_at=taken_at if isinstance(taken_at, str) and taken_at else None,
        ),
        "",
        shortcode,
    )


# instaloader ---------------------------------------------------------------------------------

_LOCAL_IMAGE = re.compile(r"^(.*_UTC)(?:_(\d+))?\.jpg$")


def read_instaloader(root: Path, need_image: bool = True) -> Iterator[ReadItem]:
    """Posts of an instaloader download: one target folder or a folder of target folders.

    The metadata file ``<stamp>_UTC.json.xz`` (or ``.json``) names the post; the caption comes
    from its node, else from ``<stamp>_UTC.txt``; the image is the local ``<stamp>_UTC.jpg`` or
    the first carousel file ``<stamp>_UTC_1.jpg``, else the node's ``display_url`` (for a
    video, its cover frame); a post saved under several targets is read once per copy and
    deduped later.
    """
    metadata = sorted(p for p in root.rglob("*_UTC.json*") if p.name.endswith(INSTALOADER_SUFFIXES))
    if not metadata:
        raise UsageError(f"no instaloader posts (*_UTC.json.xz or *_UTC.json) under {root}")
    images = _local_images(root)
    for meta in metadata:
        yield _instaloader_post(meta, images, need_image)


def _instaloader_post(
    meta: Path, images: dict[tuple[Path, str], Path], need_image: bool
) -> ReadItem:
    stem = meta.name.removesuffix(".xz").removesuffix(".json")
    try:
        raw = lzma.decompress(meta.read_bytes()) if meta.name.endswith(".xz") else meta.read_bytes()
    except lzma.LZMAError:
        return None, "bad_lzma", None
    except OSError:
        return None, "unreadable_file", None
    document, reason = decode_json_object(raw)
    node = document.get("node") if document is not None else None
    if not isinstance(node, dict):
        return None, reason or "not_object", None
    caption = _node_caption(node)
    if caption is None:
        caption, reason = _read_caption_file(meta.with_name(f"{stem}.txt"))
        if reason:
            return (
                None,
                reason,
                node.get("shortcode") if isinstance(node.get("shortcode"), str) else None,
            )
    owner = node.get("owner") if isinstance(node.get("owner"), dict) else {}
    return _checked_post(
        shortcode=node.get("shortcode"),
        caption=caption,
        image_url=node.get("display_url"),
        image_path=str(images[meta.parent, stem]) if (meta.parent, stem) in images else None,
        owner=owner.get("username"),
        taken_at=timestamp_to_iso(node.get("taken_at_timestamp")),
        need_image=need_image,
    )


def _node_caption(node: dict[str, Any]) -> str | None:
    edges = (node.get("edge_media_to_caption") or {}).get("edges") or []
    if edges and isinstance(edges[0], dict):
        text = (edges[0].get("node") or {}).get("text")
        if isinstance(text, str):
            return text
    return None


def _read_caption_file(path: Path) -> tuple[str | None, str]:
    """The caption instaloader writes beside the metadata; no file means no caption."""
    if not path.is_file():
        return "", ""
    try:
        return path.read_bytes().decode("utf-8"), ""
    except UnicodeDecodeError:
        return None, "bad_utf8"
    except OSError:
        return None, "unreadable_file"


def _local_images(root: Path) -> dict[tuple[Path, str], Path]:
    """Each post's local image, by (folder, metadata stem): ``<stem>.jpg`` or the
    lowest-numbered carousel file ``<stem>_N.jpg``. One walk of the tree for all posts."""
    found: dict[tuple[Path, str], tuple[int, Path]] = {}
    for candidate in root.rglob("*_UTC*.jpg"):
        match = _LOCAL_IMAGE.match(candidate.name)
        if match:
            key = (candidate.parent, match.group(1))
            ranked = (int(match.group(2) or 0), candidate)
            found[key] = min(found.get(key, ranked), ranked)
    return {key: path for key, (_, path) in found.items()}


# CSV -----------------------------------------------------------------------------------------

CSV_ROLES = ("caption", "image", "shortcode", "owner", "taken_at")


def parse_csv_columns(spec: str) -> dict[str, str]:
    """``caption=text,image=url`` to ``{"caption": "text", "image": "url"}``."""
    columns: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        role, sep, column = part.partition("=")
        if not sep or role not in CSV_ROLES or not column:
            raise UsageError(
                f"--csv-columns expects ROLE=COLUMN with ROLE in {', '.join(CSV_ROLES)}, "
                f"got {part!r}"
            )
        columns[role] = column
    return columns


def read_csv(path: Path, columns: dict[str, str], need_image: bool = True) -> Iterator[ReadItem]:
    """Rows with a caption column and an image column holding a URL or a path (relative to
    the CSV's folder). Rows without a shortcode column get a stable one from their content.

    The header is checked now, when the input is opened, not when its rows are reached: a
    build fails on a CSV without the named columns before it reads any other input."""
    dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
    _check_csv_header(path, columns, dialect, need_image)
    return _csv_rows(path, columns, dialect, need_image)


def _open_csv(path: Path) -> TextIO:
    """``utf-8-sig``: a spreadsheet's "CSV UTF-8" starts with a byte order mark, which would
    otherwise become part of the first column's name."""
    return open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")


def _check_csv_header(path: Path, columns: dict[str, str], dialect: str, need_image: bool) -> None:
    try:
        with _open_csv(path) as handle:
            header = next(csv.reader(handle, dialect=dialect), [])
    except OSError:
        return  # the reader counts the file as unreadable_file
    except csv.Error as exc:
        raise UsageError(f"{path}: not a CSV file ({exc})") from None
    if not header:
        raise UsageError(f"{path}: empty CSV file (no header row)")
    if header[0].lstrip().startswith(("{", "[")):
        raise UsageError(f"{path} holds JSON, not CSV: read it with --input-format jsonl (or auto)")
    for role in ("caption", "image") if need_image else ("caption",):
        if columns.get(role) not in header:
            raise UsageError(
                f"{path}: no {role} column {columns.get(role)!r} (columns: "
                f"{', '.join(header)}); set --csv-columns caption=...,image=..."
            )


def _csv_rows(
    path: Path, columns: dict[str, str], dialect: str, need_image: bool
) -> Iterator[ReadItem]:
    """Each row as a post or a reason; a row the csv module cannot parse (a field over its
    size limit) is ``bad_csv`` and the rows after it are still read."""
    with _open_csv(path) as handle:
        rows = csv.DictReader(handle, dialect=dialect)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error:
                yield None, "bad_csv", None
                continue
            yield _csv_post(row, columns, path, need_image)


def _csv_post(
    row: dict[str, str | None], columns: dict[str, str], path: Path, need_image: bool
) -> ReadItem:
    values = {role: row.get(column) or "" for role, column in columns.items()}
    if any(_has_undecodable_bytes(value) for value in row.values() if isinstance(value, str)):
        return None, "bad_utf8", None
    image = values.get("image", "").strip()
    is_url = image.startswith(URL_PREFIXES)
    digest = hashlib.sha1(f"{values['caption']}\0{image}".encode()).hexdigest()[:16]
    return _checked_post(
        shortcode=values.get("shortcode") or f"csv-{digest}",
        caption=values["caption"],
        image_url=image if is_url else None,
        image_path=str(path.parent / image) if image and not is_url else None,
        owner=values.get("owner"),
        taken_at=values.get("taken_at"),
        need_image=need_image,
    )


def _has_undecodable_bytes(value: str) -> bool:
    """``surrogateescape`` maps bytes that are not UTF-8 to lone surrogates U+DC80..U+DCFF."""
    return any("\udc80" <= char <= "\udcff" for char in value)
