"""Mined hard negatives: BM25, dense (bi-encoder) and cross-encoder / LLM reranker, with the
false-negative filters of sentence-transformers' ``mine_hard_negatives`` (rank window, absolute and
relative margins to the positive, score bounds, top/random sampling).

Every miner returns :class:`~synthneg.data.triples.Triple` rows (methods ``bm25``, ``dense``, ``ce``).
"""

from synthneg.mine.bm25 import mine_bm25
from synthneg.mine.cross_encoder import CrossEncoderScorer, PairScorer, load_scorer, mine_ce
from synthneg.mine.dense import mine_dense
from synthneg.mine.filters import SelectionConfig, select_negatives

__all__ = [
    "CrossEncoderScorer",
    "PairScorer",
    "SelectionConfig",
    "load_scorer",
    "mine_bm25",
    "mine_ce",
    "mine_dense",
    "select_negatives",
]
