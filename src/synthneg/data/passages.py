"""Users' own passages: JSONL (optionally gzipped), CSV or Parquet, with configurable field names."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from synthneg.data.beir import Corpus, Document
from synthneg.data.io import iter_jsonl, open_binary, require_str
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


def _iter_csv(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    delimiter = "\t" if path.name.lower().removesuffix(".gz").endswith(".tsv") else ","
    with open_binary(path) as raw:
        try:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            # strict: a stray or unterminated quote is an error (not a field running to the end of the file)
            reader = csv.DictReader(text, delimiter=delimiter, strict=True)
            seen = False
            for row in reader:
                seen = True
                extra = row.pop(None, None)  # type: ignore[call-overload]
                if extra or any(v is None for v in row.values()):
                    have = sum(v is not None for v in row.values()) + len(extra or [])
                    raise DataError(
                        f"{have} fields where the header has {len(reader.fieldnames or [])}",
                        path=path,
                        line=reader.line_num,
                    )
                yield reader.line_num, row
        except UnicodeDecodeError as exc:
            raise DataError(f"not valid UTF-8: {exc.reason}", path=path) from None
        except csv.Error as exc:
            hint = " (a quote opened after this line is never closed)" if "end of data" in str(exc) else ""
            raise DataError(f"invalid CSV: {exc}{hint}", path=path, line=reader.line_num) from None
    if not seen:
        raise DataError("file is empty (no rows after the header)", path=path)


def _iter_parquet(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(f"unreadable Parquet file: {exc}", path=path) from None
    if table.num_rows == 0:
        raise DataError("file is empty (no rows)", path=path)
    yield from enumerate(table.to_pylist(), start=1)


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
