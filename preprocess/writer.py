"""The files of the dataset directory (DESIGN.md Contract 2), written into a build folder.

The Parquet schema is fixed here, column by column, so readers downstream (training, tests)
can rely on names, types and nullability instead of whatever pandas would infer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from preprocess.readers import Post
from runtime.files import atomic_write_json, atomic_write_text

SCHEMA_VERSION = 1
FILE_MODE = 0o644
"""Every file of a dataset is readable by all, like the folder (0o755): the atomic writers'
temporary files start private (0o600), which would hide a shared dataset from its readers."""

PARQUET_SCHEMA = pa.schema(
    [
        pa.field("shortcode", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("hashtags", pa.list_(pa.string()), nullable=False),
        pa.field("labels", pa.list_(pa.int32()), nullable=False),
        pa.field("image", pa.string(), nullable=False),
        pa.field("image_sha256", pa.string(), nullable=False),
        pa.field("lang", pa.string(), nullable=False),
        pa.field("lang_confidence", pa.float32(), nullable=False),
        pa.field("owner", pa.string(), nullable=True),
        pa.field("taken_at", pa.timestamp("us", tz="UTC"), nullable=True),
        pa.field("weight", pa.float32(), nullable=False),
    ]
)


def write_split(path: Path, posts: Sequence[Post]) -> None:
    columns = {
        "shortcode": [p.shortcode for p in posts],
        "text": [p.text for p in posts],
        "hashtags": [p.hashtags for p in posts],
        "labels": [p.labels for p in posts],
        "image": [p.image for p in posts],
        "image_sha256": [p.image_sha256 for p in posts],
        "lang": [p.lang for p in posts],
        "lang_confidence": [p.lang_confidence for p in posts],
        "owner": [p.owner for p in posts],
        "taken_at": [parse_timestamp(p.taken_at) for p in posts],
        "weight": [p.weight for p in posts],
    }
    pq.write_table(pa.table(columns, schema=PARQUET_SCHEMA), path)


def parse_timestamp(value: str | None) -> dt.datetime | None:
    """ISO 8601 to an aware UTC datetime; anything unparsable becomes null, not an error."""
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def write_labels(path: Path, labels: Sequence[str]) -> None:
    atomic_write_text(path, "".join(f"{label}\n" for label in labels), FILE_MODE)


def input_fingerprint(path: Path, fmt: str) -> dict[str, Any]:
    """What the manifest records about an input: a file's sha256, or for a folder the sha256
    over its files' relative paths and contents, so any change to an input shows."""
    if path.is_file():
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        return {"path": str(path), "format": fmt, "sha256": digest, "bytes": path.stat().st_size}
    outer = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        with open(file, "rb") as handle:
            inner = hashlib.file_digest(handle, "sha256").hexdigest()
        outer.update(f"{file.relative_to(path).as_posix()}\0{inner}\n".encode())
    return {"path": str(path), "format": fmt, "sha256": outer.hexdigest(), "files": len(files)}


def write_manifest(
    path: Path,
    config: Mapping[str, Any],
    inputs: Sequence[Mapping[str, Any]],
    stats: Mapping[str, Any],
    created_at: str,
) -> None:
    atomic_write_json(
        path,
        {
            "schema_version": SCHEMA_VERSION,
            "created_at": created_at,
            "config": config,
            "inputs": list(inputs),
            "counts": {stage["stage"]: stage["posts"] for stage in stats["funnel"]},
            "splits": stats["splits"],
            "num_labels": len(stats["label_frequency"]),
        },
        FILE_MODE,
    )


def write_stats(path: Path, stats: Mapping[str, Any]) -> None:
    atomic_write_json(path, stats, FILE_MODE)
