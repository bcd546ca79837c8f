"""The shapes of ``results.json``: what :func:`synthneg.experiment.report.summarize` returns, typed.

They are ``TypedDict``s, so the summary stays the plain JSON-able dict that ``results.json`` holds (and that
the committed runs replay byte for byte), while a reader of the code and a type checker see every key.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class MetricStats(TypedDict):
    """One metric of one arm on one dataset, over its seeds."""

    mean: float
    sd: float
    values: list[float]


#: One arm on one dataset: how many seeds, and per metric (nDCG@10, P@10, R@100) its :class:`MetricStats`.
ArmStats = TypedDict("ArmStats", {"seeds": int, "nDCG@10": MetricStats, "P@10": MetricStats, "R@100": MetricStats})


class ArmCost(TypedDict):
    """What one arm's training data cost: LLM calls and tokens, CPU seconds, whether it read the corpus."""

    llm_calls: int
    llm_tokens: int
    data_cpu_s: float
    train_cpu_s_per_seed: float | None
    reads_corpus: bool
    data_wall_s: NotRequired[float]
    triples: NotRequired[int]
    data_pending: NotRequired[bool]
    note: NotRequired[str]
    data_cpu_s_est: NotRequired[float | None]
    data_wall_s_est: NotRequired[float | None]


class Summary(TypedDict):
    """``results.json``: everything the report shows."""

    name: str
    setting: str  # "in-domain" or "out-of-domain"
    metric: str  # the headline metric
    arms: dict[str, dict[str, ArmStats]]  # arm -> dataset -> stats
    pending: list[str]
    significance: dict[str, dict[str, dict[str, dict[str, Any]]]]  # arm -> dataset -> baseline -> comparison
    share_of_labeled_gain: dict[str, dict[str, float | None]]
    labeled_in_batch: dict[str, Any] | None
    matched_control: dict[str, Any]
    costs: dict[str, ArmCost]
    contamination: list[dict[str, Any]] | None
    seen_split: dict[str, Any]
    stages: dict[str, Any]
    eval_machines: NotRequired[dict[str, dict[str, str | None]]]  # only when not all on one recorded machine
    query_quality: NotRequired[dict[str, Any]]
    verified_vs_query: NotRequired[dict[str, Any]]
    filter_gain: NotRequired[dict[str, Any]]
    title_gain: NotRequired[dict[str, Any]]
    controls: NotRequired[dict[str, dict[str, Any]]]  # BM25 control -> dataset -> the arm it matches against it
    diagnostics: NotRequired[dict[str, Any]]  # per arm, added by write_report when the diagnostics are built
