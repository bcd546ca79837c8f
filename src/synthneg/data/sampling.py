"""Subsampling an evaluation corpus for quick runs: every judged document plus a seeded sample."""

from __future__ import annotations

import random

from synthneg.data.beir import BeirDataset, Corpus


def subsample_corpus(ds: BeirDataset, size: int, seed: int = 0) -> BeirDataset:
    """Every judged document plus a seeded sample of the others, up to ``size`` documents in all."""
    judged = {d for rels in ds.qrels.values() for d in rels}
    others = [i for i, d in enumerate(ds.corpus.documents) if d.id not in judged]
    room = max(0, size - (len(ds.corpus) - len(others)))
    keep = set(random.Random(seed).sample(others, min(room, len(others))))
    docs = [d for i, d in enumerate(ds.corpus.documents) if d.id in judged or i in keep]
    return BeirDataset(ds.name, ds.path, ds.split, Corpus.from_documents(docs, ds.corpus.source), ds.queries, ds.qrels)
