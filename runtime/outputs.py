"""The one check of an output path, run by every command before it starts any work.

A job that runs for minutes and then fails to create its output folder (its parent is a file,
the place is read-only) wastes the run; the check here finds that in microseconds and leaves
no trace: at most a probe file that is removed at once.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from runtime.errors import UsageError


def check_output_dir(path: str | os.PathLike[str], flag: str = "--out") -> Path:
    """``path`` as a folder this process can create or write into, else a UsageError.

    The nearest existing ancestor must be a folder we can write into.
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{flag} {target} is a file, not a directory")
    _check_creatable(target, flag)
    return target


def check_output_file(
    path: str | os.PathLike[str], flag: str = "--out", what: str = "file"
) -> Path:
    """``path`` as a file this process can create, append to or replace, else a UsageError."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{flag} {target} is a directory; give the {what} to write")
    if target.exists() and not os.access(target, os.W_OK):
        raise UsageError(f"{flag} {target}: permission denied (the file is read-only)")
    _check_creatable(target, flag)
    return target


def _check_creatable(target: Path, flag: str) -> None:
    """The nearest existing ancestor of ``target`` (or ``target`` itself when it is a folder)
    must be a folder we may write into; a file on the way is named."""
    existing = target if target.is_dir() else target.parent
    while not existing.exists():
        if existing.is_symlink():
            raise UsageError(f"{flag} {target}: {existing} is a broken symbolic link")
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{flag} {target}: {existing} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {target}: permission denied (cannot write into {existing})")
    # Permission bits are not the whole story (root passes them; a read-only mount, a pseudo
    # filesystem such as /proc or a full quota does not): a probe file says for sure.
    before = existing.stat()
    try:
        descriptor, probe = tempfile.mkstemp(prefix=".write-check-", dir=existing)
    except OSError as exc:
        raise UsageError(
            f"{flag} {target}: cannot write into {existing} ({exc.strerror})"
        ) from None
    os.close(descriptor)
    os.unlink(probe)
    os.utime(existing, ns=(before.st_atime_ns, before.st_mtime_ns))  # no trace, not even a time
