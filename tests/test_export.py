"""Exports: datasets folder round trip, sentence-transformers columns, dataset card, CLI wiring."""

from __future__ import annotations

import pytest

from synthneg.data.triples import Triple, write_triples
from synthneg.errors import SynthnegError
from synthneg.export import dataset_card, export_triples, split_name


def _triples() -> list[Triple]:
    return [
        Triple(
            "q1",
            "what is x",
            "d1",
            "x is a letter",
            "y is a letter",
            "bm25",
            "d2",
            {"negative": 3.5, "rank": 0},
            {"model": "bm25s"},
        ),
        Triple("q2", "what is z", "d3", "z is last", "a is first", "bm25", "d4", {"negative": 2.0}, {"model": "bm25s"}),
        Triple(
            "q1",
            "what is x",
            "d1",
            "x is a letter",
            "x is not a number",
            "llm-neg",
            None,
            {},
            {"generator": {"backend": "llamacpp", "model": "qwen"}, "template_hash": "abc"},
        ),
    ]


def test_round_trip_sentence_transformers_columns(tmp_path):
    from datasets import load_from_disk

    rows = _triples()
    out = export_triples(rows, tmp_path / "ds", licences=["CC0 (arXiv metadata)"])
    dd = load_from_disk(str(out))
    assert set(dd) == {"bm25", "llm_neg"}
    assert dd["bm25"].column_names == ["anchor", "positive", "negative"]
    assert dd["bm25"][0] == {"anchor": "what is x", "positive": "x is a letter", "negative": "y is a letter"}
    assert dd["llm_neg"].num_rows == 1
    card = (out / "README.md").read_text()
    assert "| `bm25` | bm25 | 2 | 2 |" in card and "`template_hash: abc`" in card and "CC0 (arXiv metadata)" in card
    assert "`generator model: qwen`" in card and "`model: bm25s`" in card  # who wrote / mined each split


def test_metadata_columns_round_trip(tmp_path):
    import json

    from datasets import load_from_disk

    out = export_triples(_triples(), tmp_path / "ds", with_metadata=True)
    row = load_from_disk(str(out))["llm_neg"][0]
    assert row["negative_id"] is None and row["method"] == "llm-neg"
    assert json.loads(row["provenance"]) == {
        "generator": {"backend": "llamacpp", "model": "qwen"},
        "template_hash": "abc",
    }
    assert json.loads(load_from_disk(str(out))["bm25"][0]["scores"]) == {"negative": 3.5, "rank": 0}


def test_refuses_non_empty_folder_and_empty_input(tmp_path):
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "x").write_text("keep")
    with pytest.raises(SynthnegError, match="not empty"):
        export_triples(_triples(), tmp_path / "ds")
    with pytest.raises(SynthnegError, match="no triples"):
        export_triples([], tmp_path / "other")


def test_split_names_and_card_without_licence():
    assert split_name("llm-neg/v2") == "llm_neg_v2"
    assert "Not stated" in dataset_card(_triples())


def test_cli_export_and_push_wiring(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from synthneg import export
    from synthneg.cli import app

    src = write_triples(_triples(), tmp_path / "t.parquet")
    pushed = {}
    monkeypatch.setattr(
        export, "push_to_hub", lambda folder, repo, private: pushed.update(repo=repo, private=private) or "url"
    )
    result = CliRunner().invoke(app, ["export", str(src), "--out", str(tmp_path / "ds"), "--push-to-hub", "me/negs"])
    assert result.exit_code == 0, result.output
    assert pushed == {"repo": "me/negs", "private": True}
    assert (tmp_path / "ds" / "README.md").is_file()
