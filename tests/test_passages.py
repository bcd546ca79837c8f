"""Users' passage files: JSONL, CSV, Parquet, configurable fields, located errors."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthneg.data import read_passages
from synthneg.errors import DataError

from conftest import write_jsonl

ROWS = [
    {"id": "p1", "title": "Alpha", "abstract": "First  passage\n text."},
    {"id": "p2", "title": None, "abstract": "Second passage."},
]


def test_jsonl_auto_fields(tmp_path: Path) -> None:
    corpus = read_passages(write_jsonl(tmp_path / "p.jsonl", ROWS))
    assert corpus.ids == ["p1", "p2"]
    assert corpus["p1"].text == "First passage text."  # whitespace collapsed
    assert corpus["p2"].title == ""


def test_csv_and_parquet_match_jsonl(tmp_path: Path) -> None:
    csv_path = tmp_path / "p.csv"
    csv_path.write_text('doc,body\nx1,"Hello, world"\nx2,Second\n', encoding="utf-8")
    corpus = read_passages(csv_path, id_field="doc", text_field="body")
    assert corpus.ids == ["x1", "x2"] and corpus["x1"].text == "Hello, world"
    pq_path = tmp_path / "p.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), pq_path)
    assert read_passages(pq_path).documents == read_passages(write_jsonl(tmp_path / "q.jsonl", ROWS)).documents


def test_arxiv_sample(arxiv_path: Path) -> None:
    corpus = read_passages(arxiv_path, limit=50)
    assert len(corpus) == 50 and corpus.ids[0] == "0704.0001"
    assert corpus["0704.0001"].title.startswith("Calculation of prompt diphoton")


def test_ids_default_to_row_numbers(tmp_path: Path) -> None:
    corpus = read_passages(write_jsonl(tmp_path / "p.jsonl", [{"text": "a"}, {"text": "b"}]))
    assert corpus.ids == ["1", "2"]


def test_errors_are_located(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "p.jsonl", [{"id": "1", "text": "a"}, {"id": "2", "text": ""}])
    with pytest.raises(DataError, match=r"p.jsonl line 2: field 'text' is empty"):
        read_passages(p)
    with pytest.raises(DataError, match="text field 'body' not found"):
        read_passages(p, text_field="body")
    p = write_jsonl(tmp_path / "n.jsonl", [{"id": "1", "words": "a"}])
    with pytest.raises(DataError, match="no text field found"):
        read_passages(p)
    p = write_jsonl(tmp_path / "d.jsonl", [{"id": "1", "text": "a"}, {"id": "1", "text": "b"}])
    with pytest.raises(DataError, match="duplicate id '1'"):
        read_passages(p)
    with pytest.raises(DataError, match="unknown passage file type"):
        read_passages(tmp_path / "p.txt")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(DataError, match="unreadable Parquet"):
        read_passages(bad)
    csv_path = tmp_path / "l.csv"
    csv_path.write_text("id,text\n1,ok\n2,\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"l.csv line 3: field 'text' is empty"):
        read_passages(csv_path)
