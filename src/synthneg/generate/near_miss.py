"""Corpus-free negatives that do not answer the query: write a near-miss query first, then a passage for it.

Asked for a negative from the query alone, a small LLM restates the query: it writes text that *answers the query it is
given*, which is what it is good at. So give it a different query. Two steps, each its own LLM stage with its own call
store (both replay like every other stage):

1. **rewrite** (template ``near-miss-query``): the query with one key term (gene, protein, drug, disease, population,
   organism, method, outcome) replaced by a related one of the same kind. The ``drift`` check rejects a rewrite that
   changes no content term (a paraphrase) and retries with the next seed; with an encoder it also records the cosine
   similarity of the two queries and refuses rewrites above ``DriftRules.max_similarity``.
2. **passage** (template ``passage-for-query``): a passage that answers the rewritten query, validated like any negative
   (length, code, repetition, near-copy of the positive, a copy of the query).

Each step may use its own model (``rewriter`` and ``writer``): the 1.5B rewrites well where the 0.5B often returns a
synonym, and the long passage can stay on the cheaper model. With ``candidates=K`` each query gets K rewrites (each its
own seeded call) and the first candidate whose two steps pass is kept; every candidate, with both verdicts, goes to
``negatives-llm-near-miss.candidates.jsonl``. Selection among several accepted candidates by an LLM judge and the
encoder's hardness is the next verifier (issue: verified corpus-free negatives).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthneg.data.triples import QueryRecord, Triple, write_triples
from synthneg.errors import SynthnegError
from synthneg.generate.engine import Task, candidate_tasks, group_candidates
from synthneg.generate.outputs import StageResult, finish_stage, provenance, run_stage, write_jsonl
from synthneg.llm.base import Generator
from synthneg.llm.parse import NegativeRules, QueryRules, Verdict, reject, validate_negative, validate_query
from synthneg.llm.prompts import load_template
from synthneg.llm.types import GenerationResult, SamplingParams

METHOD = "llm-near-miss"
REWRITE_STEM = "negatives-near-miss-rewrite"
REWRITE_SAMPLING = SamplingParams(max_tokens=64)
PASSAGE_SAMPLING = SamplingParams(max_tokens=256)
#: encodes a list of texts into L2-normalised vectors (e.g. ``DenseEncoder.encode``)
Encode = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class DriftRules:
    """How different a near-miss query must be from the original.

    ``min_changed_terms``: content terms (stemmed, stopwords out) of the original that the rewrite drops, and new ones
    it brings, at least this many each. ``max_similarity``: a ceiling on the cosine similarity of the two queries under
    the encoder, when one is given (provisional default; to be set on a held-out sample).
    """

    min_changed_terms: int = 1
    max_similarity: float = 0.95


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


def generate_near_miss_negatives(
    records: Sequence[QueryRecord],
    rewriter: Generator,
    writer: Generator,
    out_dir: str | Path,
    *,
    candidates: int = 1,
    drift: DriftRules = DriftRules(),
    encode: Encode | None = None,
    judge: Any = None,
    judge_margin: float = 0.0,
    method: str = METHOD,
    rules: NegativeRules = NegativeRules(),
    rewrite_sampling: SamplingParams = REWRITE_SAMPLING,
    passage_sampling: SamplingParams = PASSAGE_SAMPLING,
    max_attempts: int = 3,
    seed: int = 0,
    force: bool = False,
    show_progress: bool = True,
) -> StageResult:
    """Near-miss negatives for ``records`` into ``out_dir/negatives-{method}.jsonl`` (see the module docstring).

    Step 1's calls go to ``negatives-near-miss-rewrite.calls.jsonl`` (its rejects and cost beside it), step 2's to
    ``negatives-llm-near-miss.calls.jsonl``. A rerun reuses every stored call of both steps.

    Verification (the ``llm-query-verified`` arm): with a ``judge`` (a pair scorer, e.g. the LLM reranker:
    higher = the passage answers the query), a candidate whose judge score for the *original* query reaches the
    positive's score minus ``judge_margin`` answers the query and is refused (``answers_query``). With ``encode``,
    the kept candidate is the hardest accepted one (highest cosine with the query under the encoder), else the first.
    """
    if candidates < 1:
        raise SynthnegError(f"candidates must be at least 1, got {candidates}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    by_id: dict[str, QueryRecord] = {}
    for rec in records:
        if rec.query_id in by_id:
            raise SynthnegError(f"duplicate query_id {rec.query_id!r} in the query records")
        by_id[rec.query_id] = rec

    # step 1: a near-miss query per candidate
    tpl1 = load_template("near-miss-query")
    instructions = [
        sentence
        for message in tpl1.render(query="")
        for sentence in re.split(r"(?<=[.:])\s+", message.content)
        if len(sentence.split()) >= 3
    ]
    tasks1 = []
    for rec in records:

        def check1(res: GenerationResult, rec: QueryRecord = rec) -> Verdict:
            return validate_rewrite(
                res.text, rec.query, drift, truncated=res.finish_reason == "length", prompt=instructions
            )

        tasks1.append(Task(rec.query_id, tpl1.render(query=rec.query), check1))
    outcomes1, ledger1 = run_stage(
        REWRITE_STEM,
        candidate_tasks(tasks1, candidates),
        rewriter,
        out,
        template=tpl1,
        sampling=rewrite_sampling,
        seed=seed,
        max_attempts=max_attempts,
        force=force,
        show_progress=show_progress,
    )
    rewrites = {o.task.task_id: o.accepted for o in outcomes1 if o.accepted is not None}
    rewrite_rows = [
        {"task_id": tid, "query": by_id[tid.split("#")[0]].query, "rewrite": a.verdict.text, "drift": a.verdict.detail}
        for tid, a in rewrites.items()
    ]
    finish_stage(
        REWRITE_STEM, out, write_jsonl(rewrite_rows, out / f"{REWRITE_STEM}.jsonl"), outcomes1, ledger1, len(rewrites)
    )
    similarity: dict[str, float] = {}
    if encode is not None and rewrites:
        ids = list(rewrites)
        originals = encode([by_id[t.split("#")[0]].query for t in ids])
        rewritten = encode([rewrites[t].verdict.text for t in ids])
        similarity = {t: float(s) for t, s in zip(ids, np.sum(originals * rewritten, axis=1), strict=True)}
    too_close = {t for t, s in similarity.items() if s > drift.max_similarity}

    # step 2: a passage that answers each accepted near-miss query
    tpl2 = load_template("passage-for-query")
    tasks2 = []
    for tid, acc in rewrites.items():
        if tid in too_close:
            continue
        rec = by_id[tid.split("#")[0]]

        def check2(res: GenerationResult, rewrite: str = acc.verdict.text, rec: QueryRecord = rec) -> Verdict:
            return validate_negative(res.text, rewrite, rec.positive, rules, truncated=res.finish_reason == "length")

        tasks2.append(Task(tid, tpl2.render(query=acc.verdict.text), check2))
    stem = f"negatives-{METHOD}"
    outcomes2, ledger2 = run_stage(
        stem,
        tasks2,
        writer,
        out,
        template=tpl2,
        sampling=passage_sampling,
        seed=seed,
        max_attempts=max_attempts,
        force=force,
        show_progress=show_progress,
    )
    passages = {o.task.task_id: o for o in outcomes2}
    accepted = [tid for tid, o in passages.items() if o.accepted is not None]
    judged: dict[str, tuple[float, float]] = {}
    if judge is not None and accepted:
        queries = [by_id[t.split("#")[0]] for t in accepted]
        pairs = [(r.query, passages[t].accepted.verdict.text) for r, t in zip(queries, accepted, strict=True)]  # type: ignore[union-attr]
        pairs += [(r.query, r.positive) for r in queries]
        scores = judge.score(pairs)
        n = len(accepted)
        judged = {t: (float(scores[i]), float(scores[n + i])) for i, t in enumerate(accepted)}
    hardness: dict[str, float] = {}
    if encode is not None and accepted:
        q = encode([by_id[t.split("#")[0]].query for t in accepted])
        d = encode([passages[t].accepted.verdict.text for t in accepted])  # type: ignore[union-attr]
        hardness = {t: float(s) for t, s in zip(accepted, np.sum(q * d, axis=1), strict=True)}

    triples: list[Triple] = []
    rows: list[dict[str, Any]] = []
    for group in group_candidates(outcomes1, candidates):
        rec = by_id[group[0].task.task_id]
        group_rows: list[dict[str, Any]] = []
        passing: list[int] = []
        for c, o1 in enumerate(group):
            tid = o1.task.task_id
            step1 = o1.attempts[-1]
            row: dict[str, Any] = {"query_id": rec.query_id, "candidate": c, "kept": False}
            row["rewrite"] = {
                "text": step1.verdict.text,
                "reason": step1.verdict.reason,
                "detail": step1.verdict.detail,
            }
            if tid in similarity:
                row["rewrite"]["similarity"] = round(similarity[tid], 4)
            if tid in too_close:
                row["rewrite"]["reason"] = "drift_similarity"
            o2 = passages.get(tid)
            if o2 is not None:
                step2 = o2.attempts[-1]
                row["passage"] = {"text": step2.verdict.text, "reason": step2.verdict.reason}
                ok = o2.accepted is not None
                if tid in judged:
                    neg, pos = judged[tid]
                    answers = neg >= pos - judge_margin
                    row["judge"] = {"negative": round(neg, 4), "positive": round(pos, 4), "answers_query": answers}
                    ok = ok and not answers
                if tid in hardness:
                    row["hardness"] = round(hardness[tid], 4)
                if ok:
                    passing.append(c)
            group_rows.append(row)
        if passing:
            kept = max(passing, key=lambda c: hardness.get(group[c].task.task_id, 0.0)) if hardness else passing[0]
            group_rows[kept]["kept"] = True
            tid = group[kept].task.task_id
            acc = passages[tid].accepted
            assert acc is not None
            scores: dict[str, float] = {}
            if tid in similarity:
                scores["rewrite_similarity"] = similarity[tid]
            if tid in judged:
                scores["judge_negative"], scores["judge_positive"] = judged[tid]
            if tid in hardness:
                scores["hardness"] = hardness[tid]
            triples.append(
                Triple(
                    query_id=rec.query_id,
                    query=rec.query,
                    positive_id=rec.positive_id,
                    positive=rec.positive,
                    negative=acc.verdict.text,
                    method=method,
                    scores=scores,
                    provenance=provenance(
                        writer,
                        tpl2,
                        passage_sampling,
                        acc,
                        mode="near-miss",
                        near_miss_query=rewrites[tid].verdict.text,
                        rewrite_call=rewrites[tid].key,
                        rewrite_model=rewriter.model_id,
                        drift=asdict(drift),
                        **({"judge": judge.identity, "judge_margin": judge_margin} if judge is not None else {}),
                        **({"candidate": kept, "candidates": candidates} if candidates > 1 else {}),
                    ),
                )
            )
        rows.extend(group_rows)
    write_jsonl(rows, out / f"negatives-{method}.candidates.jsonl")
    output = write_triples(triples, out / f"negatives-{method}.jsonl")
    return finish_stage(stem, out, output, outcomes2, ledger2, len(triples))
