"""Files a generation stage writes beside its outputs: rejects, the cost ledger, provenance."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthneg.generate.engine import Attempt, TaskOutcome
from synthneg.generate.ledger import CostLedger
from synthneg.llm.base import Generator
from synthneg.llm.prompts import PromptTemplate
from synthneg.llm.types import SamplingParams


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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


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
