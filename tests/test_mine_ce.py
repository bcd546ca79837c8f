"""Cross-encoder mining: a tiny CrossEncoder built locally (no hub), a fake scorer for exact checks,
and the embedded LLM reranker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synthneg.data.beir import Corpus, Document
from synthneg.data.triples import QueryRecord
from synthneg.mine import CrossEncoderScorer, SelectionConfig, load_scorer, mine_ce

from conftest import tiny_bert

DOCS = [
    Document("d1", "Photosynthesis", "Plants convert sunlight water and carbon dioxide into glucose."),
    Document("d2", "Chlorophyll", "Chlorophyll absorbs red and blue light in plant leaves."),
    Document("d3", "Plant growth", "Plants need sunlight and water to grow leaves."),
    Document("d4", "Black holes", "A black hole is a region where gravity prevents escape."),
    Document("d5", "Sourdough", "Sourdough bread uses wild yeast."),
]
CORPUS = Corpus.from_documents(DOCS)
RECORDS = [
    QueryRecord("q1", "how do plants make glucose from sunlight", "d1", CORPUS["d1"].full_text()),
    QueryRecord("q2", "what prevents escape from a black hole", "d4", CORPUS["d4"].full_text()),
]


class LengthScorer:
    """Deterministic fake: longer passages score higher; the positive gets a fixed score."""

    identity = "fake-length"

    def __init__(self, positive_score: float) -> None:
        self.positive_score = positive_score
        self.calls: list[tuple[str, str]] = []

    def score(self, pairs, *, show_progress=None):
        self.calls += list(pairs)
        positives = {r.positive for r in RECORDS}
        return np.array([self.positive_score if p in positives else float(len(p)) for _, p in pairs], np.float32)


def test_ce_takes_best_candidate_below_the_positive():
    scorer = LengthScorer(positive_score=60.0)
    triples = mine_ce(RECORDS, CORPUS, scorer, candidates=4)
    texts = {d.id: d.full_text() for d in DOCS}
    for t in triples:
        assert t.method == "ce" and t.negative_id != t.positive_id
        assert t.scores["negative"] <= t.scores["positive"]
        others = [len(texts[d]) for d in texts if d != t.positive_id and len(texts[d]) <= 60.0]
        assert t.scores["negative"] == max(others)
        assert {"first_stage", "first_stage_rank"} <= set(t.scores)
    assert triples[0].provenance["model"] == "fake-length"
    assert triples[0].provenance["first_stage"] == "bm25"


class StoredLengthScorer(LengthScorer):
    """LengthScorer with a score store, counting pairs paid for and reused like the LLM reranker."""

    def __init__(self, positive_score: float) -> None:
        super().__init__(positive_score)
        self.store: dict[tuple[str, str], float] = {}
        self.pairs_scored = self.pairs_cached = 0

    def score(self, pairs, *, show_progress=None):
        todo = [p for p in dict.fromkeys(pairs) if p not in self.store]
        self.store.update(zip(todo, super().score(todo).tolist(), strict=True))
        self.pairs_scored += len(todo)
        self.pairs_cached += len(pairs) - len(todo)
        return np.array([self.store[p] for p in pairs], np.float32)


def test_ce_log_rates_only_the_pairs_scored_now(caplog):
    scorer = StoredLengthScorer(positive_score=60.0)
    with caplog.at_level("INFO", logger="synthneg"):
        first = mine_ce(RECORDS, CORPUS, scorer, candidates=4)
        n = scorer.pairs_scored
        assert n > 0
        again = mine_ce(RECORDS, CORPUS, scorer, candidates=4)
    assert again == first and scorer.pairs_scored == n
    lines = [r.getMessage() for r in caplog.records if "scored now" in r.getMessage()]
    assert f"{n} pairs, {n} scored now" in lines[0]
    assert f"{n} pairs, 0 scored now" in lines[1] and "= 0.00 pairs/s" in lines[1]


def test_ce_margin_can_leave_a_query_without_negative():
    triples = mine_ce(RECORDS, CORPUS, LengthScorer(positive_score=0.0), candidates=4)
    assert triples == []


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> Path:
    """A 2-layer BERT cross-encoder with a 60-word vocabulary, saved to a temp folder."""
    from sentence_transformers import CrossEncoder

    folder = tmp_path_factory.mktemp("tiny-ce")
    words = sorted(
        {w.lower().strip(".") for d in DOCS for w in d.full_text().split()} | {"how", "do", "what", "make", "from", "a"}
    )
    tiny_bert(folder, words, num_labels=1)
    CrossEncoder(str(folder), device="cpu")  # loads offline
    return folder


def test_ce_with_local_tiny_cross_encoder(tiny_cross_encoder):
    scorer = load_scorer(str(tiny_cross_encoder))
    assert isinstance(scorer, CrossEncoderScorer)
    pairs = [(r.query, d.full_text()) for r in RECORDS for d in DOCS]
    scores = scorer.score(pairs)
    assert scores.shape == (len(pairs),) and np.isfinite(scores).all()
    triples = mine_ce(RECORDS, CORPUS, scorer, SelectionConfig(num_negatives=2, absolute_margin=None), candidates=4)
    assert triples
    lookup = dict(zip(pairs, scores.tolist(), strict=True))
    for t in triples:
        assert t.negative_id != t.positive_id
        assert t.scores["negative"] == pytest.approx(lookup[(t.query, t.negative)], abs=1e-5)
    # ranked by the cross-encoder, best first
    q1 = [t for t in triples if t.query_id == "q1"]
    assert [t.scores["rank"] for t in q1] == [0, 1]
    assert q1[0].scores["negative"] >= q1[1].scores["negative"]


def test_llm_reranker_prefers_the_relevant_passage(tmp_path):
    """About 45 s on 2 busy cores (assembling the GGUF included); skipped without llama-cpp or the model."""
    pytest.importorskip("llama_cpp")
    from synthneg.errors import ModelError
    from synthneg.mine.llm_reranker import LLMReranker

    reranker = LLMReranker(cache=tmp_path / "scores.sqlite")
    try:
        reranker.path  # noqa: B018  (assembles the embedded model)
    except ModelError as exc:
        pytest.skip(str(exc))
    q = "What is the capital of France?"
    pairs = [
        (q, "Paris is the capital and largest city of France."),
        (q, "Photosynthesis converts light energy into chemical energy in plants."),
        (
            "how do vaccines train the immune system",
            "Vaccines expose the immune system to antigens so it makes antibodies.",
        ),
        (
            "how do vaccines train the immune system",
            "The stock market fell sharply after the central bank raised rates.",
        ),
    ]
    scores = reranker.score(pairs)
    assert scores[0] > scores[1] and scores[2] > scores[3]
    assert (reranker.score(pairs) == scores).all()  # second call: from the SQLite cache
    reranker.close()
    # the experiment's committed JSONL store: a second reranker reads every score without loading the model
    first = LLMReranker(cache=tmp_path / "scores.jsonl")
    fresh = first.score(pairs[:2])
    assert fresh == pytest.approx(scores[:2], abs=1e-3)
    first.close()
    again = LLMReranker(cache=tmp_path / "scores.jsonl")
    assert (again.score(pairs[:2]) == fresh).all() and (again.pairs_scored, again.pairs_cached) == (0, 2)
    assert again.score_seconds == 0.0  # nothing scored: no model loaded, no time counted
    # a pair given twice in one call (a query's positive beside each of its candidates) is scored once and
    # is not counted as reused
    repeated = LLMReranker(cache=tmp_path / "repeats.jsonl")
    twice = repeated.score([pairs[2], pairs[3], pairs[2]])
    assert twice[0] == twice[2] and (repeated.pairs_scored, repeated.pairs_cached) == (2, 0)
    assert repeated.score_seconds > 0.0
    repeated.score([pairs[2], pairs[3], pairs[2]])  # again: two distinct pairs reused, the repeat not counted
    assert (repeated.pairs_scored, repeated.pairs_cached) == (2, 2)
    repeated.close()


def test_jsonl_score_cache_survives_a_torn_line_and_reopens(tmp_path):
    from synthneg.mine.llm_reranker import JsonlScoreCache

    path = tmp_path / "run" / "negatives-ce.scores.jsonl"
    store = JsonlScoreCache(path)
    store.put_many({"a": 1.5, "b": -2.0})
    store.put_many({"a": 1.5})  # unchanged: nothing appended
    assert path.read_text().count("\n") == 2
    with path.open("a") as fh:
        fh.write('{"key": "c", "sco')  # a crash mid-write
    reopened = JsonlScoreCache(path)
    assert reopened.get_many(["a", "b", "c"]) == {"a": 1.5, "b": -2.0}
    reopened.put_many({"c": 0.25})
    assert JsonlScoreCache(path).get_many(["a", "b", "c"]) == {"a": 1.5, "b": -2.0, "c": 0.25}
    assert "sco\n" in path.read_text()  # the torn line was closed, not glued to the new record
