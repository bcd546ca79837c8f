"""Example queries for few-shot query generation (Promptagator): the shape of the user's own queries.

A user without labels usually still has a handful of real queries (a search log, a help desk, or a
few written by hand). Up to :data:`MAX_EXAMPLES` of them, with or without the passages they are
about, go into the query prompt as demonstrations, so that the generated queries take their form
(a claim, a question, keywords, a title) instead of the generic question the LLM defaults to.

Files: ``.txt`` (one query a line) or ``.jsonl`` (``query`` or ``text``; optional ``id``/``_id``/
``query_id``; optional ``passage``/``positive``). :func:`sample_beir_examples` draws them from a
BEIR split (the *train* split for the committed runs, never test) with a seed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from synthneg.data.io import iter_jsonl, iter_lines
from synthneg.errors import DataError, SynthnegError
from synthneg.llm.parse import copies_example, words

__all__ = [
    "MAX_EXAMPLES",
    "QueryExample",
    "copies_example",
    "infer_style",
    "read_examples",
    "render_examples",
    "sample_beir_examples",
    "shorten",
]

MAX_EXAMPLES = 8
#: Example passages are cut to this many words in the prompt (they only show what a query is about).
EXAMPLE_PASSAGE_WORDS = 60
_QUESTION_START = re.compile(
    r"^(what|which|who|whom|whose|when|where|why|how|is|are|was|were|do|does|did|can|could|should|will|would|has|have)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class QueryExample:
    """One demonstration: a real query, its id, and optionally the passage it is about."""

    id: str
    query: str
    passage: str | None = None


def read_examples(path: str | Path) -> list[QueryExample]:
    """Read example queries from a ``.txt`` (one a line) or ``.jsonl`` file; see the module docstring."""
    path = Path(path)
    out: list[QueryExample] = []
    if path.suffix.lower() in (".jsonl", ".gz", ".json"):
        for lineno, obj in iter_jsonl(path):
            field = "query" if "query" in obj else "text"
            query = obj.get(field)
            if not isinstance(query, str) or not query.strip():
                raise DataError("expected a non-empty string", path=path, line=lineno, field=field)
            ex_id = next((obj[k] for k in ("id", "_id", "query_id") if k in obj), f"line-{lineno}")
            if not isinstance(ex_id, str | int) or isinstance(ex_id, bool):
                raise DataError("expected a string id", path=path, line=lineno, field="id")
            passage = next((obj[k] for k in ("passage", "positive") if k in obj), None)
            if passage is not None and not isinstance(passage, str):
                raise DataError("expected a string", path=path, line=lineno, field="passage")
            out.append(QueryExample(str(ex_id), " ".join(query.split()), passage))
    else:
        out = [QueryExample(f"line-{n}", " ".join(t.split())) for n, t in iter_lines(path)]
    if not out:
        raise DataError("no example query in the file", path=path)
    if len(out) > MAX_EXAMPLES:
        raise DataError(f"{len(out)} example queries; give at most {MAX_EXAMPLES} (a prompt holds them all)", path=path)
    return out


def sample_beir_examples(
    folder: str | Path, *, split: str = "train", n: int = MAX_EXAMPLES, seed: int = 0, with_passages: bool = True
) -> list[QueryExample]:
    """``n`` queries of a BEIR split drawn with ``seed``, each with its first judged-relevant passage."""
    from synthneg.data.beir import load_beir

    if not 1 <= n <= MAX_EXAMPLES:
        raise SynthnegError(f"n must be between 1 and {MAX_EXAMPLES}, got {n}")
    ds = load_beir(folder, split)
    usable = []
    for qid in sorted(ds.qrels):
        rel = [d for d, g in sorted(ds.qrels[qid].items()) if g > 0 and d in ds.corpus]
        if rel:
            usable.append((qid, rel[0]))
    if len(usable) < n:
        raise SynthnegError(f"{ds.name} {split} has {len(usable)} queries with a judged passage; asked for {n}")
    picked = random.Random(seed).sample(usable, n)
    return [
        QueryExample(qid, " ".join(ds.queries[qid].split()), ds.corpus[did].full_text() if with_passages else None)
        for qid, did in picked
    ]


def infer_style(queries: Sequence[str]) -> str:
    """The query style the examples show: ``question``, ``claim``, ``keyword`` or ``title`` (majority)."""
    votes: dict[str, int] = {}
    for q in queries:
        votes[_style_of(q)] = votes.get(_style_of(q), 0) + 1
    order = ("claim", "question", "title", "keyword")
    return max(order, key=lambda s: (votes.get(s, 0), -order.index(s)))


def _style_of(query: str) -> str:
    q = query.strip()
    n = len(words(q))
    if q.endswith("?") or _QUESTION_START.match(q):
        return "question"
    if q.endswith(".") and n >= 4:
        return "claim"
    tokens = q.split()
    capitalised = sum(1 for t in tokens if t[:1].isupper())
    if n >= 3 and capitalised >= 0.6 * len(tokens):
        return "title"
    return "keyword" if n <= 8 else "claim"


def shorten(text: str, n_words: int) -> str:
    """The first ``n_words`` words of ``text`` (with ' ...' when cut)."""
    toks = text.split()
    return " ".join(toks) if len(toks) <= n_words else " ".join(toks[:n_words]) + " ..."


def render_examples(examples: Sequence[QueryExample]) -> str:
    """The demonstrations as prompt text: passage -> query pairs when passages are given, else a list."""
    if any(e.passage for e in examples):
        blocks = []
        for e in examples:
            head = f"Passage: {shorten(e.passage, EXAMPLE_PASSAGE_WORDS)}\n" if e.passage else ""
            blocks.append(f"{head}Query: {e.query}")
        return "\n\n".join(blocks)
    return "\n".join(f"- {e.query}" for e in examples)
