"""Fields are type-checked, not coerced: a number where text belongs is a located error; numeric ids are fine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthneg.data.beir import load_corpus
from synthneg.data.triples import read_query_records
from synthneg.errors import DataError


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_corpus_text_that_is_a_number_is_refused_with_its_line(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "corpus.jsonl", [{"_id": "d1", "text": "fine"}, {"_id": "d2", "text": 42}])
    with pytest.raises(DataError, match=r"corpus.jsonl line 2: field 'text' must be a string, got int"):
        load_corpus(path)


def test_numeric_ids_are_read_as_strings(tmp_path: Path) -> None:
    corpus = load_corpus(_jsonl(tmp_path / "corpus.jsonl", [{"_id": 7, "text": "a passage"}]))
    assert corpus.ids == ["7"]
    rec = read_query_records(
        _jsonl(tmp_path / "q.jsonl", [{"query_id": 1, "query": "q", "positive_id": 7, "positive": "a passage"}])
    )
    assert (rec[0].query_id, rec[0].positive_id) == ("1", "7")
    with pytest.raises(DataError, match="line 1: field 'query' must be a string, got float"):
        read_query_records(
            _jsonl(tmp_path / "bad.jsonl", [{"query_id": 1, "query": 1.5, "positive_id": 7, "positive": "p"}])
        )
