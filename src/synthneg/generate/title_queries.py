"""The free baseline of query generation: a passage's title as its query (no LLM call).

Scientific and encyclopedic collections usually have titles, and a title is a short description of what its passage is
about: the cheapest query there is. Every LLM-query arm should beat it at the same number of passages, or the LLM is
not earning its cost. The positive is the passage's text without its title (with the title the pair would be a copy),
and so is a mined negative (:func:`untitled_text`): with its title left in, every negative but no positive would
open with a title, a cue the model can learn instead of the topic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from synthneg.data.beir import Corpus, Document
from synthneg.data.triples import QueryRecord, Triple
from synthneg.errors import DataError

#: titles shorter than this (in words) are too generic to be a query ("Introduction", "Results")
MIN_TITLE_WORDS = 4


def untitled_text(doc: Document) -> str:
    """A passage's text without its title, whitespace normalised: how the title arm shows positives and negatives."""
    return " ".join(doc.text.split())


def shown_untitled(doc: Document) -> str:
    """How a passage is shown beside untitled ones: its :func:`untitled_text`, or its title when it has no text."""
    return untitled_text(doc) or " ".join(doc.title.split())


def untitled_positives(rows: Sequence[Triple | QueryRecord], corpus: Corpus) -> list[Triple | QueryRecord]:
    """``rows`` (triples or query records) with each positive shown as its passage's text without the title
    (:func:`shown_untitled`): for arms whose negatives, written by an LLM, never open with a title, so that the
    title is not what tells a positive from a negative."""
    shown: list[Triple | QueryRecord] = []
    for row in rows:
        doc = corpus.get(row.positive_id)
        if doc is None:
            raise DataError(f"positive {row.positive_id!r} of query {row.query_id!r} is not among the passages")
        shown.append(replace(row, positive=shown_untitled(doc)))
    return shown


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
