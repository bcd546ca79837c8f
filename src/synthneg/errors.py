"""Errors that a user can fix. The CLI prints them without a traceback and exits with code 2."""

from __future__ import annotations

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
