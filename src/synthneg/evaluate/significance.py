"""Paired significance tests over per-query metric values of two systems on the same queries.

* :func:`randomization_test`: the paired randomization (sign-flip permutation) test of the mean
  difference, two-sided; exact enumeration when ``2**n <= n_resamples``, else Monte Carlo with the
  ``(hits + 1) / (n_resamples + 1)`` estimate.
* :func:`bootstrap_ci`: the paired bootstrap percentile confidence interval of the mean difference.
* :func:`holm`: Holm-Bonferroni adjustment when several arms are compared with one baseline.
* :func:`compare`: the test and the CI at once, on arrays or on ``{qid: value}`` / ``{qid: {metric: value}}``
  mappings (``EvaluationResult.per_query``), aligned by query id.

Everything is seeded and vectorised with numpy (resamples are drawn in blocks to bound memory).

>>> from synthneg.evaluate.significance import compare
>>> res = compare(result_b.per_query, result_a.per_query, metric="nDCG@10")  # doctest: +SKIP
>>> res.mean_diff, res.ci_low, res.ci_high, res.p_value  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from synthneg.errors import DataError, SynthnegError

logger = logging.getLogger(__name__)

OnMissing = Literal["error", "intersect", "zero"]
_BLOCK_ELEMENTS = 4_000_000  # resamples x queries drawn at once


@dataclass(frozen=True)
class PairedComparison:
    """System A against system B on the same ``n`` queries: ``mean_diff = mean(A - B)``."""

    metric: str | None
    n: int
    mean_a: float
    mean_b: float
    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    confidence: float
    n_resamples: int
    seed: int

    def significant(self, alpha: float = 0.05) -> bool:
        """True when the randomization test rejects equal means at level ``alpha``."""
        return self.p_value < alpha

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _as_diff(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> np.ndarray:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise DataError(f"paired tests need two 1-d arrays of equal length, got shapes {x.shape} and {y.shape}")
    if x.size == 0:
        raise DataError("paired tests need at least one query")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise DataError("per-query values must be finite numbers (found NaN or inf)")
    return x - y


def _blocks(total: int, n: int) -> list[int]:
    per = max(1, _BLOCK_ELEMENTS // max(n, 1))
    return [min(per, total - start) for start in range(0, total, per)]


def randomization_test(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> float:
    """Two-sided p-value of the paired randomization test of ``mean(a - b) == 0``.

    Under the null the sign of each per-query difference is exchangeable; the p-value is the share
    of sign assignments whose ``|mean|`` reaches the observed one. Identical systems give 1.0.
    """
    d = _as_diff(a, b)
    n = d.size
    observed = abs(d.mean())
    tol = 1e-12 * max(1.0, observed)
    if n <= 30 and 2**n <= n_resamples:  # exact: every sign assignment once
        codes = np.arange(2**n, dtype=np.int64)[:, None]
        signs = 1.0 - 2.0 * ((codes >> np.arange(n, dtype=np.int64)) & 1)
        stats = np.abs(signs @ d) / n
        return float(np.mean(stats >= observed - tol))
    rng = np.random.default_rng(seed)
    hits = 0
    for size in _blocks(n_resamples, n):
        signs = rng.choice(np.array([-1.0, 1.0]), size=(size, n))
        hits += int(np.count_nonzero(np.abs(signs @ d) / n >= observed - tol))
    return (hits + 1) / (n_resamples + 1)


def bootstrap_ci(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Paired bootstrap percentile interval of ``mean(a - b)``: resample queries with replacement."""
    if not 0.0 < confidence < 1.0:
        raise SynthnegError(f"confidence must be in (0, 1), got {confidence}")
    d = _as_diff(a, b)
    n = d.size
    rng = np.random.default_rng(seed)
    means = np.concatenate([d[rng.integers(0, n, size=(size, n))].mean(axis=1) for size in _blocks(n_resamples, n)])
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _values(per_query: Mapping[str, Any], metric: str | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for qid, v in per_query.items():
        if isinstance(v, Mapping):
            if metric is None:
                raise DataError("per-query values are dicts of metrics: pass metric=..., e.g. 'nDCG@10'")
            if metric not in v:
                raise DataError(f"query {qid!r} has no {metric!r}; it has {sorted(v)}")
            out[qid] = float(v[metric])
        else:
            out[qid] = float(v)
    return out


def align(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    *,
    metric: str | None = None,
    on_missing: OnMissing = "error",
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Pair two ``{qid: value}`` (or ``{qid: {metric: value}}``) mappings by query id.

    ``on_missing``: ``error`` (the default) when the query sets differ, ``intersect`` keeps the
    common queries, ``zero`` scores a query missing from one system as 0 (trec_eval ``-c``).
    """
    va, vb = _values(a, metric), _values(b, metric)
    only_a, only_b = va.keys() - vb.keys(), vb.keys() - va.keys()
    if only_a or only_b:
        if on_missing == "error":
            raise DataError(
                f"the systems were scored on different queries ({len(only_a)} only in A, {len(only_b)} only "
                f"in B, e.g. {sorted(only_a | only_b)[:3]}); pass on_missing='intersect' or 'zero'"
            )
        logger.warning("%d queries only in A, %d only in B: %s", len(only_a), len(only_b), on_missing)
    qids = sorted(va.keys() & vb.keys()) if on_missing != "zero" else sorted(va.keys() | vb.keys())
    return qids, np.array([va.get(q, 0.0) for q in qids]), np.array([vb.get(q, 0.0) for q in qids])


def compare(
    a: Mapping[str, Any] | Sequence[float] | np.ndarray,
    b: Mapping[str, Any] | Sequence[float] | np.ndarray,
    *,
    metric: str | None = None,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
    on_missing: OnMissing = "error",
) -> PairedComparison:
    """System A versus system B: mean difference, bootstrap CI and randomization-test p-value.

    ``a`` and ``b`` are equal-length arrays in the same query order, or per-query mappings such as
    ``EvaluationResult.per_query`` (then ``metric`` picks the value, and queries are aligned by id).
    """
    if isinstance(a, Mapping) != isinstance(b, Mapping):
        raise DataError("pass two per-query mappings or two arrays, not one of each")
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        _, x, y = align(a, b, metric=metric, on_missing=on_missing)
    else:
        x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    d = _as_diff(x, y)
    low, high = bootstrap_ci(x, y, confidence=confidence, n_resamples=n_resamples, seed=seed)
    return PairedComparison(
        metric=metric,
        n=int(d.size),
        mean_a=float(x.mean()),
        mean_b=float(y.mean()),
        mean_diff=float(d.mean()),
        ci_low=low,
        ci_high=high,
        p_value=randomization_test(x, y, n_resamples=n_resamples, seed=seed),
        confidence=confidence,
        n_resamples=n_resamples,
        seed=seed,
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order as given), for several comparisons at once.

    Comparing k arms against one baseline makes k tests; reject where the adjusted p < alpha to keep
    the family-wise error rate at alpha.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or not ((p >= 0) & (p <= 1)).all():
        raise DataError("p-values must be a flat list of numbers in [0, 1]")
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted.tolist()


def format_p(p: float) -> str:
    """A p-value to three decimals; a resampled p never is 0, so one below 0.0005 reads ``<0.001``."""
    return "<0.001" if p < 0.0005 else f"{p:.3f}"
