"""A write that fails because the disk is full or the place became read-only: one line, exit 1.

The output place is checked before any work starts (:mod:`runtime.outputs`), but a disk can
fill up, and a mount can turn read-only, hours into a run. Then the error comes from wherever
the write happened: an ``OSError`` with ``errno`` 28 from ``open``/``write``, or a library's own
exception that only quotes the system's words (safetensors' ``SafetensorError``, Arrow's
``ArrowIOError``). :func:`write_fault` recognises both and names the place and what to do;
:func:`runtime.errors.run_main` applies it to whatever reaches it, and a command that knows the
folder it writes into wraps the writing in :func:`writing_into` so the line names that folder.

Nothing half-written stays behind because every writer is atomic (``runtime.files``: temporary
siblings, staging folders, appends cut back on failure); this module only words the failure.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runtime.errors import PipelineError

# errno -> what happened. Only the first two kinds are certain to be a write's fault wherever
# they arise; a permission error may just as well come from reading an input, so it counts only
# inside writing_into().
_FULL = {errno.ENOSPC, errno.EDQUOT}
_READ_ONLY = {errno.EROFS}
_DENIED = {errno.EACCES, errno.EPERM}
_WRITE_ERRNOS = _FULL | _READ_ONLY | _DENIED
# The system's wording, as libraries that do not raise OSError quote it (strerror of each errno).
# Not "Permission denied": in a library's message it may be about anything (a browser, a socket).
_QUOTED = {os.strerror(code): code for code in (*_FULL, *_READ_ONLY)}


class WriteFault(PipelineError):
    """The disk filled up, or the output place stopped accepting writes, during the run."""


def fault_errno(exc: BaseException) -> int | None:
    """The errno of a full or unwritable disk behind ``exc`` (or an exception it was raised
    from), else ``None``. Libraries that wrap the OSError are recognised by its wording."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            if current.errno in _WRITE_ERRNOS:
                return current.errno
        else:
            text = str(current)
            for words, code in _QUOTED.items():
                if words in text:
                    return code
        current = _reason(current)
    return None


def _reason(exc: BaseException) -> BaseException | None:
    """The exception ``exc`` was raised from or while handling (``from None`` hides it)."""
    return exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)


def write_fault(
    exc: BaseException, where: str | os.PathLike[str] | None = None
) -> WriteFault | None:
    """The one-line error for ``exc`` if a full or unwritable disk caused it, else ``None``.

    ``where`` is the output place the command writes into (its line names it); without it, a
    permission error is not taken for a write fault, and the place is the file the OSError
    names, if any.
    """
    code = fault_errno(exc)
    named = _named_file(exc)
    if code is None or (code in _DENIED and not _inside(named, where)):
        return None  # a permission error elsewhere is an input's, not the output's
    place = Path(where) if where is not None else named
    shown = str(place) if place is not None else "the output place"
    if code in _FULL:
        return WriteFault(
            f"the disk at {shown} is full ({os.strerror(code)}): nothing half-written was kept; "
            "free some space and run the same command again"
        )
    return WriteFault(
        f"{shown} became unwritable during the run ({os.strerror(code)}): nothing half-written "
        "was kept; make it writable and run the same command again"
    )


@contextmanager
def writing_into(where: str | os.PathLike[str]) -> Iterator[None]:
    """Report a full or unwritable disk met inside the block as a :class:`WriteFault` that names
    ``where`` (the command's output folder or file)."""
    try:
        yield
    except PipelineError:  # already one line that says what happened
        raise
    except Exception as exc:
        fault = write_fault(exc, where)
        if fault is None:
            raise
        raise fault from exc


def _inside(named: Path | None, where: str | os.PathLike[str] | None) -> bool:
    """Whether a permission error on ``named`` (``None``: a library did not say) is one on the
    output place ``where``: in it, or ``where`` itself."""
    if where is None:
        return False
    if named is None:
        return True
    place = Path(os.path.abspath(where))
    file = Path(os.path.abspath(named))
    return file == place or place in file.parents or file in place.parents


def _named_file(exc: BaseException) -> Path | None:
    """The file the OSError behind ``exc`` names, if any."""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, OSError) and current.filename:
            return Path(os.fsdecode(current.filename))
        current = _reason(current)
    return None
