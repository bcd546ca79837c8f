"""Users' own passages: JSONL (optionally gzipped), CSV or Parquet, with configurable field names."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

from synthneg.data.beir import Corpus, Document
from synthneg.data.io import GZIP_ERRORS, iter_jsonl, open_binary, read_parquet_rows, require_str
from synthneg.errors import DataError

PassageFormat = Literal["auto", "jsonl", "csv", "parquet"]

ID_FIELDS = ("_id", "id", "doc_id", "docid", "pid")
TEXT_FIELDS = ("text", "abstract", "passage", "contents", "body", "content")
TITLE_FIELDS = ("title",)


def _detect_format(path: Path) -> Literal["jsonl", "csv", "parquet"]:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise DataError("unknown passage file type; use .jsonl[.gz], .csv[.gz] or .parquet, or pass format=", path=path)


def _decoded_lines(raw: IO[bytes], path: Path) -> Iterator[str]:
    """Physical lines decoded one by one, so that a byte that is not UTF-8 is reported with its own line."""
    for lineno, line in enumerate(raw, start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(
                f"not valid UTF-8 (byte {exc.start}: {line[exc.start : exc.start + 4]!r})", path=path, line=lineno
            ) from None
        yield text.removeprefix("\ufeff") if lineno == 1 else text


def _iter_csv(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    delimiter = "\t" if path.name.lower().removesuffix(".gz").endswith(".tsv") else ","
    with open_binary(path) as raw:
        # strict: a stray or unterminated quote is an error (not a field running to the end of the file)
        reader = csv.DictReader(_decoded_lines(raw, path), delimiter=delimiter, strict=True)
        seen = False
        start = 1  # the line where the record being read begins
        try:
            reader.fieldnames  # noqa: B018 - reads the header, so that ``start`` is the first record's line
            start = reader.line_num + 1
            for row in reader:
                seen = True
                start = reader.line_num + 1
                extra = row.pop(None, None)  # type: ignore[call-overload]
                if extra or any(v is None for v in row.values()):
                    have = sum(v is not None for v in row.values()) + len(extra or [])
                    raise DataError(
                        f"{have} fields where the header has {len(reader.fieldnames or [])}",
                        path=path,
                        line=reader.line_num,
                    )
                yield reader.line_num, row
        except GZIP_ERRORS as exc:
            raise DataError(f"unreadable gzip data after line {reader.line_num}: {exc}", path=path) from None
        except csv.Error as exc:
            if "end of data" in str(exc):
                raise DataError(
                    f"invalid CSV: a quote opened in the record that starts on this line is never closed ({exc})",
                    path=path,
                    line=start,
                ) from None
            raise DataError(f"invalid CSV: {exc}", path=path, line=reader.line_num) from None
    if not seen:
        raise DataError("file is empty (no rows after the header)", path=path)


def _iter_parquet(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    yield from enumerate(read_parquet_rows(path), start=1)


def _pick(fields: set[str], wanted: str | None, candidates: tuple[str, ...], role: str, path: Path) -> str | None:
    if wanted is not None:
        if wanted not in fields:
            raise DataError(
                f"{role} field {wanted!r} not found; the first record has fields {sorted(fields)}",
                path=path,
                field=wanted,
            )
        return wanted
    for c in candidates:
        if c in fields:
            return c
    return None


def read_passages(
    path: str | Path,
    *,
    format: PassageFormat = "auto",
    id_field: str | None = None,
    text_field: str | None = None,
    title_field: str | None = None,
    limit: int | None = None,
) -> Corpus:
    """Read passages from a JSONL, CSV or Parquet file into a :class:`Corpus`.

    Field names default to the first present of ``_id/id/doc_id/docid/pid`` (id),
    ``text/abstract/passage/contents/body/content`` (text) and ``title``. Without an id column,
    ids are the 1-based row numbers. ``limit`` keeps the first N passages.
    """
    path = Path(path)
    fmt = _detect_format(path) if format == "auto" else format
    rows = {"jsonl": iter_jsonl, "csv": _iter_csv, "parquet": _iter_parquet}[fmt](path)
    docs: list[Document] = []
    first_line: dict[str, int] = {}
    fid = ftext = ftitle = None
    for n, (lineno, row) in enumerate(rows):
        if n == 0:
            keys = set(row)
            fid = _pick(keys, id_field, ID_FIELDS, "id", path)
            ftext = _pick(keys, text_field, TEXT_FIELDS, "text", path)
            ftitle = _pick(keys, title_field, TITLE_FIELDS, "title", path)
            if ftext is None:
                raise DataError(
                    f"no text field found (tried {', '.join(TEXT_FIELDS)}); the first record has fields "
                    f"{sorted(keys)}: pass text_field=",
                    path=path,
                    line=lineno,
                )
        assert ftext is not None  # set on the first row
        doc_id = require_str(row, fid, path=path, line=lineno, number_ok=True) if fid else str(n + 1)
        text = require_str(row, ftext, path=path, line=lineno)
        title = ""
        if ftitle and row.get(ftitle) is not None:
            title = require_str(row, ftitle, path=path, line=lineno, allow_empty=True)
        if doc_id in first_line:
            raise DataError(
                f"duplicate id {doc_id!r} (first seen on line {first_line[doc_id]})",
                path=path,
                line=lineno,
                field=fid,
            )
        first_line[doc_id] = lineno
        docs.append(Document(doc_id, " ".join(title.split()), " ".join(text.split())))
        if limit is not None and len(docs) >= limit:
            break
    return Corpus.from_documents(docs, source=path)
