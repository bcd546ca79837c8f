"""synthneg: label-free training data for dense retrievers.

An LLM writes a query for each passage, then a hard negative from the query alone (no corpus,
no BM25, no cross-encoder). Beside that, negatives are mined the classic ways, embedding models
are fine-tuned on the triples and evaluated on BEIR.

The public API is imported lazily so that ``import synthneg`` stays cheap (no torch at import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "evaluate": ("synthneg.evaluate", "evaluate"),
    "EvaluationResult": ("synthneg.evaluate", "EvaluationResult"),
    "load_beir": ("synthneg.data", "load_beir"),
    "read_passages": ("synthneg.data", "read_passages"),
    "SynthnegError": ("synthneg.errors", "SynthnegError"),
    "DataError": ("synthneg.errors", "DataError"),
}

if TYPE_CHECKING:
    from synthneg.data import load_beir, read_passages
    from synthneg.errors import DataError, SynthnegError
    from synthneg.evaluate import EvaluationResult, evaluate

__all__ = [
    "DataError",
    "EvaluationResult",
    "SynthnegError",
    "__version__",
    "evaluate",
    "load_beir",
    "read_passages",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'synthneg' has no attribute {name!r}")
