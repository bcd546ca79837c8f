"""Cosine similarities of text pairs under a bi-encoder, kept in a JSONL store beside a run.

The near-miss negatives use the base encoder twice: the similarity of each rewrite to its query (the drift) and of
each candidate passage to its query (the hardness that picks the kept candidate). Stored, they replay exactly on any
machine (an encoder's last bits differ between CPUs and library versions, and a near tie could pick another
candidate), and a rebuild of a committed run encodes nothing. The store holds hashes and scores only, no text
(:class:`~synthneg.mine.llm_reranker.JsonlScoreCache`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


class StoredCosines:
    """``cosines(a, b)[i]`` = cos(encode(a[i]), encode(b[i])); pairs already in the store at ``path`` are read, the
    others encoded (each distinct text once) and appended. ``identity`` names the encoder in every key."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], identity: str, path: Path) -> None:
        from synthneg.mine.llm_reranker import JsonlScoreCache

        self.encode, self.identity = encode, identity
        self.store = JsonlScoreCache(path)
        self.encoded = 0  # texts encoded by this object (0 on a replay from a complete store)

    def key(self, a: str, b: str) -> str:
        return hashlib.sha256(json.dumps([self.identity, a, b]).encode()).hexdigest()[:24]

    def __call__(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        if len(a) != len(b):
            raise ValueError(f"{len(a)} texts against {len(b)}: cosines are of pairs")
        keys = [self.key(x, y) for x, y in zip(a, b, strict=True)]
        have = self.store.get_many(keys)
        missing = [i for i, k in enumerate(keys) if k not in have]
        if missing:
            texts = sorted({a[i] for i in missing} | {b[i] for i in missing})
            vectors = dict(zip(texts, self.encode(texts), strict=True))
            self.encoded += len(texts)
            new = {keys[i]: float(np.dot(vectors[a[i]], vectors[b[i]])) for i in missing}
            self.store.put_many(new)
            have.update(new)
        return np.array([have[k] for k in keys], dtype=np.float64)
