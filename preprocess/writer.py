"""The files of the dataset directory (docs/architecture.md, Contract 2), written by a build.

The Parquet schema is fixed here, column by column, so readers downstream (training, tests,
Hugging Face ``datasets``) can rely on names and types instead of whatever pandas would infer.
It carries the ``datasets`` features in the schema metadata under the ``huggingface`` key, as
``datasets`` itself writes them: ``load_dataset("parquet", data_dir=DIR)`` then gives label
names (``Sequence(ClassLabel)``) and a decoded ``Image`` with no code of ours. The ``image``
column is ``datasets``' Image struct with the JPEG bytes embedded, because ``datasets`` opens a
path-only image relative to the working directory, not to the Parquet file: with the bytes
inside, a split file works wherever it is copied. ``path`` stays the image's path relative to
the dataset directory (``images/<sha[:2]>/<sha>.jpg``), which our own readers use. A text-only
dataset has the same columns with ``image`` and ``image_sha256`` null (``datasets`` gives None),
so every reader handles both kinds; ``manifest.json`` says which one it is (``text_only``).

Nothing written here records an absolute path: a dataset folder can be moved or copied.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from preprocess.readers import Post
from preprocess.settings import DatasetSettings
from runtime.files import atomic_write_json

SCHEMA_VERSION = 2
"""2: ``image`` is the Image struct {bytes, path} and ``labels`` int64 with Hugging Face
features metadata (1: ``image`` was the relative path, ``labels`` int32, no metadata)."""
FILE_MODE = 0o644
"""Every file of a dataset is readable by all, like the folder (0o755): the atomic writers'
temporary files start private (0o600), which would hide a shared dataset from its readers."""
ROWS_PER_GROUP = 1000
"""Parquet row group size: with the images inside, 1000 rows are some 20-40 MB, so a split is
written (and read by ``datasets``) a group at a time rather than whole in memory."""

IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
"""The storage of ``datasets.Image``."""

# Every field nullable, as ``datasets`` declares them: it trusts the metadata's features only
# where its own schema for them equals the file's field, nullability included.
PARQUET_SCHEMA = pa.schema(
    [
        pa.field("shortcode", pa.string()),
        pa.field("text", pa.string()),
        pa.field("hashtags", pa.list_(pa.string())),
        pa.field("labels", pa.list_(pa.int64())),
        pa.field("image", IMAGE_TYPE),
        pa.field("image_sha256", pa.string()),
        pa.field("lang", pa.string()),
        pa.field("lang_confidence", pa.float32()),
        pa.field("owner", pa.string()),
        pa.field("taken_at", pa.timestamp("us", tz="UTC")),
        pa.field("weight", pa.float32()),
    ]
)


def huggingface_features(labels: Sequence[str]) -> dict[str, Any]:
    """``datasets.Features.to_dict()`` of :data:`PARQUET_SCHEMA` with ``labels`` named.

    Lists are spelt ``Sequence``, which every ``datasets`` release reads (``List`` only 4.0 on).
    """

    def value(dtype: str) -> dict[str, str]:
        return {"dtype": dtype, "_type": "Value"}

    def sequence(feature: dict[str, Any]) -> dict[str, Any]:
        return {"feature": feature, "_type": "Sequence"}

    return {
        "shortcode": value("string"),
        "text": value("string"),
        "hashtags": sequence(value("string")),
        "labels": sequence({"names": list(labels), "_type": "ClassLabel"}),
        "image": {"_type": "Image"},
        "image_sha256": value("string"),
        "lang": value("string"),
        "lang_confidence": value("float32"),
        "owner": value("string"),
        "taken_at": value("timestamp[us, tz=UTC]"),
        "weight": value("float32"),
    }


def parquet_schema(labels: Sequence[str]) -> pa.Schema:
    """:data:`PARQUET_SCHEMA` with the ``huggingface`` metadata for these labels."""
    metadata = {"info": {"features": huggingface_features(labels)}}
    return PARQUET_SCHEMA.with_metadata({"huggingface": json.dumps(metadata)})


def write_split(path: Path, posts: Sequence[Post], labels: Sequence[str]) -> None:
    """One split; each post's image is read from ``post.image`` under ``path``'s folder.

    An empty split is a file with the schema and no row group: ``datasets`` fails on a row
    group of zero rows (it becomes its batch size)."""
    schema = parquet_schema(labels)
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, len(posts), ROWS_PER_GROUP):
            chunk = posts[start : start + ROWS_PER_GROUP]
            writer.write_table(pa.table(_columns(chunk, path.parent), schema=schema))


def _columns(posts: Sequence[Post], root: Path) -> dict[str, list[Any]]:
    return {
        "shortcode": [p.shortcode for p in posts],
        "text": [p.text for p in posts],
        "hashtags": [p.hashtags for p in posts],
        "labels": [p.labels for p in posts],
        "image": [_image(p.image, root) for p in posts],
        "image_sha256": [p.image_sha256 or None for p in posts],
        "lang": [p.lang for p in posts],
        "lang_confidence": [p.lang_confidence for p in posts],
        "owner": [p.owner for p in posts],
        "taken_at": [parse_timestamp(p.taken_at) for p in posts],
        "weight": [p.weight for p in posts],
    }


def _image(path: str, root: Path) -> dict[str, Any] | None:
    """The Image struct of a post's JPEG; null for a post of a text-only dataset."""
    if not path:
        return None
    return {"bytes": (root / path).read_bytes(), "path": path}


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


def input_fingerprint(path: Path, fmt: str) -> dict[str, Any]:
    """What the manifest records about an input: its name (no path: the dataset may move, and
    where the input lay on the build machine means nothing elsewhere) and a file's sha256, or for
    a folder the sha256 over its files' relative paths and contents, so any change shows."""
    if path.is_file():
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        return {"name": path.name, "format": fmt, "sha256": digest, "bytes": path.stat().st_size}
    outer = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        with open(file, "rb") as handle:
            inner = hashlib.file_digest(handle, "sha256").hexdigest()
        outer.update(f"{file.relative_to(path).as_posix()}\0{inner}\n".encode())
    return {"name": path.name, "format": fmt, "sha256": outer.hexdigest(), "files": len(files)}


def write_manifest(
    path: Path,
    settings: DatasetSettings,
    inputs: Sequence[Mapping[str, Any]],
    stats: Mapping[str, Any],
    created_at: str,
) -> None:
    atomic_write_json(
        path,
        {
            "schema_version": SCHEMA_VERSION,
            "created_at": created_at,
            "config": portable_config(settings),
            "inputs": list(inputs),
            "counts": {stage["stage"]: stage["posts"] for stage in stats["funnel"]},
            "splits": stats["splits"],
            "num_labels": len(stats["label_frequency"]),
            "text_only": stats["text_only"],
        },
        FILE_MODE,
    )


def write_stats(path: Path, stats: Mapping[str, Any]) -> None:
    atomic_write_json(path, stats, FILE_MODE)


def portable_config(settings: DatasetSettings) -> dict[str, Any]:
    """The build settings as the manifest records them: every path reduced to its last part.

    Input paths, ``out``, the image cache and the stoplist name places on the build machine;
    the inputs' sha256 (``inputs``) identifies them wherever they are now.
    """

    def name(path: str | None) -> str | None:
        return None if path is None else Path(path).name

    labels = settings.labels.model_copy(update={"stoplist": name(settings.labels.stoplist)})
    portable = {
        "inputs": [name(path) for path in settings.inputs],
        "out": name(settings.out),
        "image_cache": name(settings.image_cache),
        "labels": labels,
    }
    return settings.model_copy(update=portable).model_dump()
