"""The one triple format shared by every source of negatives, LLM-written and mined alike.

A row: ``query_id, query, positive_id, positive, negative, negative_id (None when generated),
method, scores {...}, provenance {model, template_hash, parameters, seed, ...}``.
Stored as JSONL (optionally gzipped) or Parquet. ``query_id/query/positive_id/positive`` alone
(a *query record*) is what query generation writes and what the miners read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from synthneg.atomic import atomic_path, write_jsonl
from synthneg.data.io import iter_jsonl, read_parquet_rows, require_str
from synthneg.errors import DataError


@dataclass(frozen=True)
class QueryRecord:
    """A (query, positive passage) pair: the input of every negative source."""

    query_id: str
    query: str
    positive_id: str
    positive: str


@dataclass(frozen=True)
class Triple:
    """A (query, positive, negative) training triple with its origin."""

    query_id: str
    query: str
    positive_id: str
    positive: str
    negative: str
    method: str
    negative_id: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The row, in field order; ``scores`` and ``provenance`` are fresh dicts whose values are shared (a row
        is serialized, not mutated: ``dataclasses.asdict``'s deep copy took 27x longer, 67 against 2.5 us a row)."""
        row = {name: getattr(self, name) for name in _FIELD_ORDER}
        row["scores"], row["provenance"] = dict(self.scores), dict(self.provenance)
        return row


_FIELD_ORDER = tuple(f.name for f in fields(Triple))

TRIPLE_FIELDS = (
    "query_id",
    "query",
    "positive_id",
    "positive",
    "negative",
    "negative_id",
    "method",
    "scores",
    "provenance",
)


def read_query_records(path: str | Path) -> list[QueryRecord]:
    """Read ``query_id, query, positive_id, positive`` rows from JSONL (extra fields are ignored)."""
    path = Path(path)
    out: list[QueryRecord] = []
    for lineno, obj in iter_jsonl(path):
        out.append(
            QueryRecord(
                *(
                    require_str(obj, f, path=path, line=lineno, number_ok=f.endswith("_id"))
                    for f in ("query_id", "query", "positive_id", "positive")
                )
            )
        )
    return out


def _triple_from(obj: dict[str, Any], path: Path, line: int) -> Triple:
    if "negative" in obj and obj["negative"] is None:
        raise DataError(
            "field 'negative' is null: a query-positive pair of a mixed training file (an arm such as "
            "llm-query-verified-mixed); only its triples have negatives",
            path=path,
            line=line,
            field="negative",
        )
    strs = {
        f: require_str(obj, f, path=path, line=line, number_ok=f.endswith("_id"))
        for f in ("query_id", "query", "positive_id", "positive", "negative", "method")
    }
    neg_id = None
    if obj.get("negative_id") is not None:
        neg_id = require_str(obj, "negative_id", path=path, line=line, number_ok=True)
    for f in ("scores", "provenance"):
        if not isinstance(obj.get(f) or {}, dict):
            raise DataError(f"field '{f}' must be an object", path=path, line=line, field=f)
    return Triple(
        **strs,
        negative_id=neg_id,
        scores=dict(obj.get("scores") or {}),
        provenance=dict(obj.get("provenance") or {}),
    )


def read_triples(path: str | Path, *, skip_pairs: bool = False) -> list[Triple]:
    """Read triples from ``.jsonl[.gz]`` or ``.parquet``. A row whose ``negative`` is null (a pair of a mixed
    training file, :func:`write_training_rows`) is an error; with ``skip_pairs`` such rows are left out."""
    path = Path(path)
    if skip_pairs and path.suffix not in (".parquet", ".pq"):
        return [t for t in read_training_rows(path) if isinstance(t, Triple)]
    if path.suffix in (".parquet", ".pq"):
        rows = read_parquet_rows(path)
        for i, r in enumerate(rows, start=1):
            for f in ("scores", "provenance"):
                if isinstance(r.get(f), str):
                    try:
                        r[f] = json.loads(r[f])
                    except json.JSONDecodeError as exc:
                        raise DataError(f"invalid JSON ({exc.msg})", path=path, line=i, field=f) from None
        return [_triple_from(r, path, i) for i, r in enumerate(rows, start=1)]
    return [_triple_from(obj, path, lineno) for lineno, obj in iter_jsonl(path)]


def read_training_rows(path: str | Path) -> list[Triple | QueryRecord]:
    """Read a JSONL[.gz] file of triples in which a row whose ``negative`` is ``null`` is a query-positive pair
    (a *mixed* file: negatives for some queries, in-batch negatives only for the rest; see
    :func:`write_training_rows`). A row without the ``negative`` field is an error, as in :func:`read_triples`."""
    path = Path(path)
    out: list[Triple | QueryRecord] = []
    for lineno, obj in iter_jsonl(path):
        if "negative" in obj and obj["negative"] is None:
            out.append(
                QueryRecord(
                    *(
                        require_str(obj, f, path=path, line=lineno, number_ok=f.endswith("_id"))
                        for f in ("query_id", "query", "positive_id", "positive")
                    )
                )
            )
        else:
            out.append(_triple_from(obj, path, lineno))
    return out


def write_training_rows(rows: Iterable[Triple | QueryRecord], path: str | Path) -> Path:
    """Write triples and query-positive pairs to one JSONL file; a pair's ``negative`` is ``null``."""
    if Path(path).suffix != ".jsonl":
        raise DataError("a mixed training file is written as JSONL (.jsonl)", path=Path(path))
    return write_jsonl(
        [r.to_dict() if isinstance(r, Triple) else {**asdict(r), "negative": None} for r in rows], Path(path)
    )


def write_triples(triples: Iterable[Triple], path: str | Path) -> Path:
    """Write triples as JSONL or Parquet (by suffix); ``scores``/``provenance`` are JSON strings in Parquet."""
    path = Path(path)
    rows = [t.to_dict() for t in triples]
    if path.suffix not in (".parquet", ".pq"):
        return write_jsonl(rows, path)
    import pyarrow as pa
    import pyarrow.parquet as pq

    for r in rows:
        r["scores"] = json.dumps(r["scores"], sort_keys=True)
        r["provenance"] = json.dumps(r["provenance"], sort_keys=True)
    with atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_pylist(rows), tmp)
    return path
