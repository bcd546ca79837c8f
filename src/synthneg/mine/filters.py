"""Candidate selection shared by every miner: rank window, margins to the positive, score caps, sampling.

The semantics follow sentence-transformers' ``mine_hard_negatives`` so that users can carry their
settings over:

* ranks are 0-based positions among the candidates of one query *after* the query's positives
  (by id, or by identical text) have been removed, so ``range_min=0`` allows the top non-positive hit;
* ``range_max`` is exclusive: candidates with ``range_min <= rank < range_max`` are kept;
* ``absolute_margin`` keeps a candidate only if ``score <= positive_score - absolute_margin``;
* ``relative_margin`` keeps it only if ``score <= positive_score - relative_margin * |positive_score|``;
* ``max_score`` / ``min_score`` bound the candidate's own score;
* ``sampling="top"`` takes the best remaining candidates, ``"random"`` samples uniformly among them
  with a generator seeded per query (``seed`` + the query id), so results do not depend on order.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from synthneg.errors import SynthnegError

logger = logging.getLogger(__name__)

Sampling = Literal["top", "random"]


@dataclass(frozen=True)
class SelectionConfig:
    """How negatives are chosen from a ranked candidate list (see the module docstring)."""

    num_negatives: int = 1
    range_min: int = 0
    range_max: int | None = None
    absolute_margin: float | None = None
    relative_margin: float | None = None
    max_score: float | None = None
    min_score: float | None = None
    sampling: Sampling = "top"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_negatives < 1:
            raise SynthnegError(f"num_negatives must be >= 1, got {self.num_negatives}")
        if self.range_min < 0:
            raise SynthnegError(f"range_min must be >= 0, got {self.range_min}")
        if self.range_max is not None and self.range_max <= self.range_min:
            raise SynthnegError(f"range_max ({self.range_max}) must be > range_min ({self.range_min})")
        if self.sampling not in ("top", "random"):
            raise SynthnegError(f"sampling must be 'top' or 'random', got {self.sampling!r}")
        if self.relative_margin is not None and not 0 <= self.relative_margin <= 1:
            raise SynthnegError(f"relative_margin must be in [0, 1], got {self.relative_margin}")

    @property
    def uses_positive_score(self) -> bool:
        """Whether selection needs the positive's score (a margin is set)."""
        return self.absolute_margin is not None or self.relative_margin is not None

    def depth(self, extra: int = 0) -> int:
        """How many candidates to retrieve so the window can be filled: window end plus ``extra`` positives."""
        end = self.range_max if self.range_max is not None else max(self.range_min + self.num_negatives, 30)
        return end + extra

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SelectionStats:
    """Why candidates were skipped, summed over queries (logged at the end of a mining run). With ``top``
    sampling a query's candidates are read only until its window is full, so skips past that are not counted."""

    queries: int = 0
    short: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def log(self, method: str) -> None:
        if self.skipped:
            reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.skipped.items()))
            logger.info("%s: skipped candidates (%s)", method, reasons)
        if self.short:
            logger.warning(
                "%s: %d of %d query records got fewer negatives than asked; widen range_max or relax the margins",
                method,
                self.short,
                self.queries,
            )


@dataclass(frozen=True)
class Selected:
    """One chosen candidate: its index in the candidate list, its rank after positives, its score."""

    index: int
    rank: int
    score: float


def query_rng(seed: int, query_id: str) -> np.random.Generator:
    """A generator that depends only on the seed and the query id (order-independent sampling)."""
    digest = hashlib.sha256(f"{seed}\x00{query_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def select_negatives(
    candidate_ids: Sequence[str],
    candidate_scores: Sequence[float] | np.ndarray,
    *,
    query_id: str,
    exclude_ids: set[str] | frozenset[str],
    config: SelectionConfig,
    positive_score: float | None = None,
    candidate_texts: Sequence[str] | None = None,
    exclude_texts: set[str] | frozenset[str] = frozenset(),
    stats: SelectionStats | None = None,
) -> list[Selected]:
    """Choose negatives from candidates sorted best first.

    Candidates whose id is in ``exclude_ids`` (the query's positives) or whose text is in
    ``exclude_texts`` are never chosen and do not count towards ranks. A margin needs
    ``positive_score``; without it a :class:`SynthnegError` is raised.
    """
    if config.uses_positive_score and positive_score is None:
        raise SynthnegError("a margin is set but the positive's score is unknown")
    if len(candidate_ids) != len(candidate_scores):
        raise SynthnegError(f"{len(candidate_ids)} candidate ids but {len(candidate_scores)} scores")
    kept: list[Selected] = []
    rank = -1
    for i, (cid, raw) in enumerate(zip(candidate_ids, candidate_scores, strict=True)):
        score = float(raw)
        if cid in exclude_ids or (candidate_texts is not None and candidate_texts[i] in exclude_texts):
            reason = "positive"
        else:
            rank += 1
            reason = _reject_reason(rank, score, config, positive_score)
        if reason is not None:
            if stats is not None:
                stats.skipped[reason] += 1
            continue
        kept.append(Selected(i, rank, score))
        if config.sampling != "random" and len(kept) == config.num_negatives:
            break  # the best-first window is full: the rest cannot be chosen (their skip reasons go uncounted)
    if config.sampling == "random" and len(kept) > config.num_negatives:
        rng = query_rng(config.seed, query_id)
        picks = sorted(rng.choice(len(kept), size=config.num_negatives, replace=False).tolist())
        chosen = [kept[p] for p in picks]
    else:
        chosen = kept[: config.num_negatives]
    if stats is not None:
        stats.queries += 1
        stats.short += len(chosen) < config.num_negatives
    return chosen


def _reject_reason(rank: int, score: float, config: SelectionConfig, positive_score: float | None) -> str | None:
    if rank < config.range_min:
        return "range_min"
    if config.range_max is not None and rank >= config.range_max:
        return "range_max"
    if config.max_score is not None and score > config.max_score:
        return "max_score"
    if config.min_score is not None and score < config.min_score:
        return "min_score"
    if positive_score is not None:
        if config.absolute_margin is not None and score > positive_score - config.absolute_margin:
            return "absolute_margin"
        if config.relative_margin is not None and score > positive_score - config.relative_margin * abs(positive_score):
            return "relative_margin"
    return None
