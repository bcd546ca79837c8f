"""Evaluation: retrieval on BEIR, trec_eval-identical metrics, TREC run files.

``synthneg.evaluate(model, dataset)`` is the package's headline function; this subpackage has the same
name, and Python binds a subpackage to its parent's attribute once it is imported. So the subpackage
itself is callable and calls :func:`evaluate`: ``synthneg.evaluate(...)`` works whichever of the two the
name holds.
"""

import sys
import types
from typing import Any

from synthneg.evaluate.core import EvaluationResult, evaluate
from synthneg.evaluate.metrics import DEFAULT_METRICS, MetricResult, compute_metrics
from synthneg.evaluate.runs import read_trec_run, write_trec_run
from synthneg.evaluate.significance import PairedComparison, compare, holm

__all__ = [
    "DEFAULT_METRICS",
    "EvaluationResult",
    "MetricResult",
    "PairedComparison",
    "compare",
    "compute_metrics",
    "evaluate",
    "holm",
    "read_trec_run",
    "write_trec_run",
]


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> EvaluationResult:
        return evaluate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
