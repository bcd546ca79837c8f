"""Query filters that read only the user's passages: round trip under BM25 and the zero-shot encoder, generic
queries, short passages; every query's scores recorded; the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from synthneg.cli import app
from synthneg.data.beir import Corpus, Document
from synthneg.data.triples import QueryRecord
from synthneg.errors import SynthnegError
from synthneg.generate.query_filters import QueryFilter, filter_queries, rank_of, round_trip_ranks
from synthneg.search.dense import DenseEncoder

DOCS = [
    Document("d1", "Photosynthesis", "Plants turn sunlight, water and carbon dioxide into glucose and oxygen."),
    Document("d2", "Black holes", "Gravity near a black hole is so strong that not even light can escape it."),
    Document("d3", "Sourdough", "Sourdough bread rises thanks to wild yeast and lactic acid bacteria."),
    Document("d4", "Tides", "Ocean tides are caused mainly by the gravitational pull of the moon on the sea."),
    Document("d5", "Note", "Short."),
]
CORPUS = Corpus.from_documents(DOCS)


def _rec(qid: str, query: str, doc: str) -> QueryRecord:
    return QueryRecord(qid, query, doc, CORPUS[doc].full_text())


RECORDS = [
    _rec("good", "how do plants turn sunlight into glucose", "d1"),
    _rec("other-topic", "can light make sourdough bread rise with yeast", "d2"),  # answered by d3, not its own d2
    _rec("generic", "what is this about", "d4"),
    _rec("short", "what is short", "d5"),
]


def test_rank_orders_by_score_then_position_and_zero_is_not_retrieved() -> None:
    scores = np.array([0.5, 2.0, 2.0, 1.0, 0.0], dtype=np.float32)
    assert [rank_of(scores, i) for i in range(4)] == [4.0, 1.0, 2.0, 3.0]
    assert math.isinf(rank_of(scores, 4))


def test_bm25_round_trip_content_word_and_short_passages() -> None:
    ranks = round_trip_ranks(RECORDS, CORPUS)
    assert ranks[0] == 1 and ranks[1] > 1
    result = filter_queries(RECORDS, CORPUS, QueryFilter(round_trip_k=1, min_passage_words=3))
    assert [r.query_id for r in result.kept] == ["good"]
    reasons = {row["query_id"]: row["reason"] for row in result.rows}
    assert reasons == {
        "good": None,
        "other-topic": "round_trip",
        "generic": "no_content_word",
        "short": "short_passage",
    }
    assert result.counts() == {"kept": 1, "round_trip": 1, "no_content_word": 1, "short_passage": 1}
    row = result.rows[0]
    assert row["rank_bm25"] == 1 and row["content_overlap"] > 0.5
    loose = filter_queries(RECORDS, CORPUS, QueryFilter(round_trip_k=None, require_content_word=False))
    assert len(loose.kept) == 4 and "rank_bm25" not in loose.rows[0]


def test_dense_round_trip_with_the_embedded_encoder(tmp_path: Path) -> None:
    encoder = DenseEncoder("minilm", cache_root=tmp_path, show_progress=False)
    ranks = round_trip_ranks(RECORDS[:2], CORPUS, retriever="dense", encoder=encoder)
    assert ranks[0] == 1 and ranks[1] > 1  # MiniLM also finds that the sourdough query is about d3
    result = filter_queries(RECORDS[:2], CORPUS, QueryFilter(retriever="dense"), encoder=encoder)
    assert [r.query_id for r in result.kept] == ["good"] and result.rows[0]["rank_dense"] == 1


def test_easy_rule_keeps_the_queries_the_zero_shot_encoder_gets_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``easy_dense_k``: a query whose passage MiniLM already ranks first is refused as easy; one that BM25 ties to its
    passage but MiniLM ranks below another is kept. The dense ranks are stored: a rebuild encodes nothing. Off by
    default, and out of the committed runs' keys."""
    from synthneg.experiment.config import QueriesConfig

    encoder = DenseEncoder("minilm", cache_root=tmp_path, show_progress=False)
    hard = _rec("hard", "what strong gravitational pull does the moon have on light", "d4")  # MiniLM: black holes
    store = tmp_path / "queries.dense-ranks.scores.jsonl"
    result = filter_queries([RECORDS[0], hard], CORPUS, QueryFilter(easy_dense_k=1), encoder=encoder, store=store)
    assert [r.query_id for r in result.kept] == ["hard"] and result.counts() == {"kept": 1, "easy": 1}
    rows = {row["query_id"]: row for row in result.rows}
    assert rows["good"]["rank_bm25"] == rows["good"]["rank_dense"] == 1 and rows["good"]["reason"] == "easy"
    assert rows["hard"]["rank_bm25"] == 1 and rows["hard"]["rank_dense"] > 1
    with monkeypatch.context() as m:  # the rebuild of a committed run: every rank from the store
        m.setattr(DenseEncoder, "encode", lambda *a, **k: pytest.fail("encoded despite a complete store"))
        again = filter_queries([RECORDS[0], hard], CORPUS, QueryFilter(easy_dense_k=1), encoder=encoder, store=store)
    assert again.rows == result.rows and len(store.read_text().splitlines()) == 2
    plain = filter_queries([RECORDS[0], hard], CORPUS, QueryFilter(), encoder=encoder)
    assert len(plain.kept) == 2 and "rank_dense" not in plain.rows[0]
    with pytest.raises(SynthnegError, match="easy_dense_k must be at least 1"):
        QueryFilter(easy_dense_k=0)
    base = {"k": 1, "styles": ["claim"], "filter": {"round_trip_k": 1}}
    old = QueriesConfig.model_validate(base).key_fields()
    new = QueriesConfig.model_validate({**base, "filter": {"round_trip_k": 1, "easy_dense_k": 1}}).key_fields()
    assert "easy_dense_k" not in old["filter"] and new["filter"]["easy_dense_k"] == 1

    passages = tmp_path / "p.jsonl"
    passages.write_text("".join(json.dumps({"id": d.id, "title": d.title, "text": d.text}) + "\n" for d in DOCS))
    queries = tmp_path / "q.jsonl"
    queries.write_text("".join(json.dumps(r.__dict__) + "\n" for r in (RECORDS[0], hard)))
    out = tmp_path / "kept.jsonl"
    argv = ["filter-queries", "-q", str(queries), "-c", str(passages), "-o", str(out), "--easy-dense-k", "1"]
    res = CliRunner().invoke(app, argv)
    assert res.exit_code == 0, res.output
    assert [json.loads(line)["query_id"] for line in out.read_text().splitlines()] == ["hard"]
    assert "kept 1 of 2 queries; rejected: easy 1" in res.output


def test_cli_writes_kept_records_and_every_querys_scores(tmp_path: Path) -> None:
    passages = tmp_path / "p.jsonl"
    passages.write_text("".join(json.dumps({"id": d.id, "title": d.title, "text": d.text}) + "\n" for d in DOCS))
    queries = tmp_path / "q.jsonl"
    queries.write_text("".join(json.dumps(r.__dict__) + "\n" for r in RECORDS))
    out = tmp_path / "kept.jsonl"
    res = CliRunner().invoke(app, ["filter-queries", "-q", str(queries), "-c", str(passages), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert [json.loads(line)["query_id"] for line in out.read_text().splitlines()] == ["good", "short"]
    rows = [json.loads(line) for line in (tmp_path / "kept.jsonl.filter.jsonl").read_text().splitlines()]
    assert [r["reason"] for r in rows] == [None, "round_trip", "no_content_word", None]
    assert "kept 2 of 4 queries; rejected: round_trip 1, no_content_word 1" in res.output


def test_lead_copy_rejects_reworded_titles_and_openings_only_when_set() -> None:
    docs = [
        Document(
            "t",
            "Microtubule stabilization reduces scarring after spinal cord injury",
            "Axons fail to regrow. We show that a low dose of a drug lets them cross the lesion in rats.",
        ),
        Document("f", "", "Sourdough bread rises thanks to wild yeast. Bakers keep a starter alive for years."),
        Document("ok", "Ocean tides", "Ocean tides are caused mainly by the pull of the moon. Coasts see two a day."),
    ]
    corpus = Corpus.from_documents(docs)
    records = [
        QueryRecord(
            "title", "Stabilizing microtubules reduces scarring after spinal cord injuries.", "t", docs[0].full_text()
        ),
        QueryRecord("opening", "Wild yeast makes sourdough bread rise.", "f", docs[1].full_text()),
        QueryRecord("claim", "The moon's gravity produces two coastal tides daily.", "ok", docs[2].full_text()),
    ]
    strict = filter_queries(records, corpus, QueryFilter(round_trip_k=None, max_lead_overlap=0.7))
    rows = {row["query_id"]: row for row in strict.rows}
    assert {q: r["reason"] for q, r in rows.items()} == {"title": "lead_copy", "opening": "lead_copy", "claim": None}
    assert rows["title"]["lead_overlap"] == 1.0 and rows["opening"]["lead_overlap"] >= 0.7
    assert 0 < rows["claim"]["lead_overlap"] < 0.7  # "tides", "moon" are in the title / first sentence, not the rest
    assert strict.counts() == {"kept": 1, "lead_copy": 2}
    off = filter_queries(records, corpus, QueryFilter(round_trip_k=None))
    assert len(off.kept) == 3 and "lead_overlap" not in off.rows[0]  # off by default: the rows are as before
    with pytest.raises(SynthnegError, match="max_lead_overlap"):
        QueryFilter(max_lead_overlap=1.5)
    stray = QueryRecord("stray", "a query", "gone", "a passage no longer in the collection")
    with pytest.raises(SynthnegError, match=r"1 are not in the collection \(first: 'gone'\)"):
        filter_queries([stray], corpus, QueryFilter(round_trip_k=None, max_lead_overlap=0.7))


def test_lead_overlap_enters_the_queries_key_only_when_set() -> None:
    from synthneg.experiment.config import QueriesConfig

    base = {"k": 1, "styles": ["claim"], "filter": {"round_trip_k": 1}}
    old = QueriesConfig.model_validate(base).key_fields()
    assert "max_lead_overlap" not in old["filter"]  # the committed runs' keys stay as they were
    new = QueriesConfig.model_validate({**base, "filter": {"round_trip_k": 1, "max_lead_overlap": 0.7}}).key_fields()
    assert new["filter"]["max_lead_overlap"] == 0.7 and new != old


def test_cli_lead_overlap_option(tmp_path: Path) -> None:
    passages = tmp_path / "p.jsonl"
    passages.write_text("".join(json.dumps({"id": d.id, "title": d.title, "text": d.text}) + "\n" for d in DOCS))
    queries = tmp_path / "q.jsonl"
    rec = _rec("title-copy", "photosynthesis", "d1")
    queries.write_text("".join(json.dumps(r.__dict__) + "\n" for r in [RECORDS[0], rec]))
    out = tmp_path / "kept.jsonl"
    args = ["filter-queries", "-q", str(queries), "-c", str(passages), "-o", str(out), "--round-trip-k", "0"]
    # "good" takes 4 of its 6 terms from d1's opening (0.67); "photosynthesis" is d1's title (1.0)
    res = CliRunner().invoke(app, [*args, "--max-lead-overlap", "0.9"])
    assert res.exit_code == 0, res.output
    assert [json.loads(line)["query_id"] for line in out.read_text().splitlines()] == ["good"]
    assert "rejected: lead_copy 1" in res.output


def test_sibling_copy_rejects_a_restated_query_of_the_same_passage_only_when_set(tmp_path: Path) -> None:
    records = [
        _rec("d1-q0", "Plants turn sunlight into glucose.", "d1"),
        _rec("d1-q1", "Plants turned sunlight into glucose!", "d1"),  # the same terms once stemmed
        _rec("d1-q2", "Plants release oxygen while making glucose from water.", "d1"),  # another finding
        _rec("d4-q0", "Plants turn sunlight into glucose.", "d4"),  # the same words for another passage: no sibling
    ]
    rules = {"round_trip_k": None, "require_content_word": False}
    on = filter_queries(records, CORPUS, QueryFilter(**rules, max_sibling_overlap=0.8))
    rows = {row["query_id"]: row for row in on.rows}
    assert {q: r["reason"] for q, r in rows.items()} == {
        "d1-q0": None,
        "d1-q1": "sibling_copy",
        "d1-q2": None,
        "d4-q0": None,
    }
    assert rows["d1-q0"]["sibling_overlap"] is None and rows["d1-q1"]["sibling_overlap"] == 1.0
    assert rows["d4-q0"]["sibling_overlap"] is None  # d4's first query
    assert 0 < rows["d1-q2"]["sibling_overlap"] < 0.8
    assert on.counts() == {"kept": 3, "sibling_copy": 1}
    # only kept siblings count: c overlaps the refused b (6/7) but not the kept a (5/7), so c is kept
    chain = [
        _rec("a", "Plants sunlight water glucose oxygen.", "d1"),
        _rec("b", "Plants sunlight water glucose oxygen carbon.", "d1"),  # 5/6 of a
        _rec("c", "Plants sunlight water glucose oxygen carbon dioxide.", "d1"),
    ]
    chained = filter_queries(chain, CORPUS, QueryFilter(**rules, max_sibling_overlap=0.8))
    assert [r["reason"] for r in chained.rows] == [None, "sibling_copy", None]
    off = filter_queries(records, CORPUS, QueryFilter(**rules))
    assert len(off.kept) == 4  # off by default: every row is the rule's row without its field and verdict
    assert off.rows == [
        {k: v for k, v in row.items() if k != "sibling_overlap"} | {"kept": True, "reason": None} for row in on.rows
    ]
    with pytest.raises(SynthnegError, match="max_sibling_overlap"):
        QueryFilter(max_sibling_overlap=0.0)
    # the key: unchanged when unset; the CLI option
    from synthneg.experiment.config import QueriesConfig

    base = {"k": 2, "styles": ["claim"], "filter": {"round_trip_k": 1}}
    old = QueriesConfig.model_validate(base).key_fields()
    assert "max_sibling_overlap" not in old["filter"]
    new = QueriesConfig.model_validate({**base, "filter": {"round_trip_k": 1, "max_sibling_overlap": 0.8}})
    assert new.key_fields()["filter"]["max_sibling_overlap"] == 0.8
    passages = tmp_path / "p.jsonl"
    passages.write_text("".join(json.dumps({"id": d.id, "title": d.title, "text": d.text}) + "\n" for d in DOCS))
    queries = tmp_path / "q.jsonl"
    queries.write_text("".join(json.dumps(r.__dict__) + "\n" for r in records))
    out = tmp_path / "kept.jsonl"
    args = ["filter-queries", "-q", str(queries), "-c", str(passages), "-o", str(out), "--round-trip-k", "0"]
    res = CliRunner().invoke(app, [*args, "--no-content-word", "--max-sibling-overlap", "0.8"])
    assert res.exit_code == 0, res.output
    assert [json.loads(line)["query_id"] for line in out.read_text().splitlines()] == ["d1-q0", "d1-q2", "d4-q0"]
    assert "rejected: sibling_copy 1" in res.output


class _ScriptedJudge:
    """A pair scorer with fixed scores by query (the rule's logic; the live LLM judge is tested through the CLI)."""

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores: dict[str, float] = scores
        self.seen: list[str] = []

    def score(self, pairs: list[tuple[str, str]], *, show_progress: bool | None = None) -> np.ndarray:
        self.seen += [q for q, _ in pairs]
        return np.asarray([self.scores[q] for q, _ in pairs], dtype=np.float32)


def test_judge_refuses_the_queries_their_passage_does_not_answer_after_the_other_rules() -> None:
    """``judge_min_score``: the judge scores only the queries every other rule kept, a score under the threshold is
    refused as ``judge``; a refused query is no sibling of the next; off by default and out of the committed keys."""
    from synthneg.experiment.config import QueriesConfig

    records = [
        RECORDS[0],  # kept by every rule, judged 2.5
        _rec("d1-weak", "plants turned sunlight into glucose", "d1"),  # judged -1: refused
        _rec("d1-sib", "plants turn sunlight into glucose", "d1"),  # restates d1-weak (1.0), not "good" (0.67)
        RECORDS[2],  # no content word: never judged
    ]
    judge = _ScriptedJudge({RECORDS[0].query: 2.5, records[1].query: -1.0, records[2].query: 0.5})
    rules = QueryFilter(round_trip_k=None, judge_min_score=0.0, max_sibling_overlap=0.8)
    result = filter_queries(records, CORPUS, rules, judge=judge)
    assert judge.seen == [r.query for r in records[:3]]  # the generic query was refused before the judge
    rows = {row["query_id"]: row for row in result.rows}
    assert rows["good"]["judge"] == 2.5 and rows["d1-weak"]["judge"] == -1.0 and "judge" not in rows["generic"]
    assert {q: r["reason"] for q, r in rows.items()} == {
        "good": None,
        "d1-weak": "judge",
        "d1-sib": None,  # the query it restates was refused by the judge: no sibling of a kept one
        "generic": "no_content_word",
    }
    assert result.counts() == {"kept": 2, "judge": 1, "no_content_word": 1}
    assert rows["d1-sib"]["sibling_overlap"] == pytest.approx(0.6667)  # measured against "good" only
    lenient = filter_queries(records[:2], CORPUS, QueryFilter(round_trip_k=None, judge_min_score=-2.0), judge=judge)
    assert len(lenient.kept) == 2
    off = filter_queries(records, CORPUS, QueryFilter(round_trip_k=None), judge=judge)
    assert "judge" not in off.rows[0] and len(judge.seen) == 5  # off: nothing scored
    with pytest.raises(SynthnegError, match="judge_min_score needs a judge"):
        filter_queries(records, CORPUS, QueryFilter(round_trip_k=None, judge_min_score=0.0))
    base = {"k": 1, "styles": ["claim"], "filter": {"round_trip_k": 1}}
    old = QueriesConfig.model_validate(base).key_fields()
    assert "judge_min_score" not in old["filter"] and "judge_model" not in old["filter"]
    new = QueriesConfig.model_validate({**base, "filter": {"round_trip_k": 1, "judge_min_score": 0.5}}).key_fields()
    assert new["filter"]["judge_min_score"] == 0.5 and new["filter"]["judge_model"] == "llm"


def test_cli_judge_with_the_embedded_llm_scores_once_and_refuses_the_unanswered_query(tmp_path: Path) -> None:
    """The live judge (the embedded 0.5B as a yes/no reranker) through ``filter-queries``: the query its passage
    answers scores above one about another topic; a threshold between them refuses the latter, from the cached
    scores (a second run scores nothing)."""
    pytest.importorskip("llama_cpp")
    passages = tmp_path / "p.jsonl"
    passages.write_text("".join(json.dumps({"id": d.id, "title": d.title, "text": d.text}) + "\n" for d in DOCS))
    off_topic = _rec("off-topic", "which bacteria make sourdough bread rise", "d1")  # d1: photosynthesis
    queries = tmp_path / "q.jsonl"
    queries.write_text("".join(json.dumps(r.__dict__) + "\n" for r in (RECORDS[0], off_topic)))
    out = tmp_path / "kept.jsonl"
    args = ["filter-queries", "-q", str(queries), "-c", str(passages), "-o", str(out), "--round-trip-k", "0"]
    res = CliRunner().invoke(app, [*args, "--no-content-word", "--judge-min-score", "-100"])
    assert res.exit_code == 0, res.output
    rows = {r["query_id"]: r for r in map(json.loads, (tmp_path / "kept.jsonl.filter.jsonl").open())}
    good, bad = rows["good"]["judge"], rows["off-topic"]["judge"]
    assert good > bad
    res = CliRunner().invoke(app, [*args, "--no-content-word", "--judge-min-score", str((good + bad) / 2)])
    assert res.exit_code == 0, res.output
    assert [json.loads(line)["query_id"] for line in out.read_text().splitlines()] == ["good"]
    assert "rejected: judge 1" in res.output
    from synthneg.mine.llm_reranker import LLMReranker

    cached = LLMReranker()  # the CLI's cache (the user cache; the tests' own folder)
    again = cached.score([(RECORDS[0].query, RECORDS[0].positive), (off_topic.query, off_topic.positive)])
    assert cached.pairs_scored == 0 and cached.pairs_cached == 2  # every pair from the cache: nothing scored
    assert again[0] == pytest.approx(good, abs=1e-4) and again[1] == pytest.approx(bad, abs=1e-4)
    cached.close()


def test_the_report_names_the_easy_and_judge_rules_only_when_set() -> None:
    from synthneg.experiment.config import QueriesConfig
    from synthneg.experiment.query_report import quality_lines

    def sentence(filter_spec: dict) -> str:
        settings = QueriesConfig.model_validate({"k": 1, "filter": filter_spec}).key_fields()["filter"]
        table = {"queries": 3, "copies_title": 0.0, "mentions_passage": 0.0, "no_content_word": 0.0}
        filt = {"settings": settings, "kept": 3, "queries": 4, "removed": {"judge": 1}}
        quality = {**table, "length_words": {}, "target_length_words": {}, "filter": filt}
        return next(line for line in quality_lines(quality, None) if line.startswith("Query filter"))

    on = sentence({"round_trip_k": 1, "easy_dense_k": 1, "judge_min_score": 0.5})
    assert "zero-shot encoder's top 1" in on and "judge llm scores its passage +0.5 or more" in on
    assert "**3 of 4 kept** (75.0%); removed: judge 1" in on
    off = sentence({"round_trip_k": 1})
    assert "judge llm" not in off and "zero-shot encoder" not in off
