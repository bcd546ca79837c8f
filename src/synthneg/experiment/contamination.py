"""Contamination check: do the training passages overlap the evaluation corpora?

A training passage counts as contaminated when it shares a 13-word shingle with an evaluation
document (the n-gram test used in LLM contamination studies), or when its normalised text equals one.

In-domain runs sample their passages from the evaluation corpus on purpose (the setting of GPL and
InPars: adapt to the collection you will search), so every passage is an exact duplicate there. What
the check adds for them is how many training passages are *judged relevant* for a query of the
evaluated split, and how many of those queries have such a passage: the part of the test set whose
answers were seen in training (with synthetic queries; the split's queries and qrels are never read
for training).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from synthneg.data.beir import Corpus, Qrels

_WORD = re.compile(r"\w+")


def _shingles(text: str, n: int) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(max(len(words) - n + 1, 0))}


@dataclass(frozen=True)
class Contamination:
    dataset: str
    passages: int
    exact: int
    shingle_hits: int
    examples: list[str]
    judged_relevant: int | None = None
    touched_ids: list[str] | None = None
    queries: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "passages": self.passages,
            "exact_duplicates": self.exact,
            "sharing_a_13gram": self.shingle_hits,
            "examples": self.examples,
            "judged_relevant": self.judged_relevant,
            "queries_with_a_training_passage": None if self.touched_ids is None else len(self.touched_ids),
            "queries": self.queries,
            "query_ids_with_a_training_passage": self.touched_ids,
        }


def _normalised(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def check_contamination(
    train: Corpus, evaluation: Corpus, dataset: str, n: int = 13, qrels: Qrels | None = None
) -> Contamination:
    """Count training passages that duplicate, or share an ``n``-word shingle with, an evaluation document.

    With ``qrels`` (the evaluated split's judgments), also count the training passages whose text equals
    a document judged relevant (grade > 0), and the queries with at least one such document.
    """
    eval_shingles: set[tuple[str, ...]] = set()
    eval_norm: dict[str, str] = {}  # document id -> normalised text, each computed once
    for doc in evaluation.documents:
        text = doc.full_text()
        eval_shingles |= _shingles(text, n)
        eval_norm[doc.id] = _normalised(text)
    eval_texts = set(eval_norm.values())
    train_norm = [_normalised(doc.full_text()) for doc in train.documents]
    judged: int | None = None
    touched: list[str] | None = None
    if qrels is not None:
        train_texts = set(train_norm)
        relevant = {
            qid: {eval_norm[d] for d, g in rels.items() if g > 0 and d in eval_norm} for qid, rels in qrels.items()
        }
        judged = len(train_texts & set().union(*relevant.values()))
        touched = sorted(qid for qid, texts in relevant.items() if texts & train_texts)
    exact = hits = 0
    examples: list[str] = []
    for doc, norm in zip(train.documents, train_norm, strict=True):
        if norm in eval_texts:
            exact += 1
        if not _shingles(doc.full_text(), n).isdisjoint(eval_shingles):
            hits += 1
            if len(examples) < 3:
                examples.append(doc.id)
    n_queries = len(qrels) if qrels is not None else None
    return Contamination(dataset, len(train), exact, hits, examples, judged, touched, n_queries)


def contamination_report(
    train: Corpus, evaluations: Iterable[tuple[str, Corpus, Qrels | None]]
) -> list[dict[str, object]]:
    """One row per evaluation set: ``(name, corpus, qrels of the evaluated split or None)``."""
    return [check_contamination(train, corpus, name, qrels=qrels).to_dict() for name, corpus, qrels in evaluations]


def seen_split(per_query: dict[str, float], touched: Iterable[str]) -> dict[str, float | int | None]:
    """Mean of per-query scores on the evaluated queries with a relevant training passage ("seen") and without.

    In-domain training passages can be judged relevant for test queries; this split shows whether an arm's
    gain comes from those queries or holds on the rest. A mean is ``None`` when its group is empty.
    """
    seen = set(touched)
    a = [v for q, v in per_query.items() if q in seen]
    b = [v for q, v in per_query.items() if q not in seen]
    return {
        "seen": sum(a) / len(a) if a else None,
        "unseen": sum(b) / len(b) if b else None,
        "n_seen": len(a),
        "n_unseen": len(b),
    }


def is_current(path: Path) -> bool:
    """True when ``path`` holds a contamination check with the judged-relevant query ids (added later)."""
    if not path.is_file():
        return False
    rows = json.loads(path.read_text(encoding="utf-8"))
    return all("query_ids_with_a_training_passage" in row for row in rows)
