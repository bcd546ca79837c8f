"""The labeled ceiling's data: a dataset's own human-judged train pairs, with BM25 negatives from its corpus.

``labeled_per_query`` caps the positives per query (NFCorpus judges about 40 documents per query) by a
seeded choice (``labeled_positive: random``) or by BM25's score for the query (``bm25-top``); a query's
other judged-relevant documents are then excluded from its negatives.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from synthneg.data.beir import Qrels, load_beir, load_qrels
from synthneg.data.locate import resolve_dataset
from synthneg.data.triples import QueryRecord, Triple
from synthneg.errors import DataError
from synthneg.experiment.config import ExperimentConfig

if TYPE_CHECKING:
    from synthneg.search.bm25 import BM25Index


def load_labeled_qrels(config: ExperimentConfig, *, download: bool = True) -> Qrels:
    """The judgments of the ``labeled`` ceiling's split (``labeled_split`` of ``labeled_source``)."""
    folder = resolve_dataset(config.labeled_source or "", data_dir=config.eval.data_dir, download=download)
    return load_qrels(folder / "qrels" / f"{config.labeled_split}.tsv")


def labeled_triples(config: ExperimentConfig, *, show_progress: bool = True) -> list[Triple]:
    """The ceiling's triples: every labeled train pair (capped per query when configured), BM25 negative."""
    from synthneg.mine.bm25 import mine_bm25
    from synthneg.mine.common import records_from_beir

    name = config.labeled_source or ""
    ds = load_beir(resolve_dataset(name, data_dir=config.eval.data_dir), config.labeled_split)
    records = records_from_beir(ds.corpus, ds.queries, ds.qrels)
    if not records:
        raise DataError(f"no labeled pairs in split {config.labeled_split!r}", path=ds.path)
    judged: dict[str, set[str]] = {}
    index = None
    if config.labeled_per_query:
        if config.labeled_positive == "bm25-top":
            from synthneg.search.bm25 import BM25Index

            index = BM25Index.shared(ds.corpus, show_progress=show_progress)
            records = top_bm25_per_query(records, config.labeled_per_query, index)
        else:
            records = per_query(records, config.labeled_per_query, seed=0)
        # a query's other judged-relevant documents are not negatives (NFCorpus: about 40 per query, so
        # BM25's top hit is usually one of them)
        judged = {q: {d for d, g in rels.items() if g > 0} for q, rels in ds.qrels.items()}
    triples = mine_bm25(records, ds.corpus, index=index, show_progress=show_progress, also_exclude=judged)
    return [
        Triple(
            t.query_id,
            t.query,
            t.positive_id,
            t.positive,
            t.negative,
            "labeled",
            t.negative_id,
            t.scores,
            {**t.provenance, "queries": f"{name}/{config.labeled_split} (human-labeled)"},
        )
        for t in triples
    ]


def rows_by_query(records: list[QueryRecord]) -> dict[str, list[int]]:
    """The positions of each query's records, in input order."""
    by_query: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_query.setdefault(r.query_id, []).append(i)
    return by_query


def per_query(records: list[QueryRecord], n: int, *, seed: int) -> list[QueryRecord]:
    """At most ``n`` records per query: a seeded choice among its positives, the input order kept."""
    by_query = rows_by_query(records)
    rng = random.Random(seed)
    keep = {i for qid in sorted(by_query) for i in rng.sample(by_query[qid], min(n, len(by_query[qid])))}
    return [r for i, r in enumerate(records) if i in keep]


def top_bm25_per_query(records: list[QueryRecord], n: int, index: BM25Index) -> list[QueryRecord]:
    """At most ``n`` records per query: the positives BM25 scores highest for it (ties by document id),
    the input order kept. Positives outside the index's corpus score nothing."""
    corpus = index.corpus
    keep: set[int] = set()
    for rows in rows_by_query(records).values():
        inside = [i for i in rows if records[i].positive_id in corpus]
        scores = dict.fromkeys(rows, float("-inf"))
        if inside:
            values = index.score_positions(
                records[rows[0]].query, [corpus.position(records[i].positive_id) for i in inside]
            )
            scores.update(zip(inside, values.tolist(), strict=True))
        keep.update(sorted(rows, key=lambda i: (-scores[i], records[i].positive_id))[:n])
    return [r for i, r in enumerate(records) if i in keep]
