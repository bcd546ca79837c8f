"""Stage 2: an LLM writes a hard negative from the query alone (or from the query and its positive)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from synthneg.data.triples import QueryRecord, Triple, write_triples
from synthneg.errors import SynthnegError
from synthneg.generate.engine import Attempt, Task, TaskOutcome, candidate_tasks, group_candidates
from synthneg.generate.outputs import StageOptions, StageResult, finish_stage, provenance, run_stage, write_jsonl
from synthneg.llm.base import Generator
from synthneg.llm.parse import NegativeRules, Verdict, validate_negative
from synthneg.llm.prompts import PromptTemplate, load_template
from synthneg.llm.types import GenerationResult, SamplingParams

NegativeMode = Literal["query", "query+positive"]
METHODS: dict[str, str] = {"query": "llm-query", "query+positive": "llm-query-positive"}
TEMPLATES: dict[str, str] = {"query": "negative-query", "query+positive": "negative-query-positive"}
NEGATIVE_SAMPLING = SamplingParams(max_tokens=256)


def generate_negatives(
    records: Sequence[QueryRecord],
    generator: Generator,
    out_dir: str | Path,
    *,
    mode: NegativeMode = "query",
    template: str | Path | None = None,
    sampling: SamplingParams = NEGATIVE_SAMPLING,
    rules: NegativeRules = NegativeRules(),
    max_attempts: int = 3,
    candidates: int = 1,
    seed: int = 0,
    force: bool = False,
    show_progress: bool = True,
) -> StageResult:
    """Write one LLM hard negative per query record into ``out_dir/negatives-{method}.jsonl`` (triples).

    ``mode="query"`` (method ``llm-query``): the prompt holds the query only, as in the paper; the
    positive is still used to reject a negative that near-duplicates it. ``mode="query+positive"``
    (method ``llm-query-positive``): the prompt also holds the positive passage. Beside the output:
    ``*.rejects.jsonl``, ``*.cost.json`` and the resumable ``*.calls.jsonl`` store.

    ``candidates=K`` writes K candidates per query (each its own seeded call, each retried up to
    ``max_attempts``; candidate 0 is the call a one-candidate run makes) and keeps the first accepted
    one in candidate order; every candidate's final text and verdict go to ``*.candidates.jsonl``.
    With the batched llama.cpp back-end the K candidates of a query share one prefill of its prompt.
    """
    if candidates < 1:
        raise SynthnegError(f"candidates must be at least 1, got {candidates}")
    if mode not in METHODS:
        raise SynthnegError(f"unknown mode {mode!r}: use 'query' or 'query+positive'")
    method = METHODS[mode]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tpl = load_template(template or TEMPLATES[mode])
    tasks, by_id = _negative_tasks(records, tpl, rules)
    stem = f"negatives-{method}"
    options = StageOptions(sampling, seed, max_attempts, force, show_progress)
    outcomes, ledger = run_stage(stem, candidate_tasks(tasks, candidates), generator, out, tpl, options)
    triples, candidate_rows = _keep_first_accepted(
        group_candidates(outcomes, candidates),
        by_id,
        method,
        lambda acc, extra: provenance(generator, tpl, sampling, acc, mode=mode, **extra),
    )
    if candidates > 1:
        write_jsonl(candidate_rows, out / f"{stem}.candidates.jsonl")
    output = write_triples(triples, out / f"{stem}.jsonl")
    return finish_stage(stem, out, output, outcomes, ledger, len(triples))


def _negative_tasks(
    records: Sequence[QueryRecord], tpl: PromptTemplate, rules: NegativeRules
) -> tuple[list[Task], dict[str, QueryRecord]]:
    """One task per query record (ids must be unique), with the check of its output; the records by id."""
    tasks: list[Task] = []
    by_id: dict[str, QueryRecord] = {}
    for rec in records:
        if rec.query_id in by_id:
            raise SynthnegError(f"duplicate query_id {rec.query_id!r} in the query records")
        by_id[rec.query_id] = rec

        def check(res: GenerationResult, rec: QueryRecord = rec) -> Verdict:
            return validate_negative(res.text, rec.query, rec.positive, rules, truncated=res.finish_reason == "length")

        values = {"query": rec.query, "positive": rec.positive}
        tasks.append(Task(rec.query_id, tpl.render(**{f: values.get(f, "") for f in tpl.fields}), check))
    return tasks, by_id


def _candidate_row(rec: QueryRecord, c: int, outcome: Any, kept: bool) -> dict[str, Any]:
    """One candidate's line in ``*.candidates.jsonl``: its final text and verdict."""
    last = outcome.attempts[-1]
    return {
        "query_id": rec.query_id,
        "candidate": c,
        "kept": kept,
        "text": last.verdict.text,
        "reason": last.verdict.reason,
        "attempts": len(outcome.attempts),
        "call_key": last.key,
    }


def _keep_first_accepted(
    groups: Sequence[Sequence[TaskOutcome]],
    by_id: dict[str, QueryRecord],
    method: str,
    prov: Callable[[Attempt, dict[str, Any]], dict[str, Any]],
) -> tuple[list[Triple], list[dict[str, Any]]]:
    """Per query, the triple of its first accepted candidate, and every candidate's row for the candidates file."""
    triples: list[Triple] = []
    candidate_rows: list[dict[str, Any]] = []
    for group in groups:
        rec = by_id[group[0].task.task_id]
        kept = next((c for c, o in enumerate(group) if o.accepted is not None), None)
        candidate_rows += [_candidate_row(rec, c, o, c == kept) for c, o in enumerate(group)]
        acc = group[kept].accepted if kept is not None else None
        if acc is None:
            continue
        extra = {"candidate": kept, "candidates": len(group)} if len(group) > 1 else {}
        triples.append(
            Triple(
                rec.query_id,
                rec.query,
                rec.positive_id,
                rec.positive,
                acc.verdict.text,
                method,
                provenance=prov(acc, extra),
            )
        )
    return triples, candidate_rows
