"""Retrieval back-ends shared by evaluation and mining: BM25 (bm25s) and dense (exact or FAISS)."""

from synthneg.search.bm25 import BM25Index
from synthneg.search.dense import DenseEncoder, dense_search

__all__ = ["BM25Index", "DenseEncoder", "dense_search"]
