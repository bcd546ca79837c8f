"""Contamination check: do the training passages overlap the evaluation corpora?

A training passage counts as contaminated when it shares a 13-word shingle with an evaluation
document (the n-gram test used in LLM contamination studies), or when its normalised text equals one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from synthneg.data.beir import Corpus

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

    def to_dict(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "passages": self.passages,
            "exact_duplicates": self.exact,
            "sharing_a_13gram": self.shingle_hits,
            "examples": self.examples,
        }


def check_contamination(train: Corpus, evaluation: Corpus, dataset: str, n: int = 13) -> Contamination:
    """Count training passages that duplicate, or share an ``n``-word shingle with, an evaluation document."""
    eval_shingles: set[tuple[str, ...]] = set()
    eval_texts: set[str] = set()
    for text in evaluation.texts():
        eval_shingles |= _shingles(text, n)
        eval_texts.add(" ".join(_WORD.findall(text.lower())))
    exact = hits = 0
    examples: list[str] = []
    for doc in train.documents:
        text = doc.full_text()
        if " ".join(_WORD.findall(text.lower())) in eval_texts:
            exact += 1
        if not _shingles(text, n).isdisjoint(eval_shingles):
            hits += 1
            if len(examples) < 3:
                examples.append(doc.id)
    return Contamination(dataset, len(train), exact, hits, examples)


def contamination_report(train: Corpus, evaluations: Iterable[tuple[str, Corpus]]) -> list[dict[str, object]]:
    return [check_contamination(train, corpus, name).to_dict() for name, corpus in evaluations]
