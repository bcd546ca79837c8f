"""IR metrics with trec_eval semantics, computed by pytrec_eval (trec_eval's own C code).

Names: ``nDCG@10``, ``P@10``, ``R@100``, ``MAP@100``, ``MRR@10`` (any cutoff works: ``nDCG@20``...).
Averages are over every judged query (a query with no retrieved document scores 0, as ``trec_eval -c``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytrec_eval

from synthneg.errors import SynthnegError

Run = dict[str, dict[str, float]]
Qrels = dict[str, dict[str, int]]

DEFAULT_METRICS = ("nDCG@10", "P@10", "R@100", "MAP@100", "MRR@10")

_TREC_NAMES = {"nDCG": "ndcg_cut", "P": "P", "R": "recall", "MAP": "map_cut"}


@dataclass(frozen=True)
class MetricResult:
    """Mean metric values and the per-query values they average."""

    aggregate: dict[str, float]
    per_query: dict[str, dict[str, float]]


def _parse(name: str) -> tuple[str, int]:
    m = re.fullmatch(r"(nDCG|P|R|MAP|MRR)@(\d+)", name)
    if not m:
        raise SynthnegError(f"unknown metric {name!r}; use nDCG@k, P@k, R@k, MAP@k or MRR@k")
    return m.group(1), int(m.group(2))


def truncate_run(run: Run, k: int) -> Run:
    """Keep the top ``k`` per query in trec_eval's order (score descending, then doc id descending)."""
    out: Run = {}
    for qid, docs in run.items():
        ranked = sorted(docs.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)[:k]
        out[qid] = dict(ranked)
    return out


def compute_metrics(
    qrels: Qrels,
    run: Run,
    metrics: tuple[str, ...] | list[str] = DEFAULT_METRICS,
    *,
    ignore_identical_ids: bool = True,
) -> MetricResult:
    """Evaluate ``run`` against ``qrels``.

    ``ignore_identical_ids`` drops hits whose doc id equals the query id (BEIR's default, which
    matters for ArguAna and Quora). MRR@k is trec_eval's ``recip_rank`` on the run cut at k.
    """
    if ignore_identical_ids:
        run = {q: {d: s for d, s in docs.items() if d != q} for q, docs in run.items()}
    run = {q: docs for q, docs in run.items() if q in qrels}
    parsed = [(_parse(m), m) for m in metrics]
    per_query: dict[str, dict[str, float]] = {q: {} for q in qrels}

    plain = [(f"{_TREC_NAMES[kind]}_{k}", name) for (kind, k), name in parsed if kind != "MRR"]
    if plain:
        cutoffs: dict[str, set[str]] = {}
        for (kind, k), _ in parsed:
            if kind != "MRR":
                cutoffs.setdefault(_TREC_NAMES[kind], set()).add(str(k))
        measures = {f"{base}.{','.join(sorted(ks, key=int))}" for base, ks in cutoffs.items()}
        result = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
        for qid in qrels:
            values = result.get(qid, {})
            for key, name in plain:
                per_query[qid][name] = float(values.get(key, 0.0))
    for (kind, k), name in parsed:
        if kind != "MRR":
            continue
        result = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(truncate_run(run, k))
        for qid in qrels:
            per_query[qid][name] = float(result.get(qid, {}).get("recip_rank", 0.0))
    n = max(len(per_query), 1)
    aggregate = {name: sum(v[name] for v in per_query.values()) / n for _, name in parsed}
    return MetricResult(aggregate, per_query)
