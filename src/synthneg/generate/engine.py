"""Run generation tasks through a generator and the call store, with validation and seeded retries.

Round ``a`` (0-based) sends every still-unresolved task with seed ``derive_seed(base_seed, task_id, a)``.
A call already in the store is reused (not paid again) unless ``force``; every new finished call is
stored durably the moment it returns. Outputs that fail validation, and calls that failed for good,
are kept as :class:`Attempt` records with the raw text and the reason; the task is retried with the
next seed until ``max_attempts``. A task that never passes is reported, never dropped silently.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from synthneg.generate.ledger import CostLedger, make_progress
from synthneg.generate.store import CallStore, call_key
from synthneg.llm.base import Generator
from synthneg.llm.parse import Verdict
from synthneg.llm.types import ChatMessage, ChatRequest, GenerationResult, SamplingParams

logger = logging.getLogger(__name__)

Validator = Callable[[GenerationResult], Verdict]


def derive_seed(base_seed: int, task_id: str, attempt: int) -> int:
    """A 31-bit seed that depends only on the run seed, the task and the attempt number."""
    digest = hashlib.sha256(f"{base_seed}|{task_id}|{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class Task:
    """One thing to generate: its id, the rendered messages, and how to judge the answer."""

    task_id: str
    messages: tuple[ChatMessage, ...]
    validate: Validator


@dataclass
class Attempt:
    """One try of a task (accepted or not) with everything needed to audit it."""

    attempt: int
    seed: int
    key: str
    cached: bool
    result: GenerationResult
    verdict: Verdict

    def reject_row(self, task_id: str) -> dict[str, Any]:
        return {
            "task_id": task_id,
            "attempt": self.attempt,
            "seed": self.seed,
            "call_key": self.key,
            "reason": self.verdict.reason,
            "detail": self.verdict.detail,
            "raw": self.result.text,
            "cleaned": self.verdict.text,
            "finish_reason": self.result.finish_reason,
            "error": self.result.error,
        }


@dataclass
class TaskOutcome:
    """All attempts of a task; ``accepted`` is the last attempt when it passed."""

    task: Task
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def accepted(self) -> Attempt | None:
        if self.attempts and self.attempts[-1].verdict.ok:
            return self.attempts[-1]
        return None


CANDIDATE_SEP = "#c"


def candidate_tasks(tasks: Sequence[Task], k: int) -> list[Task]:
    """``k`` candidates of each task, as tasks of their own, placed next to each other.

    Candidate 0 keeps the task's id (so its seeds, call keys and stored calls are the ones a
    single-candidate run has); candidate ``c > 0`` is ``{task_id}#c{c}``, which derives its own
    seeds. Each candidate is its own call in the store. Because the candidates of one task share
    the whole prompt and sit side by side in the request list, the batched llama.cpp decoder
    prefills that prompt once and decodes the ``k`` sequences from it.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    out: list[Task] = []
    for t in tasks:
        out.append(t)
        out.extend(Task(f"{t.task_id}{CANDIDATE_SEP}{c}", t.messages, t.validate) for c in range(1, k))
    return out


def group_candidates(outcomes: Sequence[TaskOutcome], k: int) -> list[list[TaskOutcome]]:
    """Undo :func:`candidate_tasks`: the ``k`` outcomes of each original task, candidate 0 first."""
    if len(outcomes) % k:
        raise ValueError(f"{len(outcomes)} outcomes do not split into groups of {k}")
    return [list(outcomes[i : i + k]) for i in range(0, len(outcomes), k)]


def run_tasks(
    tasks: Sequence[Task],
    generator: Generator,
    store: CallStore,
    *,
    template_sha256: str,
    sampling: SamplingParams,
    ledger: CostLedger,
    base_seed: int = 0,
    max_attempts: int = 3,
    force: bool = False,
    show_progress: bool = True,
    description: str = "generating",
) -> list[TaskOutcome]:
    """Generate, validate and retry every task; see the module docstring."""
    if len({t.task_id for t in tasks}) != len(tasks):
        raise ValueError("task ids must be unique")
    outcomes = [TaskOutcome(t) for t in tasks]
    pending = list(range(len(tasks)))
    ledger.tasks += len(tasks)
    t0 = time.perf_counter()
    run = _Run(tasks, generator, store, ledger, force)
    with make_progress(ledger, show=show_progress) as bar:
        bar_task = bar.add_task(description, total=len(tasks))
        run.advance = lambda stored=False: bar.advance(bar_task, stored=stored)
        for attempt in range(max_attempts):
            if not pending:
                break
            if attempt > 0:
                bar.update(bar_task, total=(bar.tasks[bar_task].total or 0) + len(pending))
            calls = {}
            for i in pending:
                req = ChatRequest(
                    tasks[i].messages, sampling.with_seed(derive_seed(base_seed, tasks[i].task_id, attempt))
                )
                calls[i] = (req, call_key(generator.model_id, template_sha256, req))
            results = run.attempt(calls)
            still: list[int] = []
            for i in pending:
                (req, key), (res, cached) = calls[i], results[i]
                ok = res.ok
                verdict = (
                    tasks[i].validate(res) if ok else Verdict(False, "", f"call_failed:{res.error_kind}", res.error)
                )
                outcomes[i].attempts.append(Attempt(attempt, req.sampling.seed, key, cached, res, verdict))
                if not verdict.ok:
                    ledger.failures[verdict.reason or "unknown"] += 1
                    still.append(i)
            pending = still
    for i in pending:
        ledger.gave_up += 1
        logger.debug(  # the stage's summary line counts them; the rejects file holds each one
            "task %s gave up after %d attempts: %s",
            tasks[i].task_id,
            max_attempts,
            outcomes[i].attempts[-1].verdict.reason,
        )
    ledger.accepted += sum(1 for o in outcomes if o.accepted is not None)
    ledger.wall_seconds += time.perf_counter() - t0
    return outcomes


@dataclass
class _Run:
    """The calls of one :func:`run_tasks`: stored results are reused (unless ``force``, which regenerates each
    call once), the rest are generated together and stored as each one finishes; the ledger counts both."""

    tasks: Sequence[Task]
    generator: Generator
    store: CallStore
    ledger: CostLedger
    force: bool
    regenerated: set[str] = field(default_factory=set)
    advance: Callable[..., Any] = lambda stored=False: None  # the bar: one call done (``stored``: from the store)

    def attempt(self, calls: dict[int, tuple[ChatRequest, str]]) -> dict[int, tuple[GenerationResult, bool]]:
        """The result of every call (by task index) and whether it came from the store."""
        results: dict[int, tuple[GenerationResult, bool]] = {}
        for i, (_req, key) in calls.items():
            hit = self.store.get(key)
            if hit is not None and not (self.force and key not in self.regenerated):
                results[i] = (hit, True)
                self.ledger.cached_calls += 1
                self.ledger.cached_prompt_tokens += hit.prompt_tokens
                self.ledger.cached_completion_tokens += hit.completion_tokens
                self.advance(stored=True)
        order = [i for i in calls if i not in results]

        def on_result(j: int, res: GenerationResult) -> None:
            i = order[j]
            key = calls[i][1]
            if res.ok:
                self.store.put(key, res, task_id=self.tasks[i].task_id)
                self.regenerated.add(key)
                self.ledger.calls += 1
                self.ledger.prompt_tokens += res.prompt_tokens
                self.ledger.completion_tokens += res.completion_tokens
            else:
                self.ledger.failed_calls += 1
            self.ledger.transport_retries += res.retries
            results[i] = (res, False)
            self.advance()

        if order:
            self.generator.generate([calls[i][0] for i in order], on_result=on_result)
        return results
