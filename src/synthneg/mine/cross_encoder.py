"""Cross-encoder hard negatives (the paper's "CE HN"): first-stage candidates (BM25 or dense)
re-scored by a pair scorer; the highest-scored candidate that stays below a margin of the positive's
score becomes the negative.

Scorers: any sentence-transformers ``CrossEncoder`` by name or path (:class:`CrossEncoderScorer`),
or, offline, the embedded LLM as a pointwise reranker (:class:`~synthneg.mine.llm_reranker.LLMReranker`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from synthneg.console import library_bars
from synthneg.data.beir import Corpus
from synthneg.data.triples import QueryRecord, Triple
from synthneg.errors import ModelError
from synthneg.mine.common import build_triples, group_records, progress
from synthneg.mine.filters import SelectionConfig, SelectionStats, select_negatives
from synthneg.search.bm25 import BM25Index
from synthneg.search.dense import DenseEncoder

logger = logging.getLogger(__name__)

FirstStage = Literal["bm25", "dense"]
DEFAULT_CE_CONFIG = SelectionConfig(num_negatives=1, absolute_margin=0.0)


class PairScorer(Protocol):
    """Anything that scores ``(query, passage)`` pairs, higher = more relevant."""

    @property
    def identity(self) -> str: ...

    def score(self, pairs: Sequence[tuple[str, str]], *, show_progress: bool | None = None) -> np.ndarray: ...


@dataclass
class CrossEncoderScorer:
    """A sentence-transformers ``CrossEncoder`` (hub name or local path)."""

    model: str
    batch_size: int = 32
    max_length: int | None = None
    device: str | None = None
    show_progress: bool = False
    _ce: Any = field(default=None, init=False, repr=False)

    @property
    def identity(self) -> str:
        from synthneg.models import model_identity

        return f"cross-encoder:{model_identity(self.model)}"

    def _load(self) -> Any:
        if self._ce is None:
            from sentence_transformers import CrossEncoder

            try:
                self._ce = CrossEncoder(self.model, max_length=self.max_length, device=self.device or "cpu")
            except OSError as exc:
                raise ModelError(f"could not load CrossEncoder {self.model!r}: {exc}") from None
        return self._ce

    def score(self, pairs: Sequence[tuple[str, str]], *, show_progress: bool | None = None) -> np.ndarray:
        """Raw CrossEncoder scores (logits for one-label models) for the pairs."""
        show = (self.show_progress if show_progress is None else show_progress) and library_bars()
        scores = self._load().predict(
            [list(p) for p in pairs], batch_size=self.batch_size, show_progress_bar=show, convert_to_numpy=True
        )
        scores = np.asarray(scores, dtype=np.float32)
        if scores.ndim == 2:  # multi-label heads: use the last column (the "relevant" label by convention)
            scores = scores[:, -1]
        return scores


def is_llm_scorer(spec: str) -> bool:
    """Whether a scorer spec names the LLM reranker (``llm``, ``llm:<name>``, a ``.gguf`` path)."""
    return spec == "llm" or spec.startswith("llm:") or spec.endswith(".gguf")


def load_scorer(spec: str, *, show_progress: bool = False, cache: bool | Path = True) -> PairScorer:
    """``llm`` / ``llm:<embedded name or .gguf path>`` for the LLM reranker, else a CrossEncoder name/path.

    ``cache`` is the LLM reranker's score store (True: the user cache; a path: SQLite or ``.jsonl``);
    a CrossEncoder is fast enough to run uncached.
    """
    if is_llm_scorer(spec):
        from synthneg.mine.llm_reranker import LLMReranker

        name = spec.split(":", 1)[1] if spec.startswith("llm:") else ("qwen2.5-coder-0.5b" if spec == "llm" else spec)
        return LLMReranker(model=name, show_progress=show_progress, cache=cache)
    return CrossEncoderScorer(spec, show_progress=show_progress)


def _first_stage(
    groups_queries: list[str],
    corpus: Corpus,
    first_stage: FirstStage,
    depth: int,
    index: BM25Index | None,
    encoder: DenseEncoder | None,
) -> tuple[np.ndarray, np.ndarray, str]:
    if first_stage == "dense":
        from synthneg.mine.dense import encode_queries_cached, top_k_numpy

        encoder = encoder or DenseEncoder(show_progress=False)
        doc_emb, _ = encoder.encode_corpus(corpus)
        q_emb, _ = encode_queries_cached(encoder, groups_queries)
        pos, sc = top_k_numpy(q_emb, doc_emb, depth)
        return pos, sc, f"dense:{encoder.model}"
    index = index or BM25Index.shared(corpus)
    pos, sc = index.search_arrays(groups_queries, depth)
    keep = sc > 0
    pos = np.where(keep, pos, -1)
    return pos, sc, "bm25"


def mine_ce(
    records: Sequence[QueryRecord],
    corpus: Corpus,
    scorer: PairScorer,
    config: SelectionConfig | None = None,
    *,
    first_stage: FirstStage = "bm25",
    candidates: int = 30,
    index: BM25Index | None = None,
    encoder: DenseEncoder | None = None,
    show_progress: bool = False,
) -> list[Triple]:
    """Mine cross-encoder negatives (method ``ce``).

    The top ``candidates`` first-stage hits (positives excluded) and every positive are scored by
    ``scorer``; candidates are then ranked by that score and selected with ``config`` (default:
    one negative, ``absolute_margin=0``: the best-scored candidate not above the positive).
    ``scores``: ``negative``/``positive`` (scorer), ``rank`` (scorer rank among non-positives),
    ``first_stage`` and ``first_stage_rank``.
    """
    config = config or DEFAULT_CE_CONFIG
    groups = group_records(records)
    t0 = time.perf_counter()
    max_pos = max(len(g.records) for g in groups)
    positions, fs_scores, fs_name = _first_stage(
        [g.query for g in groups], corpus, first_stage, candidates + max_pos, index, encoder
    )
    # One scoring call for all pairs: lets the scorer batch and report one progress bar.
    per_group, pairs = _candidate_pairs(groups, corpus, positions, fs_scores, candidates)
    t1 = time.perf_counter()
    scored_before = getattr(scorer, "pairs_scored", None)
    all_scores = scorer.score(pairs, show_progress=show_progress)
    t2 = time.perf_counter()
    # A scorer with a store (the LLM reranker) reuses finished pairs: the rate counts only those paid now.
    n_scored = len(pairs) if scored_before is None else scorer.pairs_scored - scored_before
    provenance = {
        "method": "ce",
        "model": scorer.identity,
        "first_stage": fs_name,
        "candidates": candidates,
        "corpus": corpus.fingerprint[:16],
        "parameters": config.to_dict(),
        "seed": config.seed,
    }
    stats = SelectionStats()
    triples = _select(groups, per_group, all_scores, corpus, config, provenance, stats, show_progress)
    stats.log("ce")
    logger.info(
        "ce: %d triples for %d queries (first stage %.2fs; %d pairs, %d scored now in %.2fs = %.2f pairs/s)",
        len(triples),
        len(groups),
        t1 - t0,
        len(pairs),
        n_scored,
        t2 - t1,
        n_scored / max(t2 - t1, 1e-9),
    )
    return triples


def _candidate_pairs(
    groups: Sequence[Any], corpus: Corpus, positions: Any, fs_scores: Any, candidates: int
) -> tuple[list[tuple[list[int], list[float]]], list[tuple[str, str]]]:
    """Per query group, its first ``candidates`` first-stage hits that are not a positive (corpus positions and
    first-stage scores); and every (query, text) pair to score: the candidates, then the group's positives."""
    texts, ids = corpus.texts(), corpus.ids
    per_group: list[tuple[list[int], list[float]]] = []
    pairs: list[tuple[str, str]] = []
    for gi, group in enumerate(groups):
        hits = [
            (int(p), float(s))
            for p, s in zip(positions[gi], fs_scores[gi], strict=True)
            if p >= 0 and ids[int(p)] not in group.positive_ids and texts[int(p)] not in group.positive_texts
        ][:candidates]
        cand = [p for p, _ in hits]
        per_group.append((cand, [s for _, s in hits]))
        pairs += [(group.query, texts[p]) for p in cand]
        pairs += [(group.query, r.positive) for r in group.records]
    return per_group, pairs


def _select(
    groups: Sequence[Any],
    per_group: list[tuple[list[int], list[float]]],
    all_scores: np.ndarray,
    corpus: Corpus,
    config: SelectionConfig,
    provenance: dict[str, Any],
    stats: SelectionStats,
    show_progress: bool,
) -> list[Triple]:
    """Rank each group's candidates by the scorer and select each record's negatives below its positive."""
    ids = corpus.ids
    triples: list[Triple] = []
    offset = 0
    for group, (cand, fs) in zip(progress(groups, desc="ce select", enabled=show_progress), per_group, strict=True):
        ce = all_scores[offset : offset + len(cand)]
        pos_scores = all_scores[offset + len(cand) : offset + len(cand) + len(group.records)]
        offset += len(cand) + len(group.records)
        order = np.argsort(-ce, kind="stable")
        cand_pos = [cand[i] for i in order]
        extra = {"first_stage": [fs[i] for i in order], "first_stage_rank": [float(i) for i in order]}
        for record, pos_score in zip(group.records, pos_scores.tolist(), strict=True):
            chosen = select_negatives(
                [ids[p] for p in cand_pos],
                ce[order],
                query_id=record.query_id,
                exclude_ids=group.positive_ids,
                config=config,
                positive_score=pos_score,
                stats=stats,
            )
            triples += build_triples(
                record,
                corpus,
                cand_pos,
                chosen,
                method="ce",
                positive_score=pos_score,
                provenance=provenance,
                extra_scores=extra,
            )
    return triples
