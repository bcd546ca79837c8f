"""The report's diagnostics of each arm's negatives: the ``inspect`` table (lexical overlap, dense hardness under the
base model) as markdown, and the same figures machine-readable for ``results.json`` (``diagnostics[arm]``), with the
near-miss arms' drift, judge and acceptance rates. Kept per arm in ``diagnostics/<arm>.json`` under its triples'
digest, so that a run that rebuilds only some arms neither drops nor re-encodes the others."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthneg.experiment.config import ExperimentConfig
from synthneg.experiment.layout import RunLayout
from synthneg.experiment.stages import file_digest, write_json

if TYPE_CHECKING:
    from synthneg.diagnostics import MethodReport
    from synthneg.search.dense import DenseEncoder

logger = logging.getLogger(__name__)


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _arm_diagnostics(out: Path, arm: str, encoder: Callable[[], DenseEncoder]) -> dict[str, Any] | None:
    """One arm's diagnostics table row and example (markdown), kept in ``diagnostics/<arm>.json`` under the
    digest of its triples. Triples are git-ignored, so a run that rebuilds only some arms (a fresh clone,
    ``--arm``) reuses the others' rows as long as their markers still record the same data; a change of
    the data computes the row again. None for an arm without triples (zero-shot, in-batch, not made yet)."""
    from synthneg.data.triples import read_triples
    from synthneg.diagnostics import example_lines, inspect_triples, table_row

    path, cache = RunLayout(out).triples(arm), RunLayout(out).diagnostics(arm)
    marker = RunLayout(out).marker(f"negatives-{arm}")
    if path.is_file():
        digest = file_digest(path)
    elif marker.is_file():
        digest = _load(marker).get("output")
    else:
        return None
    if cache.is_file() and digest is not None:
        kept = _load(cache)
        if kept.get("digest") == digest and ("metrics" in kept or not path.is_file()):
            return kept  # a row kept before metrics were recorded stays as it is until its triples are here
    if not path.is_file():
        return None
    # a mixed arm's file also holds the queries it trains on without a negative: only its triples are diagnosed
    triples = read_triples(path, skip_pairs=True)
    if not triples:
        return None  # a mixed arm whose source kept no negative: nothing to diagnose
    # the base model encodes every query, positive and negative: minutes on a CPU for thousands of triples
    logger.info(
        "diagnostics of %s: encoding its %d triples with the base model (once; kept in %s)", arm, len(triples), cache
    )
    t0 = time.perf_counter()
    reports = inspect_triples(triples, encoder=encoder(), n_examples=1)
    logger.info("diagnostics of %s done in %.0f s", arm, time.perf_counter() - t0)
    part = {
        "digest": digest,
        "rows": [table_row(r) for r in reports],
        "examples": [x for r in reports for x in example_lines(r)],
        "metrics": arm_metrics(reports, RunLayout(out).store(f"negatives-{arm}.candidates.jsonl")),
    }
    write_json(cache, part)
    return part


def arm_metrics(reports: list[MethodReport], candidates: Path) -> dict[str, Any]:
    """The machine-readable diagnostics of one arm's triples (``results.json`` ``diagnostics[arm]``): dense
    hardness under the base model (``closer_than_positive``: share of negatives closer to the query than the
    positive), lexical overlap, and for the near-miss arms the drift, judge and acceptance rates."""
    from synthneg.data.io import iter_jsonl
    from synthneg.generate.near_miss import candidate_rates

    r = reports[0]
    metrics: dict[str, Any] = {
        "triples": r.count,
        "queries": r.queries,
        "closer_than_positive": r.dense_harder_than_positive,
        "sim_query_negative": r.sim_query_negative,
        "sim_query_positive": r.sim_query_positive,
        "query_terms_in_negative": r.query_terms_in_negative,
        "negative_positive_jaccard": r.negative_positive_jaccard,
    }
    if candidates.is_file():
        metrics["near_miss"] = candidate_rates([row for _, row in iter_jsonl(candidates)])
    return metrics


def diagnostics(out: Path, config: ExperimentConfig) -> tuple[str | None, dict[str, Any]]:
    """The ``inspect`` table of every arm's negatives (lexical overlap, dense hardness with the base model), as
    markdown, and each arm's machine-readable metrics (:func:`arm_metrics`)."""
    from functools import cache

    from synthneg.diagnostics import render_parts
    from synthneg.search.dense import DenseEncoder

    encoder = cache(lambda: DenseEncoder(config.base_model, show_progress=False))  # loaded only if a row is made
    parts = {arm: p for arm in config.arms if (p := _arm_diagnostics(out, arm, encoder)) is not None}
    if not parts:
        return None, {}
    rows = [r for p in parts.values() for r in p["rows"]]
    text = render_parts(rows, [x for p in parts.values() for x in p["examples"]])
    return text, {arm: p["metrics"] for arm, p in parts.items() if "metrics" in p}
