"""BM25 over a corpus with bm25s (Snowball stemmer, English stopwords, title + text)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from synthneg.data.beir import Corpus

logger = logging.getLogger(__name__)

Run = dict[str, dict[str, float]]


@dataclass
class BM25Index:
    """A bm25s index of a corpus. ``k1``/``b``/``method`` are bm25s' (defaults: 1.5, 0.75, lucene)."""

    corpus: Corpus
    k1: float = 1.5
    b: float = 0.75
    method: str = "lucene"
    stemmer_language: str | None = "english"
    stopwords: str | None = "en"
    show_progress: bool = False
    _retriever: Any = field(init=False, repr=False)
    _stemmer: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import bm25s

        self._stemmer = None
        if self.stemmer_language:
            import Stemmer

            self._stemmer = Stemmer.Stemmer(self.stemmer_language)
        tokens = bm25s.tokenize(
            self.corpus.texts(),
            stopwords=self.stopwords,
            stemmer=self._stemmer,
            show_progress=self.show_progress,
        )
        self._retriever = bm25s.BM25(k1=self.k1, b=self.b, method=self.method)
        self._retriever.index(tokens, show_progress=self.show_progress)

    def search_arrays(self, texts: Sequence[str], k: int, n_threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` corpus positions and scores per query text, as ``(n, k)`` arrays."""
        import bm25s

        k = min(k, len(self.corpus))
        q_tokens = bm25s.tokenize(list(texts), stopwords=self.stopwords, stemmer=self._stemmer, show_progress=False)
        positions, scores = self._retriever.retrieve(
            q_tokens, k=k, show_progress=self.show_progress, n_threads=n_threads
        )
        return np.asarray(positions), np.asarray(scores, dtype=np.float32)

    def score_positions(self, text: str, positions: Sequence[int]) -> np.ndarray:
        """BM25 scores of one query text against the given corpus positions (e.g. its positives)."""
        import bm25s

        tokens = bm25s.tokenize(
            [text], stopwords=self.stopwords, stemmer=self._stemmer, return_ids=False, show_progress=False
        )[0]
        known = [t for t in tokens if t in self._retriever.vocab_dict]
        if not known:
            return np.zeros(len(positions), dtype=np.float32)
        scores = self._retriever.get_scores(known)
        return np.asarray(scores, dtype=np.float32)[np.asarray(positions, dtype=np.int64)]

    def search(self, queries: dict[str, str], k: int = 100, n_threads: int = 0) -> Run:
        """Top-``k`` documents per query as a run ``{qid: {doc_id: score}}`` (zero scores dropped)."""
        qids = list(queries)
        positions, scores = self.search_arrays([queries[q] for q in qids], k, n_threads=n_threads)
        ids = self.corpus.ids
        run: Run = {}
        for qi, qid in enumerate(qids):
            run[qid] = {ids[p]: float(s) for p, s in zip(positions[qi], scores[qi], strict=True) if s > 0}
        return run
