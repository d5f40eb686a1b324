"""``hashtag-build-dataset export``: the dataset directory in the formats other tools read.

- ``webdataset``: per split, tar shards ``{split}-000000.tar``, ... of ``shard_size`` samples
  each (the last one fewer), as img2dataset writes them: ``{key}.jpg`` (the cached JPEG),
  ``{key}.txt`` (the model text) and ``{key}.json`` (caption, label names and ids, hashtags
  and the other columns), the key being the post's shortcode. ``labels.txt`` and
  ``export.json`` (shards and sample counts per split) lie beside the shards.
- ``hf``: a ``datasets.DatasetDict`` written with ``save_to_disk``, read back with
  ``datasets.load_from_disk``; its splits keep the dataset's names (``train``, ``val``,
  ``test``: one name per split everywhere, docs/architecture.md "Names").

Everything is written into a temporary sibling of ``out`` that replaces it only when complete.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from preprocess.splits import SPLITS
from preprocess.writer import FILE_MODE, SCHEMA_VERSION
from runtime.errors import UsageError
from runtime.files import atomic_write_json, staged_directory
from runtime.label_file import read_labels, write_labels
from runtime.outputs import check_output_dir
from runtime.progress import progress_bar

EXPORT_MARKER = "export.json"
READ_BATCH = 256


def export_dataset(
    dataset_dir: Path, out: Path, fmt: str, shard_size: int, progress: bool = True
) -> dict[str, int]:
    """Write the dataset at ``dataset_dir`` to ``out`` in ``fmt``; return samples per split.

    ``fmt`` and ``shard_size`` come validated (preprocess.settings.ExportSettings)."""
    check_export(dataset_dir, out)
    labels = read_labels(dataset_dir, "dataset")
    with staged_directory(out) as stage:
        if fmt == "webdataset":
            splits = _write_webdataset(dataset_dir, stage, labels, shard_size, progress)
        else:
            splits = _write_hf(dataset_dir, stage, progress)
        record = {"format": fmt, "source": dataset_dir.resolve().name, "splits": splits}
        atomic_write_json(stage / EXPORT_MARKER, record, FILE_MODE)
    return {name: split["samples"] for name, split in splits.items()}


def check_export(dataset_dir: Path, out: Path) -> None:
    """Refuse, before anything is written, what could only fail or destroy something."""
    if not dataset_dir.is_dir():
        raise UsageError(f"dataset directory {dataset_dir} does not exist")
    manifest = dataset_dir / "manifest.json"
    try:
        version = json.loads(manifest.read_text("utf-8")).get("schema_version")
    except (OSError, ValueError, AttributeError):
        raise UsageError(
            f"{dataset_dir} is not a dataset directory (no readable manifest.json)"
        ) from None
    if version != SCHEMA_VERSION:
        raise UsageError(
            f"{dataset_dir} has schema version {version}, this tool exports version "
            f"{SCHEMA_VERSION}: rebuild it with hashtag-build-dataset build"
        )
    missing = [name for name in _split_files(dataset_dir) if not name.is_file()]
    if missing or not (dataset_dir / "labels.txt").is_file():
        absent = ", ".join(p.name for p in missing) or "labels.txt"
        raise UsageError(f"{dataset_dir} is incomplete: {absent} missing")
    for path in _split_files(dataset_dir):
        try:
            pq.read_metadata(path)  # the footer only: cheap, and what every reader needs first
        except (pa.ArrowException, OSError) as exc:
            raise UsageError(
                f"{path} is damaged ({exc}); rebuild it with hashtag-build-dataset build"
            ) from None
    _check_out(out, dataset_dir)


def _check_out(out: Path, dataset_dir: Path) -> None:
    """``out`` must be new, an empty folder or an earlier export: the final swap deletes it."""
    check_output_dir(out)
    if out.resolve().is_relative_to(dataset_dir.resolve()):
        raise UsageError(f"--out {out} lies inside the dataset directory {dataset_dir}")
    if out.is_dir() and any(out.iterdir()) and not (out / EXPORT_MARKER).is_file():
        raise UsageError(f"refusing to replace {out}: not an earlier export (no {EXPORT_MARKER})")


def _split_files(dataset_dir: Path) -> list[Path]:
    return [dataset_dir / f"{split}.parquet" for split in SPLITS]


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    """A split's rows a batch at a time: the images inside make a whole split large."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=READ_BATCH):
        yield from batch.to_pylist()


def _write_webdataset(
    dataset_dir: Path, stage: Path, labels: Sequence[str], shard_size: int, progress: bool
) -> dict[str, dict[str, Any]]:
    import webdataset

    write_labels(stage, labels)
    splits = {}
    for split, path in zip(SPLITS, _split_files(dataset_dir), strict=True):
        count = pq.ParquetFile(path).metadata.num_rows
        if count:
            pattern = str(stage / f"{split}-%06d.tar")
            # maxsize: shards are cut by sample count only, never by bytes
            with webdataset.ShardWriter(
                pattern, maxcount=shard_size, maxsize=math.inf, verbose=0
            ) as sink:
                rows = progress_bar(_rows(path), total=count, desc=split, disable=not progress)
                for row in rows:
                    sink.write(webdataset_sample(row, labels))
        shards = sorted(p.name for p in stage.glob(f"{split}-*.tar"))
        splits[split] = {"samples": count, "shards": shards}
    return splits


def webdataset_sample(row: dict[str, Any], labels: Sequence[str]) -> dict[str, Any]:
    """One Parquet row as a webdataset sample: jpg (unless text-only), txt and json under the
    shortcode."""
    taken_at = row["taken_at"]
    meta = {
        "key": row["shortcode"],
        "caption": row["text"],
        "labels": [labels[i] for i in row["labels"]],
        "label_ids": row["labels"],
        "hashtags": row["hashtags"],
        "owner": row["owner"],
        "taken_at": taken_at.isoformat() if taken_at else None,
        "lang": row["lang"],
        "lang_confidence": row["lang_confidence"],
        "weight": row["weight"],
        "image_sha256": row["image_sha256"],
    }
    sample = {
        "__key__": row["shortcode"],
        "txt": row["text"],
        "json": json.dumps(meta, ensure_ascii=False).encode("utf-8"),
    }
    if row["image"] is not None:  # a text-only dataset's samples are txt and json alone
        sample["jpg"] = row["image"]["bytes"]
    return sample


def _write_hf(dataset_dir: Path, stage: Path, progress: bool) -> dict[str, dict[str, Any]]:
    """Read the Parquet files exactly as a user's ``load_dataset`` would (the features come
    from their metadata) and save the result; ``datasets``' cache lives inside the stage.

    A split without rows is left out: ``datasets`` refuses to generate an empty split."""
    import datasets

    if not progress:
        datasets.disable_progress_bars()
    cache = stage / ".cache"
    files = {
        split: str(path)
        for split, path in zip(SPLITS, _split_files(dataset_dir), strict=True)
        if pq.ParquetFile(path).metadata.num_rows
    }
    dataset = datasets.load_dataset("parquet", data_files=files, cache_dir=str(cache))
    dataset.save_to_disk(str(stage))
    shutil.rmtree(cache)
    return {name: {"samples": dataset[name].num_rows if name in dataset else 0} for name in SPLITS}
