"""BM25 hard negatives: a bm25s index of the passages, top-k per query with the positives excluded.

The default configuration (``num_negatives=1``, ``sampling="top"``) is the paper's "BM25 HN": the
highest-ranked passage that is not a positive.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from synthneg.data.beir import Corpus
from synthneg.data.triples import QueryRecord, Triple
from synthneg.mine.common import build_triples, group_records, progress
from synthneg.mine.filters import SelectionConfig, SelectionStats, select_negatives
from synthneg.search.bm25 import BM25Index

logger = logging.getLogger(__name__)


def bm25_candidates(
    index: BM25Index, queries: Sequence[str], depth: int, n_threads: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``depth`` corpus positions and BM25 scores per query text (``(n, depth)`` arrays)."""
    return index.search_arrays(list(queries), depth, n_threads=n_threads)


def mine_bm25(
    records: Sequence[QueryRecord],
    corpus: Corpus,
    config: SelectionConfig | None = None,
    *,
    index: BM25Index | None = None,
    n_threads: int = 0,
    show_progress: bool = False,
    also_exclude: Mapping[str, Collection[str]] | None = None,
) -> list[Triple]:
    """Mine BM25 negatives for ``records`` from ``corpus`` (method ``bm25``).

    ``also_exclude`` maps a query id to more document ids that must never be its negative, beyond the
    positives of its records: every judged-relevant document when only some of them are training
    positives (a query of NFCorpus has dozens).

    ``scores`` per triple: ``negative`` (BM25 score), ``rank`` (among non-positives), and
    ``positive`` (the positive's BM25 score; computed for every record whose positive is in the
    corpus). Pass a prebuilt ``index`` to reuse it across calls.
    """
    config = config or SelectionConfig()
    groups = group_records(records)
    t0 = time.perf_counter()
    if index is None:
        index = BM25Index.shared(corpus, show_progress=show_progress)
    t1 = time.perf_counter()
    excluded = {g.query_id: g.positive_ids | frozenset((also_exclude or {}).get(g.query_id, ())) for g in groups}
    max_pos = max(max(len(g.records), len(excluded[g.query_id])) for g in groups)
    positions, scores = bm25_candidates(index, [g.query for g in groups], config.depth(max_pos), n_threads)
    t2 = time.perf_counter()
    provenance = {
        "method": "bm25",
        "model": f"bm25s(k1={index.k1},b={index.b},method={index.method},stemmer={index.stemmer_language})",
        "corpus": corpus.fingerprint[:16],
        "parameters": config.to_dict(),
        "seed": config.seed,
    }
    stats = SelectionStats()
    triples: list[Triple] = []
    docs = (corpus.ids, corpus.texts())  # built once: both are lists made on each call
    for gi, group in enumerate(progress(groups, desc="bm25 select", enabled=show_progress)):
        valid = scores[gi] > 0  # bm25s pads with zero-score hits when fewer documents match
        triples += _select_group(
            group, positions[gi][valid], scores[gi][valid], index, corpus, docs, config, excluded, provenance, stats
        )
    stats.log("bm25")
    t3 = time.perf_counter()
    logger.info(
        "bm25: %d triples for %d queries (index %.2fs, retrieve %.2fs = %.0f q/s, select %.2fs)",
        len(triples),
        len(groups),
        t1 - t0,
        t2 - t1,
        len(groups) / max(t2 - t1, 1e-9),
        t3 - t2,
    )
    return triples


def _select_group(
    group: Any,
    cand_pos: np.ndarray,
    cand_scores: np.ndarray,
    index: BM25Index,
    corpus: Corpus,
    docs: tuple[list[str], list[str]],
    config: SelectionConfig,
    excluded: Mapping[str, frozenset[str]],
    provenance: dict[str, Any],
    stats: SelectionStats,
) -> list[Triple]:
    """One query's triples: each of its records gets the negatives selected among the query's BM25 hits
    (``docs``: the corpus's ids and texts, in corpus order)."""
    ids, texts = docs
    positions = cand_pos.tolist()
    cand_ids = [ids[p] for p in positions]
    cand_texts = [texts[p] for p in positions]
    pos_scores = _positive_scores(index, corpus, group.query, group.positive_ids, cand_ids, cand_scores)
    triples: list[Triple] = []
    for record in group.records:
        pos_score = pos_scores.get(record.positive_id)
        chosen = select_negatives(
            cand_ids,
            cand_scores,
            query_id=record.query_id,
            exclude_ids=excluded[group.query_id],
            exclude_texts=group.positive_texts,
            candidate_texts=cand_texts,
            config=config if pos_score is not None else _without_margins(config, record.positive_id),
            positive_score=pos_score,
            stats=stats,
        )
        triples += build_triples(
            record, corpus, cand_pos, chosen, method="bm25", positive_score=pos_score, provenance=provenance
        )
    return triples


def _positive_scores(
    index: BM25Index,
    corpus: Corpus,
    query: str,
    positive_ids: frozenset[str],
    cand_ids: list[str],
    cand_scores: np.ndarray,
) -> dict[str, float]:
    """Each in-corpus positive's BM25 score: from the hit list when present, else scored directly."""
    found = {cid: float(cand_scores[i]) for i, cid in enumerate(cand_ids) if cid in positive_ids}
    missing = [p for p in positive_ids if p not in found and p in corpus]
    if missing:
        values = index.score_positions(query, [corpus.position(p) for p in missing])
        found.update(zip(missing, values.tolist(), strict=True))
    return found


def _without_margins(config: SelectionConfig, positive_id: str) -> SelectionConfig:
    """Margins need the positive's score; a positive outside the corpus has none, so they are dropped."""
    if config.uses_positive_score:
        logger.warning("positive %s is not in the corpus: margins ignored for it", positive_id)
        from dataclasses import replace

        return replace(config, absolute_margin=None, relative_margin=None)
    return config
