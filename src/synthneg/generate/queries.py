"""Stage 1: an LLM writes queries for passages (each passage becomes the positive of its queries)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from synthneg.data.beir import Document
from synthneg.errors import SynthnegError
from synthneg.generate.engine import Attempt, Task, TaskOutcome
from synthneg.generate.examples import EXAMPLE_PASSAGE_WORDS, QueryExample, infer_style, render_examples, shorten
from synthneg.generate.outputs import StageOptions, StageResult, finish_stage, provenance, run_stage, write_jsonl
from synthneg.llm.base import Generator
from synthneg.llm.parse import QueryRules, Verdict, validate_query
from synthneg.llm.prompts import QUERY_STYLES, PromptTemplate, load_template
from synthneg.llm.types import ChatMessage, GenerationResult, SamplingParams

QUERY_SAMPLING = SamplingParams(max_tokens=64)


def demonstration_turns(
    template: PromptTemplate, examples: Sequence[QueryExample], values: dict[str, str]
) -> tuple[ChatMessage, ...]:
    """The system message, then one user turn (the template with the example's passage, cut to
    ``EXAMPLE_PASSAGE_WORDS``) and one assistant turn (the example query) per example: Promptagator's
    few-shot prompt as chat turns. Every prompt of a run starts with the same turns, so both llama.cpp
    paths prefill them once (the single stream's prefix snapshot covers all but the last message)."""
    system = template.render(**{f: values.get(f, "") for f in template.fields})[:-1]
    demos: list[ChatMessage] = []
    for e in examples:
        shown = {**values, "passage": shorten(e.passage or "", EXAMPLE_PASSAGE_WORDS), "title": ""}
        demos.append(template.render(**{f: shown.get(f, "") for f in template.fields})[-1])
        demos.append(ChatMessage("assistant", e.query))
    return (*system, *demos)


def generate_queries(
    passages: Sequence[Document],
    generator: Generator,
    out_dir: str | Path,
    *,
    k: int = 1,
    styles: Sequence[str] = ("question",),
    examples: Sequence[QueryExample] = (),
    template: str | Path | None = None,
    sampling: SamplingParams = QUERY_SAMPLING,
    rules: QueryRules = QueryRules(),
    max_attempts: int = 3,
    seed: int = 0,
    force: bool = False,
    show_progress: bool = True,
) -> StageResult:
    """Write ``k`` queries per passage into ``out_dir/queries.jsonl`` (query records + provenance).

    Query ``j`` of a passage uses style ``styles[j % len(styles)]`` (``keyword``, ``question``, ``claim``)
    and gets the id ``{passage_id}-q{j}``. Beside it: ``queries.rejects.jsonl`` (every rejected output
    with its raw text and reason), ``queries.cost.json`` (the ledger) and ``queries.calls.jsonl`` (the
    resumable call store: rerunning reuses every finished call; ``force=True`` regenerates).

    ``examples`` (at most 8 real queries, with or without their passages) are shown to the LLM as
    demonstrations (Promptagator's few-shot prompt): with passages, as chat turns before the passage's
    own turn (:func:`demonstration_turns`); without, as a list in the template ``query-examples``. The
    generated queries take their form. The style ``auto`` is the one the examples show (:func:`infer_style`). A query
    that copies an example is rejected (``copies_example``); the examples' ids go into provenance.
    """
    styles = _resolve_styles(styles, examples)
    if k < 1:
        raise SynthnegError("k must be at least 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    turns = any(e.passage for e in examples)  # passage -> query demonstrations as chat turns
    tpl = load_template(template or ("query-examples" if examples and not turns else "query"))
    if examples and not turns and "examples" not in tpl.fields:
        raise SynthnegError(f"template {tpl.name!r} has no {{examples}} placeholder for the example queries")
    tasks, meta = _query_tasks(passages, k, styles, tpl, examples, rules)
    options = StageOptions(sampling, seed, max_attempts, force, show_progress)
    outcomes, ledger = run_stage("queries", tasks, generator, out, tpl, options)
    extra = {"examples": [e.id for e in examples]} if examples else {}
    rows = _query_rows(
        outcomes, meta, lambda acc, style: provenance(generator, tpl, replace(sampling), acc, style=style, **extra)
    )
    output = write_jsonl(rows, out / "queries.jsonl")
    return finish_stage("queries", out, output, outcomes, ledger, len(rows))


def _query_rows(
    outcomes: Sequence[TaskOutcome],
    meta: dict[str, tuple[Document, str]],
    prov: Callable[[Attempt, str], dict[str, Any]],
) -> list[dict[str, Any]]:
    """One query record per accepted outcome, in task order; ``prov(accepted, style)`` gives its provenance."""
    rows = []
    for o in outcomes:
        if o.accepted is None:
            continue
        doc, style = meta[o.task.task_id]
        rows.append(
            {
                "query_id": o.task.task_id,
                "query": o.accepted.verdict.text,
                "positive_id": doc.id,
                "positive": doc.full_text(),
                "method": "llm-query",
                "style": style,
                "provenance": prov(o.accepted, style),
            }
        )
    return rows


def _resolve_styles(styles: Sequence[str], examples: Sequence[QueryExample]) -> list[str]:
    """The styles with ``auto`` replaced by the one the examples show; unknown styles are an error."""
    if "auto" in styles:
        if not examples:
            raise SynthnegError("style 'auto' picks the style from example queries: give examples")
        styles = [infer_style([e.query for e in examples]) if s == "auto" else s for s in styles]
    unknown = [s for s in styles if s not in QUERY_STYLES]
    if unknown or not styles:
        raise SynthnegError(f"unknown query style(s) {unknown}: choose from {', '.join(QUERY_STYLES)}")
    return list(styles)


def _query_tasks(
    passages: Sequence[Document],
    k: int,
    styles: Sequence[str],
    tpl: PromptTemplate,
    examples: Sequence[QueryExample],
    rules: QueryRules,
) -> tuple[list[Task], dict[str, tuple[Document, str]]]:
    """One task per (passage, query number), with the check of its output; and each task's passage and style."""
    turns = any(e.passage for e in examples)
    shown = render_examples(examples) if examples and not turns else ""
    # with examples, a query that copies one of them, or echoes the prompt's own instructions, is rejected
    example_queries = [e.query for e in examples] + ([tpl.user] if examples else [])
    tasks: list[Task] = []
    meta: dict[str, tuple[Document, str]] = {}
    demos: dict[str, tuple[ChatMessage, ...]] = {}  # per style: the demonstration turns do not show the passage
    for doc in passages:
        text = doc.full_text()
        for j in range(k):
            style = styles[j % len(styles)]
            qid = f"{doc.id}-q{j}"

            def check(res: GenerationResult, text: str = text, title: str = doc.title) -> Verdict:
                return validate_query(
                    res.text,
                    text,
                    rules,
                    truncated=res.finish_reason == "length",
                    title=title,
                    examples=example_queries,
                )

            values = {
                "passage": text,
                "title": doc.title,
                "style": style,
                "style_instruction": QUERY_STYLES[style],
                "examples": shown,
            }
            messages = tpl.render(**{f: values.get(f, "") for f in tpl.fields})
            if turns:
                if style not in demos:
                    demos[style] = demonstration_turns(tpl, examples, values)[len(messages) - 1 :]
                messages = (*messages[:-1], *demos[style], messages[-1])
            tasks.append(Task(qid, messages, check))
            meta[qid] = (doc, style)
    return tasks, meta
