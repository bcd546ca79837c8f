"""Random negatives: one uniformly drawn passage per query (never its positive), the ``random`` arm."""

from __future__ import annotations

import random

from synthneg.data.beir import Corpus
from synthneg.data.triples import QueryRecord, Triple


def random_negatives(records: list[QueryRecord], corpus: Corpus, seed: int) -> list[Triple]:
    """One uniformly random passage per record (never its positive): the ``random`` arm."""
    rng = random.Random(seed)
    docs = corpus.documents
    out = []
    for rec in records:
        neg = docs[rng.randrange(len(docs))]
        while neg.id == rec.positive_id and len(docs) > 1:
            neg = docs[rng.randrange(len(docs))]
        out.append(
            Triple(
                rec.query_id,
                rec.query,
                rec.positive_id,
                rec.positive,
                neg.full_text(),
                "random",
                negative_id=neg.id,
                provenance={"method": "random", "seed": seed},
            )
        )
    return out
