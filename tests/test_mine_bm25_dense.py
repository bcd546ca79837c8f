"""BM25 and dense miners on SciFact train pairs (read in place) and on a tiny corpus."""

from __future__ import annotations

import numpy as np
import pytest

from synthneg.data import load_beir
from synthneg.data.beir import Corpus, Document
from synthneg.data.triples import QueryRecord
from synthneg.mine import SelectionConfig, mine_bm25, mine_dense
from synthneg.mine.common import records_from_beir
from synthneg.mine.dense import top_k_numpy
from synthneg.search.bm25 import BM25Index


@pytest.fixture(scope="module")
def scifact_train(scifact_dir):
    ds = load_beir(scifact_dir, "train")
    return ds.corpus, records_from_beir(ds.corpus, ds.queries, ds.qrels)[:150]


@pytest.fixture(scope="module")
def scifact_index(scifact_train):
    return BM25Index(scifact_train[0])


def _check_no_positive(triples, records):
    positives: dict[str, set[str]] = {}
    for r in records:
        positives.setdefault(r.query_id, set()).add(r.positive_id)
    for t in triples:
        assert t.negative_id not in positives[t.query_id]
        assert t.negative != t.positive


def test_bm25_top_hit_excludes_positives(scifact_train, scifact_index):
    corpus, records = scifact_train
    triples = mine_bm25(records, corpus, index=scifact_index)
    assert len(triples) == len(records)
    _check_no_positive(triples, records)
    assert all(t.method == "bm25" and t.scores["rank"] == 0 for t in triples)
    # the top non-positive hit: no other non-positive document scores higher
    t = triples[0]
    top = scifact_index.search({"q": t.query}, k=5)["q"]
    best = max(s for d, s in top.items() if d not in {r.positive_id for r in records if r.query_id == t.query_id})
    assert t.scores["negative"] == pytest.approx(best, rel=1e-5)


def test_bm25_also_exclude_skips_other_judged_documents(scifact_train, scifact_index):
    """Ids in also_exclude are never negatives and, like positives, do not count towards ranks."""
    corpus, records = scifact_train
    base = mine_bm25(records[:40], corpus, index=scifact_index, config=SelectionConfig(num_negatives=3))
    first = {}
    for t in base:
        first.setdefault(t.query_id, []).append(t.negative_id)
    banned = {q: set(ids[:2]) for q, ids in first.items()}  # each query's two best non-positive hits
    again = mine_bm25(
        records[:40], corpus, index=scifact_index, config=SelectionConfig(num_negatives=3), also_exclude=banned
    )
    assert again and all(t.negative_id not in banned[t.query_id] for t in again)
    for t in again:
        if t.scores["rank"] == 0:  # the new top hit is the old third one
            assert t.negative_id == first[t.query_id][2]
    _check_no_positive(again, records[:40])
    # without also_exclude the result is what it was (keys of committed runs depend on it)
    assert mine_bm25(records[:40], corpus, index=scifact_index, config=SelectionConfig(num_negatives=3)) == base


def test_bm25_window_margin_and_max_score(scifact_train, scifact_index):
    corpus, records = scifact_train
    cfg = SelectionConfig(num_negatives=3, range_min=2, range_max=10, absolute_margin=1.0, max_score=30.0)
    triples = mine_bm25(records, corpus, cfg, index=scifact_index)
    assert triples
    _check_no_positive(triples, records)
    for t in triples:
        assert 2 <= t.scores["rank"] < 10
        assert t.scores["negative"] <= t.scores["positive"] - 1.0 + 1e-6
        assert t.scores["negative"] <= 30.0
    assert (
        max(
            sum(1 for t in triples if t.query_id == q and t.positive_id == p)
            for q, p in {(t.query_id, t.positive_id) for t in triples}
        )
        <= 3
    )


def test_bm25_random_sampling_deterministic(scifact_train, scifact_index):
    corpus, records = scifact_train
    cfg = SelectionConfig(num_negatives=2, range_max=20, sampling="random", seed=3)
    a = mine_bm25(records, corpus, cfg, index=scifact_index)
    b = mine_bm25(list(reversed(records)), corpus, cfg, index=scifact_index)
    key = lambda ts: sorted((t.query_id, t.positive_id, t.negative_id) for t in ts)  # noqa: E731
    assert key(a) == key(b)
    c = mine_bm25(
        records, corpus, SelectionConfig(num_negatives=2, range_max=20, sampling="random", seed=4), index=scifact_index
    )
    assert key(a) != key(c)
    assert a[0].provenance["seed"] == 3 and a[0].provenance["parameters"]["range_max"] == 20


TINY = Corpus.from_documents(
    [
        Document("d1", "Photosynthesis", "Plants convert sunlight, water and carbon dioxide into glucose."),
        Document("d2", "Chlorophyll", "Chlorophyll absorbs red and blue light in plant leaves."),
        Document("d3", "Black holes", "A black hole is a region of spacetime where gravity prevents escape."),
        Document("d4", "Neutron stars", "Neutron stars are collapsed cores of massive supergiant stars."),
        Document("d5", "Sourdough", "Sourdough bread is leavened by wild yeast and lactic acid bacteria."),
        Document("d6", "Baguette", "A baguette is a long thin loaf of French bread."),
    ]
)
TINY_RECORDS = [
    QueryRecord("q1", "how do plants make glucose from sunlight", "d1", TINY["d1"].full_text()),
    QueryRecord("q2", "what prevents escape from a black hole", "d3", TINY["d3"].full_text()),
    QueryRecord("q3", "which bread uses wild yeast", "d5", TINY["d5"].full_text()),
]


def test_dense_margins_and_cache(tmp_path, monkeypatch):
    from synthneg.search.dense import DenseEncoder

    enc = DenseEncoder(show_progress=False, cache_root=tmp_path)
    cfg = SelectionConfig(num_negatives=2, absolute_margin=0.05)
    triples = mine_dense(TINY_RECORDS, TINY, cfg, encoder=enc)
    _check_no_positive(triples, TINY_RECORDS)
    assert triples and all(t.scores["negative"] <= t.scores["positive"] - 0.05 + 1e-6 for t in triples)
    by_q = {t.query_id: t.negative_id for t in triples if t.scores["rank"] == 0}
    assert by_q["q1"] == "d2" and by_q["q3"] == "d6"  # the on-topic neighbour is the hardest negative

    # Second run: corpus and query embeddings come from the cache, the model is never called.
    fresh = DenseEncoder(show_progress=False, cache_root=tmp_path)
    monkeypatch.setattr(DenseEncoder, "encode", lambda *a, **k: pytest.fail("re-encoded despite the cache"))
    again = mine_dense(TINY_RECORDS, TINY, cfg, encoder=fresh)
    assert [t.negative_id for t in again] == [t.negative_id for t in triples]


def test_dense_rankings_store_replays_without_encoding_and_is_what_decides(tmp_path, monkeypatch):
    import json

    from synthneg.search.dense import DenseEncoder

    store = tmp_path / "run" / "negatives-dense.scores.jsonl"
    cfg = SelectionConfig(relative_margin=0.05)
    first = mine_dense(TINY_RECORDS, TINY, cfg, encoder=DenseEncoder(show_progress=False, cache_root=tmp_path / "a"))
    assert not store.exists()  # no store given: none written
    triples = mine_dense(
        TINY_RECORDS, TINY, cfg, encoder=DenseEncoder(show_progress=False, cache_root=tmp_path / "b"), store=store
    )
    assert [t.to_dict() for t in triples] == [t.to_dict() for t in first]  # the store changes no triple
    lines = [json.loads(line) for line in store.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 3 and all(set(r["ranking"]) == {"ids", "scores", "positives"} for r in lines)
    assert "glucose" not in store.read_text(encoding="utf-8")  # ids and scores only, no text

    # a fresh machine (no embedding cache) with the store: nothing encoded, the same triples byte for byte
    monkeypatch.setattr(DenseEncoder, "encode", lambda *a, **k: pytest.fail("encoded despite the rankings store"))
    fresh = DenseEncoder(show_progress=False, cache_root=tmp_path / "c")
    again = mine_dense(TINY_RECORDS, TINY, cfg, encoder=fresh, store=store)
    assert [t.to_dict() for t in again] == [t.to_dict() for t in triples]

    # the stored scores are what picks: lift q1's hardest candidate above the margin and the next one is chosen
    q1 = next(t for t in triples if t.query_id == "q1")
    for row in lines:
        ranking = row["ranking"]
        if q1.negative_id in ranking["ids"] and "d1" in ranking["positives"]:
            ranking["scores"][ranking["ids"].index(q1.negative_id)] = ranking["positives"]["d1"]
    store.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    moved = mine_dense(TINY_RECORDS, TINY, cfg, encoder=fresh, store=store)
    assert next(t for t in moved if t.query_id == "q1").negative_id != q1.negative_id

    # another search space (a deeper window) is not served from these rankings: it encodes
    with pytest.raises(pytest.fail.Exception, match="encoded despite"):
        mine_dense(TINY_RECORDS, TINY, SelectionConfig(range_max=5), encoder=fresh, store=store)


def test_mine_dense_cli_rankings_store_makes_a_rerun_encode_nothing(tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from synthneg.cli import app
    from synthneg.search.dense import DenseEncoder

    corpus = tmp_path / "passages.jsonl"
    corpus.write_text(
        "".join(json.dumps({"id": d.id, "title": d.title, "text": d.text}) + "\n" for d in TINY.documents)
    )
    queries = tmp_path / "queries.jsonl"
    queries.write_text("".join(json.dumps(r.__dict__) + "\n" for r in TINY_RECORDS))
    store = tmp_path / "rankings.jsonl"
    argv = ["mine", "dense", "-q", str(queries), "-c", str(corpus), "--rankings", str(store), "--no-cache"]
    first = CliRunner().invoke(app, [*argv, "-o", str(tmp_path / "a.jsonl")])
    assert first.exit_code == 0, first.output
    assert len(store.read_text().splitlines()) == len(TINY_RECORDS)
    monkeypatch.setattr(DenseEncoder, "encode", lambda *a, **k: pytest.fail("encoded despite --rankings"))
    again = CliRunner().invoke(app, [*argv, "-o", str(tmp_path / "b.jsonl")])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()


def test_top_k_numpy_matches_brute_force():
    rng = np.random.default_rng(0)
    q, d = rng.normal(size=(7, 8)).astype(np.float32), rng.normal(size=(50, 8)).astype(np.float32)
    pos, sc = top_k_numpy(q, d, 5, chunk_size=3)
    full = q @ d.T
    assert (pos == np.argsort(-full, axis=1)[:, :5]).all()
    assert np.allclose(sc, np.sort(full, axis=1)[:, ::-1][:, :5])


def test_bm25_ties_are_ordered_by_corpus_position_on_every_cpu(scifact_train, scifact_index):
    """Equal BM25 scores rank by corpus position, also when the tie at the cut runs past the extra hits
    retrieved (NumPy's argpartition/argsort order ties differently with and without AVX-512)."""
    from synthneg.search.bm25 import TIE_PAD

    docs = [Document(f"f{i}", "", f"filler text number {i} about nothing") for i in range(30)]
    twins = [Document(f"t{i}", "", "statins lower cholesterol in the blood") for i in range(TIE_PAD + 20)]
    odd = Document("best", "", "statins lower cholesterol in the blood; cholesterol and statins")
    corpus = Corpus.from_documents(docs[:10] + twins[:12] + [odd] + docs[10:] + twins[12:])
    positions, scores = BM25Index(corpus).search_arrays(["statins cholesterol"], 5)
    ids = [corpus.ids[p] for p in positions[0]]
    assert ids == ["best", "t0", "t1", "t2", "t3"]  # the twins' tie runs past k + TIE_PAD: the first of them
    assert scores[0][0] > scores[0][1] and len(set(scores[0][1:].tolist())) == 1

    # on a real corpus: exactly what a stable full sort of every document's score gives
    corpus = scifact_train[0]
    queries = [r.query for r in scifact_train[1][:40]]
    positions, scores = scifact_index.search_arrays(queries, 50)
    for qi, query in enumerate(queries):
        full = scifact_index.score_positions(query, list(range(len(corpus))))
        order = np.lexsort((np.arange(len(corpus)), -full))[:50]
        kept = full[order] > 0
        assert positions[qi][kept].tolist() == order[kept].tolist()
        assert np.array_equal(scores[qi][kept], full[order][kept])
    # every document's score, the texts tokenized together (the round-trip filter), is each text's own
    rows = list(scifact_index.all_scores_many([*queries[:5], "zzqx qqzz"]))
    for query, row in zip(queries[:5], rows, strict=False):
        assert np.array_equal(row, scifact_index.score_positions(query, list(range(len(corpus)))))
    assert not rows[-1].any() and len(rows[-1]) == len(corpus)  # no known word: every score 0


def test_the_shared_index_is_built_once_per_corpus_content() -> None:
    docs = [Document(f"d{i}", "", text) for i, text in enumerate(["plants make glucose", "black holes bend light"])]
    first = BM25Index.shared(Corpus.from_documents(docs))
    assert BM25Index.shared(Corpus.from_documents(list(docs))) is first  # same content, another object: one index
    other = BM25Index.shared(Corpus.from_documents([*docs, Document("d2", "", "wild yeast leavens sourdough")]))
    assert other is not first and len(other.corpus) == 3
    assert other.search({"q": "sourdough yeast"}, k=1) == {
        "q": {"d2": pytest.approx(other.all_scores("sourdough yeast")[2])}
    }
    assert BM25Index.shared(Corpus.from_documents(docs)) is first  # used again: now the most recent
    BM25Index.shared(Corpus.from_documents(docs[:1]))  # a third corpus: the least recently used one is dropped
    assert BM25Index.shared(Corpus.from_documents(docs)) is first
    assert BM25Index.shared(other.corpus) is not other
    BM25Index.clear_shared()  # frees the indexes: the next call builds again
    assert BM25Index.shared(Corpus.from_documents(docs)) is not first
