"""Training rows for the fine-tuner: triples, or query-positive pairs (the *in-batch* arm), read from JSONL[.gz]
or Parquet and turned into the ``anchor, positive[, negative]`` columns that sentence-transformers expects."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from synthneg.data.io import iter_jsonl
from synthneg.data.triples import QueryRecord, Triple, read_query_records, read_triples
from synthneg.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset

TrainingRows = Sequence[Triple] | Sequence[QueryRecord]


def load_training_data(path: str | Path) -> list[Triple] | list[QueryRecord]:
    """Read triples, or query-positive pairs when the file has no ``negative`` field (JSONL[.gz] or Parquet)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("training file not found", path=path)
    if path.suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        names = set(pq.read_schema(path).names)
        if "negative" in names:
            return read_triples(path)
        rows = pq.read_table(path, columns=["query_id", "query", "positive_id", "positive"]).to_pylist()
        return [QueryRecord(*(str(r[f]) for f in ("query_id", "query", "positive_id", "positive"))) for r in rows]
    first = next(iter_jsonl(path), None)
    if first is None:
        raise DataError("file has no rows", path=path)
    return read_triples(path) if "negative" in first[1] else read_query_records(path)


def to_dataset(rows: TrainingRows, *, use_negatives: bool = True) -> Dataset:
    """Rows -> a ``datasets.Dataset`` with ``anchor, positive`` and, for triples, ``negative`` columns.

    Column order matters to MultipleNegativesRankingLoss (anchor, positive, then negatives); the
    input is never modified.
    """
    from datasets import Dataset

    if not rows:
        raise DataError("no training rows")
    n_triples = sum(isinstance(r, Triple) for r in rows)
    if 0 < n_triples < len(rows):
        raise DataError(
            f"mixed input: {n_triples} triples and {len(rows) - n_triples} query-positive pairs; "
            "pass one kind (or TrainConfig(use_negatives=False) with triples only)"
        )
    columns: dict[str, list[str]] = {"anchor": [r.query for r in rows], "positive": [r.positive for r in rows]}
    if n_triples and use_negatives:
        columns["negative"] = [r.negative for r in rows]  # type: ignore[union-attr]
    return Dataset.from_dict(columns)
