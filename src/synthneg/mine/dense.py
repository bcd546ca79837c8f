"""Dense hard negatives with a sentence-transformers bi-encoder, as in sentence-transformers'
``mine_hard_negatives``, but reusing the evaluator's on-disk embedding cache for the corpus and
for the queries: a second mining run with other filter settings loads no model at all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

import numpy as np

from synthneg.data.beir import Corpus, Document
from synthneg.data.triples import QueryRecord, Triple
from synthneg.mine.common import QueryGroup, build_triples, group_records, progress
from synthneg.mine.filters import SelectionConfig, SelectionStats, select_negatives
from synthneg.search.dense import DenseEncoder, top_k_faiss

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
) -> list[Triple]:
    """Mine dense negatives (method ``dense``) with a bi-encoder (default: the embedded MiniLM).

    ``scores`` per triple: ``negative`` and ``positive`` (similarities under the encoder) and
    ``rank``. Corpus and query embeddings are cached on disk unless ``encoder.cache`` is off.
    """
    config = config or SelectionConfig()
    encoder = encoder or DenseEncoder(show_progress=show_progress)
    groups = group_records(records)
    t0 = time.perf_counter()
    doc_emb, corpus_cached = encoder.encode_corpus(corpus)
    q_emb, queries_cached = encode_queries_cached(encoder, [g.query for g in groups])
    t1 = time.perf_counter()
    depth = config.depth(max(len(g.records) for g in groups))
    if backend == "faiss":
        positions, scores = top_k_faiss(q_emb, doc_emb, depth)
    else:
        positions, scores = top_k_numpy(q_emb, doc_emb, depth)
    t2 = time.perf_counter()
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
    triples = _select_all(groups, corpus, doc_emb, q_emb, positions, scores, config, provenance, show_progress, encoder)
    logger.info(
        "dense: %d triples for %d queries (embeddings %.2fs, corpus cached: %s, queries cached: %s; search %.2fs)",
        len(triples),
        len(groups),
        t1 - t0,
        corpus_cached,
        queries_cached,
        t2 - t1,
    )
    return triples


def _select_all(
    groups: list[QueryGroup],
    corpus: Corpus,
    doc_emb: np.ndarray,
    q_emb: np.ndarray,
    positions: np.ndarray,
    scores: np.ndarray,
    config: SelectionConfig,
    provenance: dict[str, object],
    show_progress: bool,
    encoder: DenseEncoder,
) -> list[Triple]:
    ids = corpus.ids
    texts = corpus.texts()
    stats = SelectionStats()
    triples: list[Triple] = []
    for gi, group in enumerate(progress(groups, desc="dense select", enabled=show_progress)):
        valid = positions[gi] >= 0
        cand_pos = positions[gi][valid]
        cand_ids = [ids[int(p)] for p in cand_pos]
        cand_texts = [texts[int(p)] for p in cand_pos]
        for record in group.records:
            if record.positive_id in corpus:
                pos_score = float(q_emb[gi] @ doc_emb[corpus.position(record.positive_id)])
            else:
                pos_score = float(q_emb[gi] @ encoder.encode([record.positive], prefix=encoder.passage_prefix)[0])
            chosen = select_negatives(
                cand_ids,
                scores[gi][valid],
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
