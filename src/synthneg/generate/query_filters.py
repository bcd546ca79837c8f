"""Query quality filters that read only the user's own passages, never labels.

- **round trip** (Promptagator): a generated query is kept only if its own passage ranks in the top ``k`` of the
  passage collection for it, under BM25 or the zero-shot encoder. A query that its passage does not answer better than
  the others (a generic question, a claim the passage does not make, one about another passage's topic) falls out.
- **content word**: a query that shares no content term (stemmed, stopwords out) with its passage is generic ("What
  is the purpose of the passage?") and is rejected.
- **lead copy** (off unless ``max_lead_overlap`` is set): a query whose content terms are mostly those of its
  passage's *lead*, the title or the first sentence (the share of the query's terms found in either, the larger), is a
  reworded title or opening rather than a query a user would write. Measured on SciFact: 32% of the 0.5B's few-shot
  claims at the learning curve's 2,000 point take >= 0.7 of their terms from the lead, against 4.5% of SciFact's
  human train claims and 1 of the 8 example claims in their prompt (docs/generation.md).
- **sibling copy** (off unless ``max_sibling_overlap`` is set): with ``k > 1`` queries per passage, a query whose
  content terms overlap an already kept query of the same passage by at least this Jaccard share restates it and
  adds nothing but weight on that passage. Measured on SciFact (the 0.5B's two claims per passage, 453 passages with
  both kept): 11 pairs identical after stemming, 25 at >= 0.8, 68 at >= 0.6 (docs/generation.md).
- **easy** (off unless ``easy_dense_k`` is set): a query whose own passage the zero-shot encoder already ranks in its
  top ``easy_dense_k`` of the collection teaches in-batch training little: the base model answers it. Measured on
  SciFact (MiniLM, all 5,183 passages): the 0.5B's round-trip-kept claims find their passage first for 86.2%, SciFact's
  human train claims for 46.2% (in-batch loss before training 0.038 against 0.348; ``scripts/inbatch_difficulty.py``).
  The rule keeps the claims the base model gets wrong; with the BM25 round trip they are still answered by their
  passage under BM25, so it keeps hard queries, not off-topic ones.
- **judge** (off unless ``judge_min_score`` is set; InPars-v2 filters its synthetic queries with a reranker the same
  way): a pointwise relevance judge (the LLM reranker, ``logit(yes) - logit(no)``, or any cross-encoder) scores each
  query against its own passage, and a query scoring under the threshold is refused: the passage does not answer it.
  It runs last, on the queries every other rule kept (before the sibling rule, so that only judged-in queries count
  as siblings), and its scores are kept in a store beside the run, so that a rebuild scores nothing.
- **short passages**: a passage under ``min_passage_words`` is too thin to write a query about; its queries are
  skipped and counted.

Every query gets a row with its scores and verdict (:func:`filter_queries`), so that the rates can be reported and the
threshold chosen afterwards without recomputing.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from synthneg.data.beir import Corpus
from synthneg.data.triples import QueryRecord
from synthneg.errors import SynthnegError

Retriever = Literal["bm25", "dense"]


@dataclass(frozen=True)
class QueryFilter:
    """Which filters run. ``round_trip_k=None`` turns the round trip off; ``retriever`` ranks for it."""

    round_trip_k: int | None = 1
    retriever: Retriever = "bm25"
    require_content_word: bool = True
    min_passage_words: int = 0
    max_lead_overlap: float | None = None
    max_sibling_overlap: float | None = None
    easy_dense_k: int | None = None
    judge_min_score: float | None = None
    judge_model: str = "llm"

    def __post_init__(self) -> None:
        for name in ("max_lead_overlap", "max_sibling_overlap"):
            value = getattr(self, name)
            if value is not None and not 0.0 < value <= 1.0:
                raise SynthnegError(f"{name} must be in (0, 1], got {value}")
        if self.easy_dense_k is not None and self.easy_dense_k < 1:
            raise SynthnegError(f"easy_dense_k must be at least 1, got {self.easy_dense_k}")

    @property
    def needs_judge(self) -> bool:
        """Whether the judge rule is on (``judge_min_score`` set): :func:`filter_queries` then needs a pair scorer."""
        return self.judge_min_score is not None

    @property
    def needs_encoder(self) -> bool:
        """Whether a rule ranks with the zero-shot encoder (the dense round trip, the easy rule)."""
        return (self.retriever == "dense" and self.round_trip_k is not None) or self.easy_dense_k is not None


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def lead_overlap(query_terms: set[str], title: str, text: str) -> float:
    """The larger share of ``query_terms`` found in the title's terms or in the first sentence's of ``text``."""
    from synthneg.diagnostics import coverage, terms

    first = _SENTENCE_END.split(text.strip(), maxsplit=1)[0]
    return max(coverage(query_terms, terms(title)) if title else 0.0, coverage(query_terms, terms(first)))


@dataclass
class FilterResult:
    kept: list[QueryRecord]
    rows: list[dict[str, Any]]  # one per input record: scores and verdict

    def counts(self) -> dict[str, int]:
        """How many were kept, and how many each reason rejected."""
        out: dict[str, int] = {"kept": len(self.kept)}
        for row in self.rows:
            if not row["kept"]:
                out[row["reason"]] = out.get(row["reason"], 0) + 1
        return out


def rank_of(scores: np.ndarray, pos: int) -> float:
    """1-based rank of corpus position ``pos`` by score (higher first, equal scores by position); inf if its score is
    not positive (BM25: no query term in the passage)."""
    s = scores[pos]
    if not s > 0:
        return math.inf
    return float(1 + np.count_nonzero(scores > s) + np.count_nonzero(scores[:pos] == s))


def round_trip_ranks(
    records: Sequence[QueryRecord],
    corpus: Corpus,
    *,
    retriever: Retriever = "bm25",
    encoder: Any = None,
    store: Path | None = None,
) -> list[float]:
    """The rank of each record's own passage among ``corpus`` for its query (``inf`` when BM25 scores it zero).

    ``retriever="dense"`` needs ``encoder`` (a :class:`~synthneg.search.dense.DenseEncoder`; its corpus embeddings
    are cached on disk). With ``store`` (a JSONL file beside a run) the dense ranks are kept there and read back when
    it holds them all, so that a rebuild encodes nothing and ranks alike on any machine.
    """
    position = {doc_id: i for i, doc_id in enumerate(corpus.ids)}
    missing = [r.positive_id for r in records if r.positive_id not in position]
    if missing:
        raise SynthnegError(f"{len(missing)} query records' passages are not in the collection (first: {missing[0]!r})")
    if retriever == "bm25":
        from synthneg.search.bm25 import BM25Index

        index = BM25Index.shared(corpus)
        scores = index.all_scores_many([r.query for r in records])
        return [rank_of(row, position[r.positive_id]) for r, row in zip(records, scores, strict=True)]
    if retriever == "dense":
        if encoder is None:
            raise SynthnegError("the dense round trip needs an encoder")
        return _dense_ranks(records, corpus, encoder, position, store)
    raise SynthnegError(f"retriever must be 'bm25' or 'dense', got {retriever!r}")


def _dense_ranks(
    records: Sequence[QueryRecord], corpus: Corpus, encoder: Any, position: dict[str, int], store: Path | None
) -> list[float]:
    """The dense round trip's ranks, from ``store`` when it holds every one (keys: the encoder's corpus-embedding
    key, its query prefix, the query and its passage's id; ``-1`` stands for a passage not retrieved)."""
    cache, keys = None, []
    if store is not None:
        from synthneg.mine.llm_reranker import JsonlScoreCache

        cache = JsonlScoreCache(store)
        space = json.dumps({"embeddings": encoder.cache_key(corpus), "query_prefix": encoder.query_prefix})
        keys = [hashlib.sha256(json.dumps([space, r.query, r.positive_id]).encode()).hexdigest()[:24] for r in records]
        have = cache.get_many(keys)
        if len(have) == len(keys):
            return [math.inf if have[k] < 0 else have[k] for k in keys]
    docs, _ = encoder.encode_corpus(corpus)
    queries = encoder.encode_queries([r.query for r in records])
    ranks = [rank_of(docs @ q, position[r.positive_id]) for r, q in zip(records, queries, strict=True)]
    if cache is not None:
        cache.put_many({k: -1.0 if math.isinf(rank) else rank for k, rank in zip(keys, ranks, strict=True)})
    return ranks


def _require_passages(records: Sequence[QueryRecord], corpus: Corpus) -> None:
    """The lead-copy rule reads each query's passage: fail before any work if one is not in the collection."""
    missing = [r.positive_id for r in records if r.positive_id not in corpus]
    if missing:
        raise SynthnegError(
            f"the lead-copy rule reads each query's passage: {len(missing)} are not in the collection "
            f"(first: {missing[0]!r})"
        )


def _filter_ranks(
    records: Sequence[QueryRecord], corpus: Corpus, config: QueryFilter, encoder: Any, store: Path | None
) -> tuple[Sequence[float | None], Sequence[float | None]]:
    """The round trip's ranks and the easy rule's dense ranks (``None`` each where its rule is off; one ranking
    serves both when the round trip is dense)."""
    off: list[float | None] = [None] * len(records)
    ranks: Sequence[float | None] = off
    if config.round_trip_k is not None:
        ranks = round_trip_ranks(records, corpus, retriever=config.retriever, encoder=encoder, store=store)
    if config.easy_dense_k is None:
        return ranks, off
    if config.retriever == "dense" and config.round_trip_k is not None:
        return ranks, ranks
    return ranks, round_trip_ranks(records, corpus, retriever="dense", encoder=encoder, store=store)


def _reason(
    rec: QueryRecord,
    q_terms: set[str],
    p_terms: set[str],
    lead: float | None,
    rank: float | None,
    dense_rank: float | None,
    config: QueryFilter,
) -> str | None:
    """The first rule (in the module docstring's order, the sibling and judge rules aside) that refuses ``rec``."""
    if len(rec.positive.split()) < config.min_passage_words:
        return "short_passage"
    if config.require_content_word and not q_terms & p_terms:
        return "no_content_word"
    if lead is not None and config.max_lead_overlap is not None and lead >= config.max_lead_overlap:
        return "lead_copy"
    if rank is not None and config.round_trip_k is not None and rank > config.round_trip_k:
        return "round_trip"
    if dense_rank is not None and config.easy_dense_k is not None and dense_rank <= config.easy_dense_k:
        return "easy"
    return None


@contextmanager
def judge_for(config: QueryFilter, *, cache: bool | Path = True, show_progress: bool = False) -> Iterator[Any]:
    """The judge rule's pair scorer (:func:`synthneg.mine.cross_encoder.load_scorer` of ``judge_model``, its scores
    cached in ``cache``), closed on exit; ``None`` when the rule is off."""
    if not config.needs_judge:
        yield None
        return
    from synthneg.mine.cross_encoder import load_scorer

    judge = load_scorer(config.judge_model, show_progress=show_progress, cache=cache)
    try:
        yield judge
    finally:
        close = getattr(judge, "close", None)
        if close is not None:
            close()


def _apply_judge(
    records: Sequence[QueryRecord],
    rows: list[dict[str, Any]],
    reasons: list[str | None],
    config: QueryFilter,
    judge: Any,
) -> None:
    """Score the queries no other rule refused against their own passages; refuse those under the threshold."""
    if config.judge_min_score is None:
        return
    if judge is None:
        raise SynthnegError("judge_min_score needs a judge (a pair scorer: the LLM reranker or a cross-encoder)")
    todo = [i for i, reason in enumerate(reasons) if reason is None]
    scores = judge.score([(records[i].query, records[i].positive) for i in todo]) if todo else []
    for i, score in zip(todo, scores, strict=True):
        rows[i]["judge"] = round(float(score), 4)
        if float(score) < config.judge_min_score:
            reasons[i] = "judge"


def filter_queries(
    records: Sequence[QueryRecord],
    corpus: Corpus,
    config: QueryFilter = QueryFilter(),
    *,
    encoder: Any = None,
    store: Path | None = None,
    judge: Any = None,
) -> FilterResult:
    """Apply ``config``'s filters to ``records`` (whose passages are in ``corpus``); see the module docstring.
    ``store``: where the dense ranks are kept (:func:`round_trip_ranks`); ``judge``: the pair scorer of the judge
    rule (:func:`synthneg.mine.cross_encoder.load_scorer`), needed when ``judge_min_score`` is set."""
    from synthneg.diagnostics import terms

    if config.max_lead_overlap is not None:
        _require_passages(records, corpus)
    ranks, dense_ranks = _filter_ranks(records, corpus, config, encoder, store)
    rows: list[dict[str, Any]] = []
    reasons: list[str | None] = []
    query_terms: list[set[str]] = []
    for rec, rank, dense_rank in zip(records, ranks, dense_ranks, strict=True):
        q_terms, p_terms = terms(rec.query), terms(rec.positive)
        overlap = len(q_terms & p_terms) / len(q_terms) if q_terms else 0.0
        row: dict[str, Any] = {
            "query_id": rec.query_id,
            "positive_id": rec.positive_id,
            "content_overlap": round(overlap, 4),
        }
        for name, value in ((f"rank_{config.retriever}", rank), ("rank_dense", dense_rank)):
            if value is not None:
                row[name] = None if math.isinf(value) else int(value)
        lead = None
        if config.max_lead_overlap is not None:
            doc = corpus[rec.positive_id]
            lead = lead_overlap(q_terms, doc.title, doc.text)
            row["lead_overlap"] = round(lead, 4)
        rows.append(row)
        reasons.append(_reason(rec, q_terms, p_terms, lead, rank, dense_rank, config))
        query_terms.append(q_terms)
    _apply_judge(records, rows, reasons, config, judge)
    kept = _apply_siblings(records, rows, reasons, query_terms, config)
    return FilterResult(kept, rows)


def _apply_siblings(
    records: Sequence[QueryRecord],
    rows: list[dict[str, Any]],
    reasons: list[str | None],
    query_terms: list[set[str]],
    config: QueryFilter,
) -> list[QueryRecord]:
    """The sibling rule, in order (only kept queries count as siblings); set every row's verdict; the kept records."""
    from synthneg.diagnostics import jaccard

    kept: list[QueryRecord] = []
    kept_terms: dict[str, list[set[str]]] = {}  # passage id -> the kept queries' terms
    for rec, row, verdict, q_terms in zip(records, rows, reasons, query_terms, strict=True):
        reason = verdict
        if config.max_sibling_overlap is not None:
            siblings = kept_terms.setdefault(rec.positive_id, [])
            sibling = max((jaccard(q_terms, other) for other in siblings), default=None)
            row["sibling_overlap"] = None if sibling is None else round(sibling, 4)  # None: no kept sibling yet
            if reason is None and sibling is not None and sibling >= config.max_sibling_overlap:
                reason = "sibling_copy"
            if reason is None:
                siblings.append(q_terms)
        row["kept"], row["reason"] = reason is None, reason
        if reason is None:
            kept.append(rec)
    return kept
