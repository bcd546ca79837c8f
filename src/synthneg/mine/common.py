"""Pieces shared by the miners: grouping query records, building triples, provenance."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from synthneg.data.beir import Corpus
from synthneg.data.triples import QueryRecord, Triple
from synthneg.errors import SynthnegError
from synthneg.mine.filters import Selected

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueryGroup:
    """One distinct query with every record (positive) that belongs to it."""

    query_id: str
    query: str
    records: tuple[QueryRecord, ...]

    @property
    def positive_ids(self) -> frozenset[str]:
        return frozenset(r.positive_id for r in self.records)

    @property
    def positive_texts(self) -> frozenset[str]:
        return frozenset(r.positive for r in self.records)


def group_records(records: Sequence[QueryRecord]) -> list[QueryGroup]:
    """Group records by ``query_id`` in first-seen order; every positive of a query is excluded for all."""
    if not records:
        raise SynthnegError("no query records to mine negatives for")
    groups: dict[str, list[QueryRecord]] = {}
    for r in records:
        groups.setdefault(r.query_id, []).append(r)
    out = []
    for qid, recs in groups.items():
        if len({r.query for r in recs}) > 1:
            logger.warning("query %s has several texts; using the first", qid)
        out.append(QueryGroup(qid, recs[0].query, tuple(recs)))
    return out


def corpus_positions(corpus: Corpus, ids: frozenset[str] | set[str]) -> list[int]:
    """Corpus positions of the ids that are in the corpus (positives outside it are skipped)."""
    return [corpus.position(i) for i in ids if i in corpus]


def build_triples(
    record: QueryRecord,
    corpus: Corpus,
    candidate_positions: Sequence[int],
    chosen: Sequence[Selected],
    *,
    method: str,
    positive_score: float | None,
    provenance: dict[str, Any],
    extra_scores: dict[str, Sequence[float]] | None = None,
) -> list[Triple]:
    """One :class:`Triple` per chosen candidate, with ``scores = {negative, positive, rank, ...}``."""
    texts_sep = " "
    out = []
    for sel in chosen:
        doc = corpus.documents[int(candidate_positions[sel.index])]
        scores: dict[str, float] = {"negative": sel.score, "rank": sel.rank}
        if positive_score is not None:
            scores["positive"] = float(positive_score)
        for name, values in (extra_scores or {}).items():
            scores[name] = float(values[sel.index])
        out.append(
            Triple(
                query_id=record.query_id,
                query=record.query,
                positive_id=record.positive_id,
                positive=record.positive,
                negative=doc.full_text(texts_sep),
                method=method,
                negative_id=doc.id,
                scores=scores,
                provenance=dict(provenance),
            )
        )
    return out


def progress(iterable: Any, *, total: int | None = None, desc: str, enabled: bool) -> Any:
    """synthneg's bar over ``iterable`` when ``enabled`` (the CLI turns it on; library calls pass ``show_progress``)."""
    from synthneg.console import track

    return track(iterable, desc, total=total, show=enabled, unit="queries")


def records_from_beir(corpus: Corpus, queries: dict[str, str], qrels: dict[str, dict[str, int]]) -> list[QueryRecord]:
    """Labeled BEIR pairs as query records (one per relevant judged document present in the corpus)."""
    out = []
    for qid, rels in qrels.items():
        if qid not in queries:
            continue
        for doc_id, grade in rels.items():
            if grade > 0 and doc_id in corpus:
                out.append(QueryRecord(qid, queries[qid], doc_id, corpus[doc_id].full_text()))
    return out
