"""Line-oriented readers that locate every error: file, line and field."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from synthneg.errors import DataError

_GZIP_MAGIC = b"\x1f\x8b"
#: what a damaged or truncated gzip stream raises while it is read
GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


def open_binary(path: Path) -> IO[bytes]:
    """Open ``path`` for reading bytes, transparently un-gzipping (detected by magic bytes)."""
    if not path.exists():
        raise DataError("file not found", path=path)
    if path.is_dir():
        raise DataError("is a directory, expected a file", path=path)
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rb")
    if path.suffix == ".gz":
        raise DataError("not a gzip file (the name ends in .gz but the bytes are not gzip)", path=path)
    return path.open("rb")


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for non-blank lines, decoding UTF-8 strictly per line."""
    lineno = 0
    try:
        with open_binary(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise DataError(
                        f"not valid UTF-8 (byte {exc.start}: {raw[exc.start : exc.start + 4]!r})",
                        path=path,
                        line=lineno,
                    ) from None
                if lineno == 1:
                    text = text.removeprefix("\ufeff")
                if text.strip():
                    yield lineno, text.rstrip("\r\n")
    except GZIP_ERRORS as exc:
        raise DataError(f"unreadable gzip data after line {lineno}: {exc}", path=path) from None


def read_text_strict(path: Path) -> str:
    """The whole file as UTF-8 text; a byte that is not UTF-8 is an error naming its line."""
    with open_binary(path) as fh:
        try:
            data = fh.read()
        except GZIP_ERRORS as exc:
            raise DataError(f"unreadable gzip data: {exc}", path=path) from None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"not valid UTF-8 (byte {exc.start}: {data[exc.start : exc.start + 4]!r})", path=path, line=line
        ) from None


def read_parquet_rows(path: Path) -> list[dict[str, Any]]:
    """Every row of a Parquet file as a dict; a file pyarrow cannot read, or one without rows, is a DataError."""
    import pyarrow.parquet as pq

    if not path.is_file():
        raise DataError("file not found", path=path)
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError and others for damaged files
        raise DataError(f"unreadable Parquet file: {exc}", path=path) from None
    if table.num_rows == 0:
        raise DataError("file is empty (no rows)", path=path)
    return table.to_pylist()


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for every JSON object line of a ``.jsonl`` or ``.jsonl.gz`` file.

    Raises :class:`DataError` naming the line for invalid JSON or a line that is not an object,
    and for an empty file.
    """
    path = Path(path)
    seen = False
    for lineno, text in iter_lines(path):
        seen = True
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON ({exc.msg} at column {exc.colno})", path=path, line=lineno) from None
        if not isinstance(obj, dict):
            raise DataError(f"expected a JSON object, got {type(obj).__name__}", path=path, line=lineno)
        yield lineno, obj
    if not seen:
        raise DataError("file is empty", path=path)


def require_str(
    obj: dict[str, Any], field: str, *, path: Path, line: int, allow_empty: bool = False, number_ok: bool = False
) -> str:
    """Return ``obj[field]`` as a string, or raise a located :class:`DataError`.

    A number is refused (a text field that holds ``42`` is a broken row, not a passage), except where
    ``number_ok`` (ids: ``{"_id": 42}`` is common and unambiguous), where an integer becomes its string.
    """
    if field not in obj or obj[field] is None:
        raise DataError(f"field '{field}' is missing", path=path, line=line, field=field)
    value = obj[field]
    if number_ok and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise DataError(
            f"field '{field}' must be a string, got {type(value).__name__}", path=path, line=line, field=field
        )
    if not allow_empty and not value.strip():
        raise DataError(f"field '{field}' is empty", path=path, line=line, field=field)
    return value
