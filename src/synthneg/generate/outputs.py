"""A generation stage's run and the files it writes beside its outputs: rejects, the cost ledger, provenance."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthneg import atomic
from synthneg.generate.engine import Attempt, Task, TaskOutcome, run_tasks
from synthneg.generate.ledger import CostLedger
from synthneg.generate.store import CallStore
from synthneg.llm.base import Generator
from synthneg.llm.prompts import PromptTemplate
from synthneg.llm.types import SamplingParams

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageResult:
    """Paths a stage wrote and its ledger."""

    output: Path
    rejects: Path
    ledger_path: Path
    ledger: CostLedger
    store: Path


def write_jsonl(rows: Iterable[dict[str, Any]], path: Path) -> Path:
    """Write rows atomically (temp file + rename)."""
    return atomic.write_jsonl(rows, path)


def reject_rows(outcomes: Sequence[TaskOutcome]) -> list[dict[str, Any]]:
    """Every rejected attempt, plus ``gave_up: true`` on the last attempt of tasks that never passed."""
    rows = []
    for o in outcomes:
        for a in o.attempts:
            if not a.verdict.ok:
                row = a.reject_row(o.task.task_id)
                row["gave_up"] = o.accepted is None and a is o.attempts[-1]
                rows.append(row)
    return rows


def provenance(
    generator: Generator, template: PromptTemplate, sampling: SamplingParams, attempt: Attempt, **extra: Any
) -> dict[str, Any]:
    """What produced one accepted output (never a credential)."""
    params = sampling.to_dict()
    params.pop("seed")
    return {
        "generator": generator.describe(),
        "template": template.name,
        "template_hash": template.sha256,
        "parameters": params,
        "seed": attempt.seed,
        "attempt": attempt.attempt,
        "call_key": attempt.key,
        "finish_reason": attempt.result.finish_reason,
        "prompt_tokens": attempt.result.prompt_tokens,
        "completion_tokens": attempt.result.completion_tokens,
        **extra,
    }


@dataclass(frozen=True)
class StageOptions:
    """How a stage samples, seeds, retries and reports: the same for every generation stage."""

    sampling: SamplingParams
    seed: int = 0
    max_attempts: int = 3
    force: bool = False
    show_progress: bool = True


def run_stage(
    stem: str, tasks: list[Task], generator: Generator, out: Path, template: PromptTemplate, options: StageOptions
) -> tuple[list[TaskOutcome], CostLedger]:
    """Run a stage's tasks against its call store ``out/{stem}.calls.jsonl`` (finished calls are reused)."""
    ledger = CostLedger(stage=stem)
    with CallStore(out / f"{stem}.calls.jsonl") as store:
        outcomes = run_tasks(
            tasks,
            generator,
            store,
            template_sha256=template.sha256,
            sampling=options.sampling,
            ledger=ledger,
            base_seed=options.seed,
            max_attempts=options.max_attempts,
            force=options.force,
            show_progress=options.show_progress,
            description=stem,
        )
    return outcomes, ledger


REASON_LABELS = {
    "near_duplicate_positive": "near-copy of the positive",
    "copies_query": "repeats the query",
    "copies_passage": "copies a sentence of the passage",
    "copies_title": "copies the title",
    "copies_example": "copies an example",
    "too_short": "too short",
    "too_long": "too long",
    "truncated": "cut at max tokens",
    "code": "code or SQL",
    "empty": "empty",
}


def stage_summary(stem: str, outcomes: Sequence[TaskOutcome], ledger: CostLedger, accepted: int) -> str:
    """One line: kept of asked, the rejected attempts by reason, the calls paid and reused."""
    reasons = Counter(a.verdict.reason or "unknown" for o in outcomes for a in o.attempts if not a.verdict.ok)
    rejected = ", ".join(f"{REASON_LABELS.get(r, r)} {n}" for r, n in reasons.most_common())
    return (
        f"{stem}: {accepted} of {len(outcomes)} kept"
        + (f"; rejected attempts: {rejected}" if rejected else "")
        + f"; {ledger.calls} paid calls, {ledger.cached_calls} reused (details: {stem}.rejects.jsonl)"
    )


def _same_tally(path: Path, ledger: CostLedger) -> bool:
    """Whether the cost file at ``path`` is for the same tasks and accepted outputs as ``ledger``."""
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return isinstance(old, dict) and (old.get("tasks"), old.get("accepted")) == (ledger.tasks, ledger.accepted)


def finish_stage(
    stem: str, out: Path, output: Path, outcomes: Sequence[TaskOutcome], ledger: CostLedger, accepted: int
) -> StageResult:
    """Write the stage's rejects and cost ledger beside ``output`` and log its tally.

    A rerun that paid for no call (every one reused from the store) and came to the same tally keeps the
    cost file of the run that paid, so that rebuilding outputs from a committed store does not erase
    what they cost.
    """
    rejects = write_jsonl(reject_rows(outcomes), out / f"{stem}.rejects.jsonl")
    ledger_path = out / f"{stem}.cost.json"
    if ledger.calls or ledger.failed_calls or not _same_tally(ledger_path, ledger):
        ledger.write(ledger_path)
    logger.info("%s", stage_summary(stem, outcomes, ledger, accepted))
    return StageResult(output, rejects, ledger_path, ledger, out / f"{stem}.calls.jsonl")
