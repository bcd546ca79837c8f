"""Dense hard negatives with a sentence-transformers bi-encoder, as in sentence-transformers'
``mine_hard_negatives``, but reusing the evaluator's on-disk embedding cache for the corpus and
for the queries: a second mining run with other filter settings loads no model at all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np

from synthneg.data.beir import Corpus, Document
from synthneg.data.triples import QueryRecord, Triple
from synthneg.mine.common import QueryGroup, build_triples, group_records, progress
from synthneg.mine.filters import SelectionConfig, SelectionStats, select_negatives
from synthneg.search.dense import DenseEncoder, top_k_faiss
from synthneg.search.stored_rankings import Ranking, StoredRankings

logger = logging.getLogger(__name__)

DenseBackend = Literal["exact", "faiss"]


def top_k_numpy(
    query_emb: np.ndarray, doc_emb: np.ndarray, k: int, chunk_size: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top-``k`` in chunks of queries with numpy (no torch import); best first."""
    k = min(k, doc_emb.shape[0])
    n = query_emb.shape[0]
    positions = np.empty((n, k), dtype=np.int64)
    scores = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, chunk_size):
        sims = query_emb[start : start + chunk_size] @ doc_emb.T
        part = (
            np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else np.tile(np.arange(k), (len(sims), 1))
        )
        part_scores = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        positions[start : start + len(sims)] = np.take_along_axis(part, order, axis=1)
        scores[start : start + len(sims)] = np.take_along_axis(part_scores, order, axis=1)
    return positions, scores


def encode_queries_cached(encoder: DenseEncoder, queries: Sequence[str]) -> tuple[np.ndarray, bool]:
    """Query embeddings through the same on-disk cache as corpora (keyed by model, prefix and texts)."""
    as_corpus = Corpus.from_documents([Document(f"q{i}", "", q) for i, q in enumerate(queries)])
    query_encoder = replace(encoder, passage_prefix=encoder.query_prefix, show_progress=False)
    query_encoder._st, query_encoder._ov = encoder._st, encoder._ov  # share the loaded model, if any
    return query_encoder.encode_corpus(as_corpus)


def mine_dense(
    records: Sequence[QueryRecord],
    corpus: Corpus,
    config: SelectionConfig | None = None,
    *,
    encoder: DenseEncoder | None = None,
    backend: DenseBackend = "exact",
    show_progress: bool = False,
    store: Path | None = None,
) -> list[Triple]:
    """Mine dense negatives (method ``dense``) with a bi-encoder (default: the embedded MiniLM).

    ``scores`` per triple: ``negative`` and ``positive`` (similarities under the encoder) and
    ``rank``. Corpus and query embeddings are cached on disk unless ``encoder.cache`` is off. With ``store`` (a
    JSONL file, see :mod:`synthneg.search.stored_rankings`) every query's ranking is kept there, and when the store
    holds them all, mining encodes nothing and picks the same negatives on any machine.
    """
    config = config or SelectionConfig()
    encoder = encoder or DenseEncoder(show_progress=show_progress)
    groups = group_records(records)
    depth = config.depth(max(len(g.records) for g in groups))
    queries = [g.query for g in groups]
    stored = None
    if store is not None:
        space = {"embeddings": encoder.cache_key(corpus), "query_prefix": encoder.query_prefix, "depth": depth}
        stored = StoredRankings(store, {**space, "search": backend})
    rankings = stored.lookup(queries, [g.positive_ids for g in groups]) if stored is not None else None
    if rankings is None:
        rankings = _rank(groups, corpus, encoder, depth, backend)
        if stored is not None:
            stored.save(queries, rankings)
    else:
        logger.info("dense: the rankings of %d queries from %s (nothing encoded)", len(groups), store)
    provenance = {
        "method": "dense",
        "model": encoder.model,
        "model_identity": encoder.identity,
        "query_prefix": encoder.query_prefix,
        "passage_prefix": encoder.passage_prefix,
        "backend": backend,
        **({"encoder": encoder.backend} if encoder.backend != "torch" else {}),
        **({"precision": encoder.precision} if encoder.precision != "fp32" else {}),
        "corpus": corpus.fingerprint[:16],
        "parameters": config.to_dict(),
        "seed": config.seed,
    }
    triples = _select_all(groups, corpus, rankings, config, provenance, show_progress)
    logger.info("dense: %d triples for %d queries", len(triples), len(groups))
    return triples


def _rank(
    groups: list[QueryGroup], corpus: Corpus, encoder: DenseEncoder, depth: int, backend: DenseBackend
) -> list[Ranking]:
    """Each query's top-``depth`` candidates and its positives' scores under ``encoder``."""
    t0 = time.perf_counter()
    doc_emb, corpus_cached = encoder.encode_corpus(corpus)
    q_emb, queries_cached = encode_queries_cached(encoder, [g.query for g in groups])
    t1 = time.perf_counter()
    if backend == "faiss":
        positions, scores = top_k_faiss(q_emb, doc_emb, depth)
    else:
        positions, scores = top_k_numpy(q_emb, doc_emb, depth)
    logger.info(
        "dense: embeddings %.2fs (corpus cached: %s, queries cached: %s; search %.2fs)",
        t1 - t0,
        corpus_cached,
        queries_cached,
        time.perf_counter() - t1,
    )
    ids = corpus.ids
    rankings = []
    for gi, group in enumerate(groups):
        positives: dict[str, float] = {}
        for record in group.records:
            if record.positive_id in corpus:
                positives[record.positive_id] = float(q_emb[gi] @ doc_emb[corpus.position(record.positive_id)])
            else:
                emb = encoder.encode([record.positive], prefix=encoder.passage_prefix)[0]
                positives[record.positive_id] = float(q_emb[gi] @ emb)
        valid = positions[gi] >= 0
        hits = tuple(ids[int(p)] for p in positions[gi][valid])
        rankings.append(Ranking(hits, tuple(float(x) for x in scores[gi][valid]), positives))
    return rankings


def _select_all(
    groups: list[QueryGroup],
    corpus: Corpus,
    rankings: list[Ranking],
    config: SelectionConfig,
    provenance: dict[str, object],
    show_progress: bool,
) -> list[Triple]:
    texts = corpus.texts()
    stats = SelectionStats()
    triples: list[Triple] = []
    pairs = list(zip(groups, rankings, strict=True))
    for group, ranking in progress(pairs, desc="dense select", enabled=show_progress):
        cand_pos = [corpus.position(i) for i in ranking.ids]
        cand_texts = [texts[p] for p in cand_pos]
        for record in group.records:
            pos_score = ranking.positives[record.positive_id]
            chosen = select_negatives(
                ranking.ids,
                ranking.scores,
                query_id=record.query_id,
                exclude_ids=group.positive_ids,
                exclude_texts=group.positive_texts,
                candidate_texts=cand_texts,
                config=config,
                positive_score=pos_score,
                stats=stats,
            )
            triples += build_triples(
                record, corpus, cand_pos, chosen, method="dense", positive_score=pos_score, provenance=provenance
            )
    stats.log("dense")
    return triples
