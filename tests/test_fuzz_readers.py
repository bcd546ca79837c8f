"""Property tests for every reader of user files: any bytes give parsed records or a DataError, never another exception.

Two kinds of input per reader: arbitrary bytes (optionally gzipped, with a BOM or CRLF), and near-valid files built from
the reader's own field names with values of any JSON type, so that hypothesis reaches the per-field checks and not only
the JSON parser. Parsed results are checked for what the readers promise (string ids and texts, no empty passage).
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthneg.data.beir import load_corpus, load_qrels, load_queries
from synthneg.data.passages import read_passages
from synthneg.data.triples import read_query_records, read_triples
from synthneg.errors import DataError
from synthneg.evaluate.runs import read_trec_run
from synthneg.experiment.config import load_config

# CI runs the same examples every time (a red CI must be reproducible); a local run explores new ones
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=os.environ.get("CI") == "true",
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _records(fields: list[str]) -> st.SearchStrategy[list[dict[str, Any]]]:
    keys = st.sampled_from(fields) | st.text(max_size=6)
    return st.lists(st.dictionaries(keys, json_values, max_size=len(fields) + 1), max_size=5)


def _jsonl_bytes(fields: list[str]) -> st.SearchStrategy[bytes]:
    """JSON lines built from the reader's field names, with an occasional non-object or broken line."""
    line = _records(fields).map(lambda rows: [json.dumps(r) for r in rows])
    junk = st.sampled_from(["", "[1, 2]", '"text"', "{", "null", '{"_id": "a", "text": "x"} trailing'])
    return st.tuples(line, st.lists(junk, max_size=1), st.randoms(use_true_random=False)).map(_shuffle_join)


def _shuffle_join(parts: tuple[list[str], list[str], Any]) -> bytes:
    lines = parts[0] + parts[1]
    parts[2].shuffle(lines)
    return "\n".join(lines).encode("utf-8")


def _table_bytes(cells: st.SearchStrategy[str], sep: str, width: int) -> st.SearchStrategy[bytes]:
    row = st.lists(cells, min_size=max(0, width - 2), max_size=width + 1).map(sep.join)
    return st.lists(row, max_size=6).map(lambda rows: "\n".join(rows).encode("utf-8"))


def _wrapped(content: st.SearchStrategy[bytes]) -> st.SearchStrategy[tuple[bytes, str]]:
    """The content as is, with a UTF-8 BOM, with CRLF line ends, or gzipped; paired with how it was wrapped."""

    def wrap(args: tuple[bytes, str]) -> tuple[bytes, str]:
        data, how = args
        if how == "bom":
            return b"\xef\xbb\xbf" + data, how
        if how == "crlf":
            return data.replace(b"\n", b"\r\n"), how
        if how == "gzip":
            return gzip.compress(data, mtime=0), how
        if how == "truncated-gzip":
            return gzip.compress(data, mtime=0)[: max(2, len(data) // 2)], how
        return data, how

    return st.tuples(content, st.sampled_from(["plain", "bom", "crlf", "gzip", "truncated-gzip"])).map(wrap)


def _any_bytes(structured: st.SearchStrategy[bytes]) -> st.SearchStrategy[tuple[bytes, str]]:
    return _wrapped(st.binary(max_size=300) | structured | st.text(max_size=200).map(lambda t: t.encode("utf-8")))


def _check(reader: Callable[[Path], Any], name: str, data: bytes, how: str) -> Any:
    """Run ``reader`` on ``data`` written as ``name`` (``.gz`` added when gzipped); only DataError may escape."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (name + (".gz" if "gzip" in how else ""))
        path.write_bytes(data)
        try:
            return reader(path)
        except DataError as exc:
            assert str(path) in str(exc) or path.name in str(exc), f"error does not name the file: {exc}"
            return None


def _texts_are_clean_strings(corpus: Any) -> None:
    for doc in corpus.documents:
        assert isinstance(doc.id, str) and isinstance(doc.text, str) and isinstance(doc.title, str)
        assert (doc.text + doc.title).strip(), "a document without title and text was accepted"


@SETTINGS
@given(_any_bytes(_jsonl_bytes(["_id", "text", "title"])))
def test_beir_corpus_reader(case: tuple[bytes, str]) -> None:
    corpus = _check(load_corpus, "corpus.jsonl", *case)
    if corpus is not None:
        _texts_are_clean_strings(corpus)
        assert len(set(corpus.ids)) == len(corpus.ids)


@SETTINGS
@given(_any_bytes(_jsonl_bytes(["_id", "text"])))
def test_beir_queries_reader(case: tuple[bytes, str]) -> None:
    queries = _check(load_queries, "queries.jsonl", *case)
    if queries is not None:
        assert all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in queries.items())


@SETTINGS
@given(_any_bytes(_table_bytes(st.sampled_from(["q1", "d1", "1", "0", "-1", "x", " ", "2.5", "query-id"]), "\t", 3)))
def test_beir_qrels_reader(case: tuple[bytes, str]) -> None:
    qrels = _check(load_qrels, "test.tsv", *case)
    if qrels is not None:
        assert all(isinstance(g, int) for rels in qrels.values() for g in rels.values())


@SETTINGS
@given(_any_bytes(_jsonl_bytes(["id", "text", "title", "abstract"])))
def test_passages_jsonl_reader(case: tuple[bytes, str]) -> None:
    corpus = _check(read_passages, "passages.jsonl", *case)
    if corpus is not None:
        _texts_are_clean_strings(corpus)


@SETTINGS
@pytest.mark.parametrize(("name", "sep"), [("passages.csv", ","), ("passages.tsv", "\t")])
@given(
    case=_any_bytes(_table_bytes(st.sampled_from(["id", "text", "title", "1", "a passage", '"', '"q"', ""]), ",", 3))
)
def test_passages_csv_reader(name: str, sep: str, case: tuple[bytes, str]) -> None:
    data, how = case
    corpus = _check(read_passages, name, data.replace(b",", sep.encode()), how)
    if corpus is not None:
        _texts_are_clean_strings(corpus)


@SETTINGS
@given(st.binary(max_size=300))
def test_passages_parquet_reader_on_garbage(data: bytes) -> None:
    assert _check(read_passages, "passages.parquet", data, "plain") is None


@SETTINGS
@given(_records(["id", "text", "title"]).filter(bool))
def test_passages_parquet_reader_on_any_columns(rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # parquet needs one type per column: keep each column's values of its first value's type (or null)
    columns = {k for r in rows for k in r}
    table: dict[str, list[Any]] = {}
    for col in columns:
        first = next((r[col] for r in rows if r.get(col) is not None), None)
        table[col] = [r.get(col) if type(r.get(col)) is type(first) else None for r in rows]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "passages.parquet"
        try:
            pq.write_table(pa.table(table), path)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError, OverflowError):
            return  # not representable as parquet: nothing to read
        data = path.read_bytes()
    corpus = _check(read_passages, "passages.parquet", data, "plain")
    if corpus is not None:
        _texts_are_clean_strings(corpus)


@SETTINGS
@given(_any_bytes(_jsonl_bytes(["query_id", "query", "positive_id", "positive"])))
def test_query_records_reader(case: tuple[bytes, str]) -> None:
    records = _check(read_query_records, "queries.jsonl", *case)
    if records is not None:
        assert all(isinstance(v, str) for r in records for v in (r.query_id, r.query, r.positive_id, r.positive))


TRIPLE_FIELDS = ["query_id", "query", "positive_id", "positive", "negative", "negative_id", "method", "scores"]


@SETTINGS
@given(_any_bytes(_jsonl_bytes(TRIPLE_FIELDS)))
def test_triples_reader(case: tuple[bytes, str]) -> None:
    triples = _check(read_triples, "triples.jsonl", *case)
    if triples is not None:
        for t in triples:
            assert isinstance(t.negative, str) and isinstance(t.scores, dict)
            assert t.negative_id is None or isinstance(t.negative_id, str)


@SETTINGS
@given(st.binary(max_size=300))
def test_triples_parquet_reader_on_garbage(data: bytes) -> None:
    assert _check(read_triples, "triples.parquet", data, "plain") is None


@SETTINGS
@given(_any_bytes(_table_bytes(st.sampled_from(["q1", "Q0", "d1", "1", "0.5", "nan", "tag", "x"]), " ", 6)))
def test_trec_run_reader(case: tuple[bytes, str]) -> None:
    run = _check(read_trec_run, "run.trec", *case)
    if run is not None:
        assert all(isinstance(s, float) for docs in run.values() for s in docs.values())


yaml_scalars = st.sampled_from(["scifact", "1", "-3", "true", "null", "[]", "{}", "x: y", "'", "@", "0.5", "[a, b]"])
yaml_keys = st.sampled_from(
    ["name", "passages", "beir", "sample", "arms", "seeds", "datasets", "llm", "train", "epochs", "output_dir", "x"]
)


def _yaml_doc(entries: list[tuple[str, str, int]]) -> bytes:
    return "\n".join(f"{'  ' * indent}{k}: {v}" for k, v, indent in entries).encode("utf-8")


@SETTINGS
@given(
    st.binary(max_size=200)
    | st.lists(st.tuples(yaml_keys, yaml_scalars, st.integers(0, 2)), max_size=8).map(_yaml_doc)
    | st.text(max_size=120).map(lambda t: t.encode("utf-8"))
)
def test_experiment_config_reader(data: bytes) -> None:
    _check(load_config, "config.yaml", data, "plain")


@SETTINGS
@pytest.mark.parametrize("name", ["examples.jsonl", "examples.txt"])
@given(case=_any_bytes(_jsonl_bytes(["id", "query", "text", "passage"])))
def test_query_examples_reader(name: str, case: tuple[bytes, str]) -> None:
    from synthneg.generate.examples import MAX_EXAMPLES, read_examples

    examples = _check(read_examples, name, *case)
    if examples is not None:
        assert 1 <= len(examples) <= MAX_EXAMPLES
        assert all(isinstance(e.id, str) and isinstance(e.query, str) and e.query.strip() for e in examples)
