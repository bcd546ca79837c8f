"""Training rows for the fine-tuner: triples, or query-positive pairs (the *in-batch* arm), read from JSONL[.gz]
or Parquet and turned into the ``anchor, positive[, negative]`` columns that sentence-transformers expects."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthneg.data.io import iter_jsonl
from synthneg.data.triples import QueryRecord, Triple, read_query_records, read_training_rows, read_triples
from synthneg.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

#: triples, pairs, or both (a *mixed* set: negatives where a source kept one, in-batch negatives for the rest)
TrainingRows = Sequence[Triple] | Sequence[QueryRecord] | Sequence[Triple | QueryRecord]


def load_training_data(path: str | Path) -> list[Triple] | list[QueryRecord] | list[Triple | QueryRecord]:
    """Read triples, or query-positive pairs when the file has no ``negative`` field (JSONL[.gz] or Parquet); in
    a JSONL file of triples, rows whose ``negative`` is ``null`` are pairs (a mixed set)."""
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
    if "negative" not in first[1]:
        return read_query_records(path)
    return read_training_rows(path)


def to_dataset(rows: TrainingRows, *, use_negatives: bool = True) -> Dataset:
    """Rows -> a ``datasets.Dataset`` with ``anchor, positive`` and, for triples, ``negative`` columns.

    Column order matters to MultipleNegativesRankingLoss (anchor, positive, then negatives); the
    input is never modified.
    """
    if not rows:
        raise DataError("no training rows")
    n_triples = sum(isinstance(r, Triple) for r in rows)
    if 0 < n_triples < len(rows):
        raise DataError(
            f"mixed input: {n_triples} triples and {len(rows) - n_triples} query-positive pairs; "
            "pass one kind, or use to_train_dataset (a dataset per kind)"
        )
    return _columns(rows, with_negative=bool(n_triples) and use_negatives)


def to_train_dataset(rows: TrainingRows, *, use_negatives: bool = True) -> Dataset | DatasetDict:
    """Rows -> what the trainer reads: one dataset, or for a mixed set (triples and pairs) with negatives used, a
    ``DatasetDict`` of ``triples`` and ``pairs`` (sentence-transformers draws each batch from one of them, in
    proportion to their sizes, so every batch has the same columns). Without negatives a mixed set is all pairs."""
    from datasets import DatasetDict

    if not rows:
        raise DataError("no training rows")
    triples = [r for r in rows if isinstance(r, Triple)]
    if 0 < len(triples) < len(rows):
        if not use_negatives:
            return _columns(rows, with_negative=False)
        pairs = [r for r in rows if not isinstance(r, Triple)]
        return DatasetDict(
            {"triples": _columns(triples, with_negative=True), "pairs": _columns(pairs, with_negative=False)}
        )
    return to_dataset(rows, use_negatives=use_negatives)


def _columns(rows: TrainingRows, *, with_negative: bool) -> Dataset:
    from datasets import Dataset

    columns: dict[str, list[str]] = {"anchor": [r.query for r in rows], "positive": [r.positive for r in rows]}
    if with_negative:
        columns["negative"] = [r.negative for r in rows]  # type: ignore[union-attr]
    return Dataset.from_dict(columns)


def dataset_shape(dataset: Any) -> tuple[int, list[str]]:
    """Rows and columns of a training ``Dataset``, or of a ``DatasetDict`` (all rows; the union of its columns, in
    the order anchor, positive, negative)."""
    names = dataset.column_names
    if isinstance(names, dict):  # a DatasetDict: {split: [columns]}
        columns = dict.fromkeys(c for cols in names.values() for c in cols)
        return sum(len(d) for d in dataset.values()), list(columns)
    return len(dataset), list(names)


def rows_columns(dataset: Any) -> dict[str, Any]:
    """``rows`` and ``columns`` of a training dataset for its summary, and ``datasets`` (rows per part) for a
    ``DatasetDict``."""
    rows, columns = dataset_shape(dataset)
    out: dict[str, Any] = {"rows": rows, "columns": columns}
    if isinstance(dataset.column_names, dict):
        out["datasets"] = {name: len(d) for name, d in dataset.items()}
    return out


def training_dataset(
    data: TrainingRows | Dataset | DatasetDict, *, use_negatives: bool, row_ids: bool = False, world_size: int = 1
) -> Dataset | DatasetDict:
    """What the trainer reads: ``data`` itself when it is a dataset, else :func:`to_train_dataset` of the rows.
    ``row_ids`` adds each row's index (the judged-candidate masking of labeled data, which needs rows of one kind);
    a mixed set trains in one process (under DDP two ranks could draw batches of different kinds in one step, and
    the loss's gathers across ranks would not line up)."""
    from datasets import Dataset, DatasetDict

    from synthneg.errors import SynthnegError
    from synthneg.losses import ROW_COLUMN

    given = isinstance(data, (Dataset, DatasetDict))
    dataset = data if given else to_train_dataset(data, use_negatives=use_negatives)  # type: ignore[arg-type]
    if row_ids:
        if given or isinstance(dataset, DatasetDict):
            raise SynthnegError("qrels masking needs training rows of one kind (triples or pairs), not a dataset")
        dataset = dataset.add_column(ROW_COLUMN, list(range(len(dataset))))
    if isinstance(dataset, DatasetDict) and world_size > 1:
        raise SynthnegError("a mixed training set (triples and pairs) trains in one process, not under torchrun")
    return dataset


def describe_columns(dataset: Any) -> str:
    """The columns of a training dataset for the log: ``anchor, positive`` or, per part, ``triples: ...; pairs: ...``."""
    names = dataset.column_names
    if isinstance(names, dict):
        return "; ".join(f"{k}: {', '.join(v)}" for k, v in names.items())
    return ", ".join(names)
