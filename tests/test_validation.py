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


def test_qrels_that_leave_nothing_to_evaluate_are_a_clear_error(tmp_path: Path) -> None:
    from synthneg.data.beir import load_beir

    folder = tmp_path / "set"
    (folder / "qrels").mkdir(parents=True)
    _jsonl(folder / "corpus.jsonl", [{"_id": "d1", "text": "a passage"}])
    _jsonl(folder / "queries.jsonl", [{"_id": "q1", "text": "a query"}])
    qrels = folder / "qrels" / "test.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"test\.tsv: nothing to evaluate: no judged query id"):
        load_beir(folder)
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\tnope\t1\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"nothing to evaluate: no judged document id is in corpus\.jsonl"):
        load_beir(folder)
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n", encoding="utf-8")
    assert load_beir(folder).queries == {"q1": "a query"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            'id,text\n1,"fine"\n2,"unterminated\n3,more\n',
            "line 3: invalid CSV: a quote opened in the record that starts on this line is never closed",
        ),
        ("id,text\n1,a,b\n", "line 2: 3 fields where the header has 2"),
        ("id,text\n1\n", "line 2: 1 fields where the header has 2"),
    ],
)
def test_csv_is_read_strictly(tmp_path: Path, content: str, message: str) -> None:
    from synthneg.data import read_passages

    path = tmp_path / "p.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_passages(path)


def test_awkward_but_valid_csv_keeps_working(tmp_path: Path) -> None:
    from synthneg.data import read_passages

    path = tmp_path / "p.csv"
    path.write_bytes(b'\xef\xbb\xbfid,text\r\n1,"a, quoted\r\npassage"\r\n2,plain\r\n\r\n')
    docs = read_passages(path).documents
    assert [(d.id, d.text) for d in docs] == [("1", "a, quoted passage"), ("2", "plain")]  # whitespace normalised
