"""Clean and validate what the LLM wrote: strip labels, quotes and markdown; reject what breaks the rules.

Each check returns a :class:`Verdict`: the cleaned text when accepted, else a short ``reason``
(``empty``, ``too_short``, ``too_long``, ``code``, ``copies_passage``, ``copies_title``, ``copies_example``,
``near_duplicate_positive``, ``copies_query``, ``truncated``) and a human-readable ``detail``.
Nothing is dropped silently: the engine keeps every rejected raw text with its reason.

The rules have a **revision** (``QueryRules.revision``, ``NegativeRules.revision``), so that a run made
under older rules replays its stored LLM calls to the same accepted texts on a fresh clone:

- revision 1: one label before a colon or dash ("Query:", "Search query 2 -"); no title rule. The
  rules of the committed arXiv-500 run.
- revision 2 (the default): also two labels in a row ("Passage question:") and the ``copies_title``
  rejection.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

_LABEL_WORD = (
    r"(?:query|question|claim|keywords?|answer|output|passage|hard\s+negative(?:\s+passage)?|negative(?:\s+passage)?"
    r"|abstract|title|text)"
)
RULES_REVISION = 2  # the current rules; see the module docstring
# Revision 1: one label ("Query:", "Search query 2 -") before a colon or dash.
_LABEL_V1 = re.compile(
    rf"^\s*(?:\*\*|__)?(?:search\s+)?{_LABEL_WORD}\s*(?:\d+\s*)?(?:\*\*|__)?\s*[:\-–]\s*(?:\*\*|__)?", re.IGNORECASE
)
# Revision 2: one label or two in a row ("Query:", "Passage question:", "Search query 2 -").
_LABEL = re.compile(
    rf"^\s*(?:\*\*|__)?(?:(?:search|generated|example)\s+)?(?:{_LABEL_WORD}\s+)?{_LABEL_WORD}\s*(?:\d+\s*)?"
    r"(?:\*\*|__)?\s*[:\-–]\s*(?:\*\*|__)?",
    re.IGNORECASE,
)
_BARE_LABEL = re.compile(
    r"^(?:search\s+)?(?:query|question|claim|keywords?|answer|output|passage|hard\s+negative(?:\s+passage)?|"
    r"negative(?:\s+passage)?|abstract)\s*\d*\s*:?$",
    re.IGNORECASE,
)
_PREAMBLE = re.compile(r"^\s*(?:sure|certainly|okay|ok|here(?:'s| is| are)\b)[^\n]*:\s*$", re.IGNORECASE)
_FENCE = re.compile(r"^\s*```[\w+-]*\s*$")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s+")
_EMPH = re.compile(r"(\*\*|__|`)")
_QUOTES = "\"'“”‘’«»"
_CODE = re.compile(
    r"(?:\bSELECT\b.+\bFROM\b|\bINSERT\s+INTO\b|\bCREATE\s+TABLE\b|\bWHERE\b\s+\w+\s*=|^\s*(?:def|class|import|from\s+\S+\s+import|"
    r"function|public\s+static|#include|return\b)|\bprint\(|=>|;\s*$|\{\s*$|^\s*\}|</?\w+>|\w+\(\)\s*[;{])",
    re.IGNORECASE | re.MULTILINE,
)
_WORD = re.compile(r"\w+", re.UNICODE)
_SENT = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Verdict:
    """The outcome of validating one output."""

    ok: bool
    text: str
    reason: str | None = None
    detail: str | None = None


def reject(reason: str, detail: str, text: str = "") -> Verdict:
    return Verdict(False, text, reason, detail)


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def clean(raw: str, *, single_line: bool, revision: int = RULES_REVISION) -> str:
    """Strip code fences, preambles ("Here is ..."), headings, bullets, labels ("Query:"), emphasis and quotes.

    ``single_line``: keep only the first non-empty line (queries); else join paragraphs with spaces.
    ``revision``: the rules' revision (1 strips one label only; see the module docstring).
    """
    label = _LABEL if revision >= 2 else _LABEL_V1
    lines = []
    for original in raw.replace("\r", "").split("\n"):
        if _FENCE.match(original) or _PREAMBLE.match(original):
            continue
        line = _EMPH.sub("", label.sub("", _BULLET.sub("", _HEADING.sub("", original)))).strip()
        if line and not _BARE_LABEL.match(line):
            lines.append(line)
    if not lines:
        return ""
    text = lines[0] if single_line else " ".join(lines)
    text = " ".join(text.split())
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    if text and text[0] in _QUOTES and text.count(text[0]) == 1:
        text = text[1:].strip()
    return label.sub("", text).strip()


_MATH = re.compile(r"\$\$?[^$]{1,200}\$\$?")


def looks_like_code(text: str) -> bool:
    """Heuristic: SQL, program text or markup rather than prose (LaTeX math like ``$\\sqrt{5}$`` is prose)."""
    text = _MATH.sub(" MATH ", text)
    if _CODE.search(text):
        return True
    symbols = sum(text.count(c) for c in "{}[]<>;=$\\|")
    return symbols >= 4 and symbols / max(1, len(text)) > 0.03


def shingles(tokens: list[str], n: int = 3) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(max(0, len(tokens) - n + 1))}


def jaccard(a: set, b: set) -> float:  # type: ignore[type-arg]
    return len(a & b) / len(a | b) if a and b else 0.0


def copies_a_sentence(query: str, passage: str, threshold: float = 0.8) -> bool:
    """True when the query is (nearly) a sentence of the passage, or a long verbatim span of it."""
    q = words(query)
    if not q:
        return False
    pw, sentences = _passage_words(passage)
    if len(q) >= 8 and f" {' '.join(q)} " in pw:
        return True
    qs = set(q)
    return any(jaccard(qs, s) >= threshold for s in sentences)


@lru_cache(maxsize=1024)
def _passage_words(passage: str) -> tuple[str, tuple[frozenset[str], ...]]:
    """A passage's words (space-joined, padded) and the word sets of its sentences of 4 words or more: each
    passage is checked against every attempt, candidate and sibling query (a replay re-checks thousands)."""
    per_sentence = [words(sent) for sent in _SENT.split(passage)]  # the split drops only whitespace: no word lost
    joined = " ".join(w for sent in per_sentence for w in sent)
    return f" {joined} ", tuple(s for s in map(frozenset, per_sentence) if len(s) >= 4)


_MARKUP = re.compile(r"[$_{}^\\]")
# Words a copied title is often wrapped in ("Passage on <title>", "The paper <title>"): not evidence of a query.
_TITLE_FILLER = frozenset({"a", "an", "the", "on", "of", "passage", "paper", "article", "abstract", "title", "about"})


def copies_title(query: str, title: str, *, min_cover: float = 0.6) -> bool:
    """True when the query is the passage's title (or most of it) verbatim rather than a query about it.

    It copies the title when every one of its words (fillers such as "passage on" aside) is a title
    word and it covers at least ``min_cover`` of the title's words. A question built on the title
    ("What is the phase diagram of Gaussian-core nematics?") is kept; "Intersection Bodies and
    Generalized Cosine Transforms" is the title itself. LaTeX markup is ignored (``MgB$_2$`` = ``MgB2``).
    """
    t = set(words(_MARKUP.sub("", title)))
    q = [w for w in words(_MARKUP.sub("", query)) if w not in _TITLE_FILLER]
    if not t or not q or any(w not in t for w in q):
        return False
    return len(t & set(q)) / len(t - _TITLE_FILLER or t) >= min_cover


def copies_example(query: str, examples: Sequence[str], threshold: float = 0.5) -> str | None:
    """The example a query copies: half or more of its word trigrams (or, for a query under three
    words, the whole query) are found in that example. None when it copies none."""
    q = words(query)
    if not q:
        return None
    qs = shingles(q)
    for ex in examples:
        joined, ex_shingles = _words_and_shingles(ex)
        if not qs:
            if " ".join(q) in joined:
                return ex
            continue
        if len(qs & ex_shingles) / len(qs) >= threshold:
            return ex
    return None


@lru_cache(maxsize=4096)
def _words_and_shingles(text: str) -> tuple[str, frozenset[tuple[str, ...]]]:
    """A text's words (space-joined) and word trigrams: the few-shot examples and a query's siblings are compared
    with every output of a run."""
    w = words(text)
    return " ".join(w), frozenset(shingles(w))


def near_duplicate(a: str, b: str, threshold: float = 0.5) -> float | None:
    """Word-trigram Jaccard of two texts when it reaches ``threshold`` (a copy), else None."""
    score = jaccard(_words_and_shingles(a)[1], _words_and_shingles(b)[1])
    return score if score >= threshold else None


def repeated_sentence_share(text: str) -> float:
    """Share of sentences that repeat an earlier one (degenerate decoding loops)."""
    sentences = [" ".join(words(s)) for s in re.split(r"(?<=[.!?])\s+", text) if words(s)]
    if len(sentences) < 3:
        return 0.0
    return 1.0 - len(set(sentences)) / len(sentences)


def _trim_to_sentence(text: str) -> str:
    cut = max(text.rfind(". "), text.rfind("? "), text.rfind("! "))
    if text.endswith((".", "!", "?")):
        return text
    return text[: cut + 1] if cut > 0 else text


@dataclass(frozen=True)
class QueryRules:
    """Limits for a generated query (in words and characters) and the rules' revision (module docstring)."""

    min_words: int = 2
    max_words: int = 40
    max_chars: int = 300
    revision: int = RULES_REVISION


@dataclass(frozen=True)
class NegativeRules:
    """Limits for a generated negative passage; ``max_overlap`` is the trigram Jaccard with the positive."""

    min_words: int = 25
    max_words: int = 320
    max_overlap: float = 0.5
    max_repeated_sentences: float = 0.25
    revision: int = RULES_REVISION


def validate_query(
    raw: str,
    passage: str,
    rules: QueryRules = QueryRules(),
    *,
    truncated: bool = False,
    title: str = "",
    examples: Sequence[str] = (),
) -> Verdict:
    """Clean a generated query and check it against ``rules`` and the passage (and ``title``) it came from;
    with few-shot ``examples``, a query that copies one of them is rejected (``copies_example``)."""
    text = clean(raw, single_line=True, revision=rules.revision)
    unusable = _empty_or_code(raw, text, "a query")
    if unusable is not None:
        return unusable
    n = len(words(text))
    if n < rules.min_words:
        return reject("too_short", f"{n} words < {rules.min_words}", text)
    if n > rules.max_words or len(text) > rules.max_chars:
        return reject("too_long", f"{n} words / {len(text)} chars > {rules.max_words} / {rules.max_chars}", text)
    if truncated:
        return reject("truncated", "hit max_tokens before the query ended", text)
    if copies_a_sentence(text, passage):
        return reject("copies_passage", "the query copies a sentence of the passage", text)
    if title and rules.revision >= 2 and copies_title(text, title):
        return reject("copies_title", "the query is the passage's title, not a query about it", text)
    if examples:
        copied = copies_example(text, examples)
        if copied is not None:
            return reject("copies_example", f"the query copies the example (or the prompt) {copied[:80]!r}", text)
    return Verdict(True, text)


def _empty_or_code(raw: str, text: str, what: str) -> Verdict | None:
    """The rejection of an output that is empty after cleaning, or code rather than ``what``; None when neither."""
    if not text:
        return reject("empty", "no text after cleaning")
    if looks_like_code(raw) or looks_like_code(text):
        return reject("code", f"looks like code or SQL, not {what}", text)
    return None


def validate_negative(
    raw: str, query: str, positive: str | None, rules: NegativeRules = NegativeRules(), *, truncated: bool = False
) -> Verdict:
    """Clean a generated negative passage and check it against ``rules``, its query and (if given) the positive.

    A negative cut by ``max_tokens`` is trimmed to its last full sentence and kept if still long enough.
    """
    text = clean(raw, single_line=False, revision=rules.revision)
    if truncated:
        text = _trim_to_sentence(text)
    unusable = _empty_or_code(raw, text, "prose")
    if unusable is not None:
        return unusable
    n = len(words(text))
    if n < rules.min_words:
        return reject("truncated" if truncated else "too_short", f"{n} words < {rules.min_words}", text)
    if n > rules.max_words:
        return reject("too_long", f"{n} words > {rules.max_words}", text)
    if words(text) == words(query):
        return reject("copies_query", "the negative repeats the query", text)
    repeated = repeated_sentence_share(text)
    if repeated > rules.max_repeated_sentences:
        return reject("repetitive", f"{repeated:.0%} of its sentences repeat an earlier one", text)
    if positive is not None:
        overlap = near_duplicate(text, positive, rules.max_overlap)
        if overlap is not None:
            return reject("near_duplicate_positive", f"trigram Jaccard with the positive {overlap:.2f}", text)
    return Verdict(True, text)
