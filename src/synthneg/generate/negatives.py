"""Stage 2: an LLM writes a hard negative from the query alone (or from the query and its positive)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from synthneg.data.triples import QueryRecord, Triple, write_triples
from synthneg.errors import SynthnegError
from synthneg.generate.engine import Task
from synthneg.generate.outputs import StageResult, finish_stage, provenance, run_stage
from synthneg.llm.base import Generator
from synthneg.llm.parse import NegativeRules, Verdict, validate_negative
from synthneg.llm.prompts import load_template
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
    seed: int = 0,
    force: bool = False,
    show_progress: bool = True,
) -> StageResult:
    """Write one LLM hard negative per query record into ``out_dir/negatives-{method}.jsonl`` (triples).

    ``mode="query"`` (method ``llm-query``): the prompt holds the query only, as in the paper; the
    positive is still used to reject a negative that near-duplicates it. ``mode="query+positive"``
    (method ``llm-query-positive``): the prompt also holds the positive passage. Beside the output:
    ``*.rejects.jsonl``, ``*.cost.json`` and the resumable ``*.calls.jsonl`` store.
    """
    if mode not in METHODS:
        raise SynthnegError(f"unknown mode {mode!r}: use 'query' or 'query+positive'")
    method = METHODS[mode]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tpl = load_template(template or TEMPLATES[mode])
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
    stem = f"negatives-{method}"
    outcomes, ledger = run_stage(
        stem,
        tasks,
        generator,
        out,
        template=tpl,
        sampling=sampling,
        seed=seed,
        max_attempts=max_attempts,
        force=force,
        show_progress=show_progress,
    )
    triples = []
    for o in outcomes:
        acc = o.accepted
        if acc is None:
            continue
        rec = by_id[o.task.task_id]
        triples.append(
            Triple(
                query_id=rec.query_id,
                query=rec.query,
                positive_id=rec.positive_id,
                positive=rec.positive,
                negative=acc.verdict.text,
                method=method,
                provenance=provenance(generator, tpl, sampling, acc, mode=mode),
            )
        )
    output = write_triples(triples, out / f"{stem}.jsonl")
    return finish_stage(stem, out, output, outcomes, ledger, len(triples))
