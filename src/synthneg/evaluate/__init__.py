"""Evaluation: retrieval on BEIR, trec_eval-identical metrics, TREC run files."""

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
