"""How generated queries look: the failure shapes a reader sees first, counted, and their length
against the target collection's real queries.

- ``copies_title``: the query is the passage's title (normalised), or most of it verbatim
  (:func:`synthneg.llm.parse.copies_title`);
- ``mentions_passage``: it talks about the document instead of its content ("the passage",
  "this study", "the paper", ...);
- ``no_content_word``: it shares no content word (beyond stopwords) with its passage: generic.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from synthneg.data.triples import QueryRecord
from synthneg.llm.parse import copies_title, words

_MENTIONS = re.compile(
    r"\b(?:the|this|that|these|given|above|following)\s+(?:passage|study|paper|article|abstract|text|document|research)s?\b",
    re.IGNORECASE,
)
# A short English stopword list (function words only), enough to tell "no content word" apart.
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)


def content_words(text: str) -> set[str]:
    """Lower-cased words of ``text`` that are not stopwords or single characters."""
    return {w for w in words(text) if w not in STOPWORDS and len(w) > 1}


def _norm(text: str) -> str:
    return " ".join(words(text))


def _length(texts: Sequence[str]) -> dict[str, float]:
    n = [len(words(t)) for t in texts]
    if not n:
        return {"n": 0}
    q = statistics.quantiles(n, n=4) if len(n) > 1 else [n[0]] * 3
    return {"n": len(n), "mean": statistics.fmean(n), "p25": q[0], "median": q[1], "p75": q[2]}


def query_quality(
    records: Sequence[QueryRecord], titles: Mapping[str, str], target: Sequence[str] = ()
) -> dict[str, Any]:
    """Shares of title copies, passage mentions and generic queries, and length against ``target``.

    ``titles`` maps a positive's id to its title (empty when it has none); ``target`` holds real queries
    of the collection (e.g. its train split) for the length comparison.
    """
    n = len(records)
    title_copy = mention = generic = 0
    for r in records:
        title = titles.get(r.positive_id, "")
        if title and (_norm(r.query) == _norm(title) or copies_title(r.query, title)):
            title_copy += 1
        if _MENTIONS.search(r.query):
            mention += 1
        if not content_words(r.query) & content_words(r.positive):
            generic += 1
    share = (lambda k: k / n) if n else (lambda k: 0.0)
    return {
        "queries": n,
        "copies_title": share(title_copy),
        "mentions_passage": share(mention),
        "no_content_word": share(generic),
        "length_words": _length([r.query for r in records]),
        "target_length_words": _length(list(target)),
    }
