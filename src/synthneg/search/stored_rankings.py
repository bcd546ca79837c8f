"""Each query's dense ranking (its top candidates' ids and scores under a bi-encoder) and its positives' scores,
kept in a JSONL store beside a run.

Dense mining reads a whole corpus's embeddings; stored, its rankings replay exactly on any machine (an encoder's
last bits differ between CPUs and library versions, and a near tie could pick another negative), and a rebuild of a
committed run encodes nothing. The store holds hashes, document ids and scores only, no text. Keys name the
encoder's corpus-embedding key (model, passage prefix, max_seq_length, corpus fingerprint, ...), the query prefix,
the search depth and back-end, and the query.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthneg.jsonl_store import JsonlStore


@dataclass(frozen=True)
class Ranking:
    """One query's candidates best first (document ids and scores) and the scores of its positives, by id."""

    ids: tuple[str, ...]
    scores: tuple[float, ...]
    positives: dict[str, float]

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Ranking:
        ids = tuple(str(i) for i in value["ids"])
        scores = tuple(float(s) for s in value["scores"])
        if len(ids) != len(scores):
            raise ValueError(f"{len(ids)} ids but {len(scores)} scores")
        return cls(ids, scores, {str(k): float(v) for k, v in value["positives"].items()})

    def to_json(self) -> dict[str, Any]:
        return {"ids": list(self.ids), "scores": list(self.scores), "positives": self.positives}


class _RankingStore(JsonlStore):
    field = "ranking"

    def decode(self, value: Any) -> dict[str, Any]:
        ranking = Ranking.from_json(value)  # checked on load: a malformed line is skipped with a warning
        return ranking.to_json()


class StoredRankings:
    """The rankings of one search space (``space``: the encoder, corpus, depth and back-end, see the module
    docstring) in the store at ``path``."""

    def __init__(self, path: Path, space: dict[str, Any]) -> None:
        self.store = _RankingStore(path)
        self.space = json.dumps(space, sort_keys=True)

    def key(self, query: str) -> str:
        return hashlib.sha256(json.dumps([self.space, query]).encode()).hexdigest()[:24]

    def lookup(self, queries: Sequence[str], positives: Sequence[frozenset[str]]) -> list[Ranking] | None:
        """Every query's ranking, or None if any is missing (or lacks a positive's score): then mine afresh."""
        keys = [self.key(q) for q in queries]
        have = self.store.get_many(keys)
        out = [Ranking.from_json(have[k]) if k in have else None for k in keys]
        if any(r is None or not ids <= r.positives.keys() for r, ids in zip(out, positives, strict=True)):
            return None
        return [r for r in out if r is not None]

    def save(self, queries: Sequence[str], rankings: Sequence[Ranking]) -> None:
        self.store.put_many({self.key(q): r.to_json() for q, r in zip(queries, rankings, strict=True)})
