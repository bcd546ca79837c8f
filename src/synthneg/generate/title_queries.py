"""The free baseline of query generation: a passage's title as its query (no LLM call).

Scientific and encyclopedic collections usually have titles, and a title is a short description of what its passage is
about: the cheapest query there is. Every LLM-query arm should beat it at the same number of passages, or the LLM is
not earning its cost. The positive is the passage's text without its title (with the title the pair would be a copy),
and so is a mined negative (:func:`untitled_text`): with its title left in, every negative but no positive would
open with a title, a cue the model can learn instead of the topic.
"""

from __future__ import annotations

from collections.abc import Iterable

from synthneg.data.beir import Document
from synthneg.data.triples import QueryRecord

#: titles shorter than this (in words) are too generic to be a query ("Introduction", "Results")
MIN_TITLE_WORDS = 4


def untitled_text(doc: Document) -> str:
    """A passage's text without its title, whitespace normalised: how the title arm shows positives and negatives."""
    return " ".join(doc.text.split())


def title_records(documents: Iterable[Document], *, min_words: int = MIN_TITLE_WORDS) -> tuple[list[QueryRecord], int]:
    """One query record per passage whose title has at least ``min_words`` words and whose text is not empty,
    with the title as the query; and the number of passages skipped for want of such a title."""
    records: list[QueryRecord] = []
    skipped = 0
    for doc in documents:
        title, text = " ".join(doc.title.split()), untitled_text(doc)
        if len(title.split()) < min_words or not text:
            skipped += 1
            continue
        records.append(QueryRecord(f"title-{doc.id}", title, doc.id, text))
    return records, skipped
