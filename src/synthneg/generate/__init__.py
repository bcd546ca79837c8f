"""LLM generation stages: queries from passages and corpus-free hard negatives, resumable and audited."""

from synthneg.generate.engine import Task, TaskOutcome, derive_seed, run_tasks
from synthneg.generate.ledger import CostLedger
from synthneg.generate.negatives import METHODS, generate_negatives
from synthneg.generate.outputs import StageResult
from synthneg.generate.queries import generate_queries
from synthneg.generate.store import CallStore, call_key

__all__ = [
    "METHODS",
    "CallStore",
    "CostLedger",
    "StageResult",
    "Task",
    "TaskOutcome",
    "call_key",
    "derive_seed",
    "generate_negatives",
    "generate_queries",
    "run_tasks",
]
