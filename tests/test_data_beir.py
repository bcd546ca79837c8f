"""BEIR loading and the located errors it raises on bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from synthneg.data import clear_corpus_memo, load_beir, load_corpus, load_qrels, load_queries
from synthneg.errors import DataError

from conftest import make_beir, write_jsonl


def test_load_tiny_plain_and_gz(tmp_path: Path) -> None:
    for gz in (False, True):
        ds = load_beir(make_beir(tmp_path / f"b{gz}", gz=gz))
        assert len(ds.corpus) == 6
        assert set(ds.queries) == {"q1", "q2", "q3"}  # q9 has no judgments: not part of the split
        assert ds.qrels["q1"] == {"d1": 2, "d2": 1}
        assert ds.corpus["d3"].title == "Black holes"
        assert ds.corpus.texts()[0].startswith("Photosynthesis Plants")


def test_load_scifact_counts(scifact_dir: Path) -> None:
    ds = load_beir(scifact_dir, "test")
    assert len(ds.corpus) == 5183
    assert len(ds.queries) == 300
    assert sum(len(v) for v in ds.qrels.values()) == 339
    train = load_beir(scifact_dir, "train")
    assert len(train.queries) == 809


def test_a_corpus_read_twice_is_read_once_until_its_file_changes(tmp_path: Path) -> None:
    import os

    folder = make_beir(tmp_path / "b")
    first = load_beir(folder, "test").corpus
    assert load_beir(folder, "test").corpus is first  # the same immutable object: no second parse
    clear_corpus_memo()  # frees what is kept: the next read parses again
    old, first = first, load_beir(folder, "test").corpus
    assert first is not old and list(first) == list(old)
    assert load_beir(folder, "test").corpus is first
    path = folder / "corpus.jsonl"
    write_jsonl(path, [{"_id": "d1", "title": "", "text": "Only one document now."}])
    again = load_corpus(path)
    assert again is not first and list(again) == ["d1"] and again["d1"].text == "Only one document now."
    same_size = '{"_id": "d2", "title": "", "text": "Only one document now."}\n'
    assert len(same_size) == path.stat().st_size
    before = path.stat()
    path.write_text(same_size, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size, same mtime: the change time tells
    assert list(load_corpus(path)) == ["d2"]
    path.write_text('{"_id": "d1", "title": ""}\n', encoding="utf-8")  # a broken file is never served from memory
    assert "field 'text'" in str(_err(load_corpus, path))


def _err(fn, *args) -> DataError:
    with pytest.raises(DataError) as info:
        fn(*args)
    return info.value


def test_invalid_json_line(tmp_path: Path) -> None:
    p = tmp_path / "corpus.jsonl"
    p.write_text('{"_id": "a", "text": "x"}\n{"_id": "b", "text": \n', encoding="utf-8")
    err = _err(load_corpus, p)
    assert err.line == 2 and "invalid JSON" in str(err) and "corpus.jsonl line 2" in str(err)


def test_missing_fields_name_line_and_field(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "corpus.jsonl.gz", [{"_id": "a", "text": "x"}] * 1 + [{"_id": "b"}], gz=True)
    err = _err(load_corpus, p)
    assert str(err) == f"{p} line 2: field 'text' is missing"
    p2 = write_jsonl(tmp_path / "queries.jsonl", [{"text": "no id"}])
    err = _err(load_queries, p2)
    assert err.field == "_id" and err.line == 1


def test_duplicate_ids(tmp_path: Path) -> None:
    p = write_jsonl(
        tmp_path / "corpus.jsonl", [{"_id": "a", "text": "x"}, {"_id": "b", "text": "y"}, {"_id": "a", "text": "z"}]
    )
    err = _err(load_corpus, p)
    assert err.line == 3 and "first seen on line 1" in str(err)


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "corpus.jsonl"
    p.write_text("\n\n", encoding="utf-8")
    assert "empty" in str(_err(load_corpus, p))


def test_qrels_without_header_or_bad_score(tmp_path: Path) -> None:
    p = tmp_path / "test.tsv"
    p.write_text("q1\td1\t1\n", encoding="utf-8")
    assert "missing header" in str(_err(load_qrels, p))
    p.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\thigh\n", encoding="utf-8")
    err = _err(load_qrels, p)
    assert err.line == 3 and err.field == "score" and "'high' is not an integer" in str(err)


def test_qrels_unknown_queries_and_docs_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = make_beir(tmp_path / "b")
    with (folder / "qrels" / "test.tsv").open("a", encoding="utf-8") as fh:
        fh.write("qX\td1\t1\nq2\tdMissing\t1\n")
    ds = load_beir(folder)
    assert "qX" not in ds.qrels and ds.qrels["q2"] == {"d3": 1, "dMissing": 1}
    text = caplog.text
    assert "1 qrels queries are not in" in text and "1 judged documents are not in the corpus" in text


def test_unreadable_gzip(tmp_path: Path) -> None:
    p = tmp_path / "corpus.jsonl.gz"
    p.write_bytes(gzip.compress(b'{"_id": "a", "text": "x"}\n' * 200)[:60])  # truncated stream
    assert "gzip" in str(_err(load_corpus, p))
    p.write_bytes(b"plain text pretending to be gzip")
    assert "not a gzip file" in str(_err(load_corpus, p))


def test_non_utf8(tmp_path: Path) -> None:
    p = tmp_path / "queries.jsonl"
    p.write_bytes(b'{"_id": "1", "text": "ok"}\n{"_id": "2", "text": "caf\xe9"}\n')
    err = _err(load_queries, p)
    assert err.line == 2 and "UTF-8" in str(err)


def test_not_a_beir_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    err = _err(load_beir, tmp_path / "empty")
    assert "not a BEIR folder" in str(err) and "corpus.jsonl" in str(err)
    folder = make_beir(tmp_path / "b")
    err = _err(load_beir, folder, "dev")
    assert "no qrels for split 'dev'" in str(err) and "test" in str(err)


def test_non_object_line(tmp_path: Path) -> None:
    p = tmp_path / "corpus.jsonl"
    p.write_text('["_id", "text"]\n', encoding="utf-8")
    assert "expected a JSON object, got list" in str(_err(load_corpus, p))
