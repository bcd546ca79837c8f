"""Data layer: BEIR folders, users' passage files, and where datasets live."""

from synthneg.data.beir import (
    BeirDataset,
    Corpus,
    Document,
    Qrels,
    Queries,
    clear_corpus_memo,
    load_beir,
    load_corpus,
    load_qrels,
    load_queries,
)
from synthneg.data.locate import BEIR_DATASETS, resolve_dataset
from synthneg.data.passages import read_passages

__all__ = [
    "BEIR_DATASETS",
    "BeirDataset",
    "Corpus",
    "Document",
    "Qrels",
    "Queries",
    "clear_corpus_memo",
    "load_beir",
    "load_corpus",
    "load_qrels",
    "load_queries",
    "read_passages",
    "resolve_dataset",
]
