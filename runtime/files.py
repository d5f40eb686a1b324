"""Crash-safe files: atomic replacement and append-only JSON Lines with torn-tail repair.

No stage may leave a half-written file behind, even after ``kill -9`` (docs/architecture.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | os.PathLike[str], mode: int | None = None) -> Iterator[Path]:
    """A temporary sibling of ``path`` for a writer that wants a file name (safetensors, say);
    renamed over ``path`` when the block succeeds, removed when it fails."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, mode: int | None = None) -> None:
    """Write ``data`` to a temporary sibling, fsync it, then rename it over ``path``."""
    with atomic_path(path, mode) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


@contextmanager
def staged_directory(target: str | os.PathLike[str], mode: int = 0o755) -> Iterator[Path]:
    """A temporary sibling folder to fill; it replaces ``target`` whole when the block succeeds
    and is removed when it fails, leaving the previous ``target`` as it was."""
    final = Path(target)
    stage = new_stage(final)
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    promote_stage(stage, final, mode)


def new_stage(target: Path) -> Path:
    """An empty staging folder beside ``target``, for a writer that swaps it in later with
    :func:`promote_stage` (or deletes it).

    The sibling names carry the owner's process id and host, so the folders a killed process
    left behind are recognised and removed by the next call for the same target."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_stages(target)
    return Path(tempfile.mkdtemp(prefix=_stage_prefix(target, "building"), dir=target.parent))


def missing_parents(target: Path) -> list[Path]:
    """The folders above ``target`` that do not exist yet, nearest first: what a writer that
    fails should remove again (:func:`remove_empty_folders`), so it leaves no empty ``runs/``."""
    missing = []
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    return missing


def remove_empty_folders(folders: Iterable[Path]) -> None:
    """Remove ``folders`` in order, stopping at the first that is not empty (or not there)."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def promote_stage(stage: Path, target: Path, mode: int = 0o755) -> None:
    """Put ``stage`` in place of ``target``. A folder cannot be renamed over a non-empty one, so
    an existing ``target`` is first moved aside, then deleted."""
    os.chmod(stage, mode)  # mkdtemp's 0o700 would hide the folder from other users
    if not target.exists():
        os.replace(stage, target)
        return
    retired = Path(tempfile.mkdtemp(prefix=_stage_prefix(target, "old"), dir=target.parent))
    os.replace(target, retired / target.name)
    os.replace(stage, target)
    shutil.rmtree(retired, ignore_errors=True)


def remove_abandoned_stages(target: Path) -> list[Path]:
    """Delete the staging folders of ``target`` whose owner, on this host, no longer runs.

    Folders of live processes, of other hosts (a shared file system) and of unknown owners are
    left alone: only a folder provably abandoned is deleted. A process killed between the two
    renames of the swap leaves no ``target`` at all; then the previous ``target``, still inside
    its ``old`` folder, is put back first. Returns what was removed.
    """
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(building|old)-(\d+)\+(.+)\+[^+]*$")
    abandoned = []
    for candidate in target.parent.iterdir():
        match = pattern.match(candidate.name)
        if match and match.group(3) == _host() and not _process_exists(int(match.group(2))):
            abandoned.append((match.group(1), candidate))
    for kind, folder in abandoned:
        previous = folder / target.name
        if kind == "old" and not target.exists() and previous.is_dir():
            os.replace(previous, target)
    for _, folder in abandoned:
        shutil.rmtree(folder, ignore_errors=True)
    return [folder for _, folder in abandoned]


def _stage_prefix(target: Path, kind: str) -> str:
    return f".{target.name}.{kind}-{os.getpid()}+{_host()}+"


def _host() -> str:
    """This machine's name, restricted to characters that are safe in a file name."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "localhost"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def atomic_write_text(path: str | os.PathLike[str], text: str, mode: int | None = None) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_write_json(path: str | os.PathLike[str], obj: Any, mode: int | None = None) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n", mode)


def repair_torn_tail(path: str | os.PathLike[str]) -> int:
    """Cut a last line that has no newline or is not valid JSON; return the bytes removed.

    An append interrupted by ``kill -9`` can only damage the final line, so only that line
    is inspected.
    """
    target = Path(path)
    if not target.exists():
        return 0
    size = target.stat().st_size
    if size == 0:
        return 0
    with open(target, "rb+") as handle:
        chunk = min(size, 1 << 20)
        while True:
            handle.seek(size - chunk)
            tail = handle.read(chunk)
            body = tail[:-1] if tail.endswith(b"\n") else tail
            cut = body.rfind(b"\n")
            if cut >= 0 or chunk == size:
                break
            chunk = min(size, chunk * 2)
        line_start = size - chunk + cut + 1
        last = tail[cut + 1 :]
        if last.endswith(b"\n") and _is_json(last):
            return 0
        handle.truncate(line_start)
        handle.flush()
        os.fsync(handle.fileno())
    return size - line_start


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def append_jsonl(path: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> int:
    """Append records as one write, then fsync; return how many were written. A write that
    fails (a full disk) is cut back off, so the file never ends in a torn line of ours."""
    lines = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records]
    if not lines:
        return 0
    data = "".join(lines).encode("utf-8")
    existed = os.path.exists(path)
    with open(path, "ab", buffering=0) as handle:  # unbuffered: nothing left to flush later
        start = handle.seek(0, os.SEEK_END)
        try:
            written = 0
            while written < len(data):
                written += handle.write(data[written:])
            os.fsync(handle.fileno())
        except BaseException:
            # A full disk (or a signal) mid-write: cut what got out, so the file still ends
            # at its last whole line and the same command can append again later.
            with contextlib.suppress(OSError):
                os.ftruncate(handle.fileno(), start)
                if not existed:  # nor an empty file where there was none
                    os.unlink(path)
            raise
    return len(lines)


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """Yield ``(line_number, record_or_None, error_reason)`` for every non-blank line.

    Bad lines are reported by reason (``bad_json``, ``bad_utf8``, ``not_object``) instead of
    raising, so callers can count them.
    """
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            record, reason = decode_json_object(raw)
            yield number, record, reason


def decode_json_object(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """``raw`` as a JSON object, or ``None`` and why not: ``bad_utf8``, ``bad_json``,
    ``not_object``."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "bad_utf8"
    except ValueError:
        return None, "bad_json"
    if not isinstance(obj, dict):
        return None, "not_object"
    return obj, ""
