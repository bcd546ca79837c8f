"""Errors that a user can fix. The CLI prints them without a traceback and exits with code 2."""

from __future__ import annotations

import errno
from pathlib import Path


class SynthnegError(Exception):
    """Base class for every error caused by input, configuration or environment."""


class DataError(SynthnegError):
    """Bad input data, located as precisely as possible: file, line and field.

    ``str(err)`` reads like ``corpus.jsonl.gz line 17: field 'text' is missing``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.line = line
        self.field = field
        self.message = message
        where = []
        if self.path is not None:
            where.append(str(self.path))
        if line is not None:
            where.append(f"line {line}")
        prefix = " ".join(where)
        text = message if field is None or f"'{field}'" in message else f"field '{field}': {message}"
        super().__init__(f"{prefix}: {text}" if prefix else text)


class ModelError(SynthnegError):
    """A model could not be found, assembled or loaded."""


#: what the operating system says when an output cannot be written: the user frees space or picks another folder
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}


def storage_error(exc: BaseException) -> str | None:
    """A one-line explanation if ``exc`` is a full disk or an unwritable place (else None).

    Covers ``OSError`` (no space, quota, file too large, read-only file system, permission denied) and SQLite's
    "database or disk is full" / "readonly database". Every store synthneg writes survives such a failure (an
    append-only call store whose torn tail is repaired on the next open; atomic replace for the other outputs), so
    the message says that a rerun resumes.
    """
    import sqlite3

    if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
        where = f"{exc.filename}: " if exc.filename else ""
        reason = exc.strerror or str(exc)
    elif isinstance(exc, sqlite3.OperationalError) and ("disk is full" in str(exc) or "readonly" in str(exc)):
        where, reason = "", f"SQLite: {exc}"
    else:
        return None
    return (
        f"{where}cannot write: {reason}. Everything finished before this point is kept; "
        "free space (or choose a writable folder) and rerun the same command to resume"
    )
