"""Step 1 of the near-miss negatives: the query about something different, and the checks that it is.

Two ways to get it (``rewrite``):

- ``free`` (template ``near-miss-query``): the LLM rewrites the whole query, replacing one key term. Read on the SciFact
  in-domain run, it often *generalises* instead ("methylation reprogramming" -> "epigenetic regulation") or drops a
  qualifier, and the passage for such a query still answers the original (docs/examples.md).
- ``swap`` (template ``near-miss-swap``): the LLM only names the key term and a sibling of the same kind
  (``IL-10 => IL-12``); the code substitutes it into the query, so the rest of the wording is kept exactly. A pair is
  refused when the term is not in the query, when one side contains the other's words (``PKG-la => PKG``, a broader
  term; ``IGF-I => IGF-II`` is a sibling), when the sibling is vague ("a different protein") or when it brings no new
  content term (a term taken from elsewhere in the same query, ``dynein => microtubule`` in a query about
  microtubules).

- ``neutral`` (template ``near-miss-query-neutral``): ``free`` for any field. ``free``'s template names biomedical kinds
  of term (gene, protein, drug, disease, organism); this one asks for a closely related term of the same kind from the
  query's own field, so that a collection outside biomedicine does not get easy negatives from another field
  (docs/generation.md, "Any field").

Whichever way, the ``drift`` rules then require a changed content term (not a paraphrase).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from synthneg.llm.parse import QueryRules, Verdict, reject, validate_query

#: step 1's ways to rewrite, and their built-in templates
REWRITES = {"free": "near-miss-query", "swap": "near-miss-swap", "neutral": "near-miss-query-neutral"}
#: the longest term or sibling a swap may name, in words (longer is a phrase, not a term)
MAX_SWAP_WORDS = 8
_ARROW = re.compile(r"\s*(?:=>|->|\u2192|\u21d2)\s*")
_VAGUE = re.compile(r"\b(?:different|other|another|specific|certain|various|related|unrelated|some|similar)\b", re.I)
_EDGE = " \t\"'`*"
_FOREIGN = re.compile(r"[\u0400-\u04ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\ufffd]")  # Cyrillic, CJK, Hangul, U+FFFD


@dataclass(frozen=True)
class DriftRules:
    """How different a near-miss query must be from the original.

    ``min_changed_terms``: content terms (stemmed, stopwords out) of the original that the rewrite drops, and new ones
    it brings, at least this many each. ``max_similarity``: a ceiling on the cosine similarity of the two queries under
    the encoder, when one is given; off by default (a 20-claim probe: 0.95 refused three of the best minimal
    near-misses, DENV-1 -> DENV-2 among them), the similarity is recorded either way. Read against 60 kept verified
    negatives (SciFact and NFCorpus), 0.90 refuses most of those that ask the same question again (a synonym, a
    broader or narrower term) and few true near misses (docs/generation.md).
    ``min_similarity``: a floor, refusing a rewrite about something else altogether (an easy negative, not a near
    miss): off by default; on the 1,829 rewrites of the committed SciFact and NFCorpus verified runs under MiniLM,
    0.35 refuses 11 (0.6%): 10 off topic by reading ("colloidal oatmeal" -> "an enzyme in protein metabolism"), one
    a minimal swap of a vague query ("what LAR is" -> "what TLR is", 0.30); near misses as far as 0.43 ("curcumin"
    -> "cysteine") pass (docs/generation.md).
    """

    min_changed_terms: int = 1
    max_similarity: float | None = None
    min_similarity: float | None = None

    def provenance(self) -> dict[str, object]:
        """The rules as a triple's provenance records them (the floor only when set: the committed triples' bytes)."""
        rules = asdict(self)
        if self.min_similarity is None:
            del rules["min_similarity"]
        return rules


def validate_rewrite(
    raw: str, query: str, drift: DriftRules = DriftRules(), *, truncated: bool = False, prompt: Sequence[str] = ()
) -> Verdict:
    """Clean a rewritten query; reject it if it is not a query, if it echoes the ``prompt``'s instruction text (the
    0.5B often answers "No explanation, no quotes, no labels."), or if it changes no content term of ``query``."""
    from synthneg.diagnostics import terms

    verdict = validate_query(raw, "", QueryRules(), truncated=truncated, examples=prompt)
    if not verdict.ok:
        return verdict
    text = verdict.text
    old, new = terms(query), terms(text)
    removed, added = sorted(old - new), sorted(new - old)
    if len(removed) < drift.min_changed_terms or len(added) < drift.min_changed_terms:
        return reject("paraphrase", f"no key term replaced (dropped {removed}, added {added})", text)
    return Verdict(True, text, detail=f"dropped {removed}, added {added}")


def _norm(text: str) -> str:
    """Lower-cased words (any script: alpha- and beta-synuclein stay apart) joined by single spaces."""
    return re.sub(r"[\W_]+", " ", text.lower()).strip()


def _substitute(query: str, term: str, sibling: str) -> str | None:
    """``query`` with every occurrence of ``term`` (case-insensitive, not inside a longer word) replaced by
    ``sibling``; None when ``term`` does not occur."""
    left = r"(?<!\w)" if term[0].isalnum() else ""
    right = r"(?!\w)" if term[-1].isalnum() else ""
    pattern = re.compile(left + re.escape(term) + right, re.IGNORECASE)
    new, n = pattern.subn(lambda _: sibling, query)
    if not n:
        return None
    if query[:1].isupper() and new[:1].islower():  # a claim that now starts with the sibling
        new = new[0].upper() + new[1:]
    return new


def validate_swap(raw: str, query: str, drift: DriftRules = DriftRules(), *, truncated: bool = False) -> Verdict:
    """Parse a ``term => sibling`` answer, check it (see the module docstring) and return the near-miss query (the
    original with the term replaced) as the verdict's text; its detail names the swap and the changed terms."""
    line = next((ln.strip() for ln in raw.splitlines() if ln.strip()), "")
    line = re.sub(r"^(?:answer|output)\s*:\s*", "", line, flags=re.I)
    parts = _ARROW.split(line)
    if len(parts) != 2:
        return reject("format", "not one 'term => sibling' line", line)
    term, sibling = (p.strip(_EDGE).rstrip(".,;:").strip(_EDGE) for p in parts)
    if truncated or not term or not sibling:
        return reject("format", "an empty side, or cut at max tokens", line)
    if max(len(term.split()), len(sibling.split())) > MAX_SWAP_WORDS:
        return reject("format", f"a side of more than {MAX_SWAP_WORDS} words is not a term", line)
    a, b = _norm(term), _norm(sibling)
    if a == b:
        return reject("paraphrase", "the sibling is the term itself", line)
    if f" {a} " in f" {b} " or f" {b} " in f" {a} ":  # whole words: IGF-I => IGF-II is a sibling
        return reject("broader", "one side contains the other (a broader or narrower term, not a sibling)", line)
    if _FOREIGN.search(sibling):
        return reject("format", "the sibling has characters of another script", line)
    if _VAGUE.search(sibling):
        return reject("vague", "the sibling is not a named thing", line)
    rewrite = _substitute(query, term, sibling)
    if rewrite is None:
        return reject("term_not_in_query", f"{term!r} does not occur in the query", line)
    verdict = validate_rewrite(rewrite, query, drift)
    if not verdict.ok:
        return verdict
    return Verdict(True, verdict.text, detail=f"{term} => {sibling}; {verdict.detail}")
