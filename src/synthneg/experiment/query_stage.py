"""The experiment's queries stage: the LLM writes queries for the run's passages (or they are read from
``queries.path``), ``queries.filter`` keeps the good ones, and their quality figures go to the report.

Resumable: finished LLM calls are reused from the call store, and a finished stage is not redone while its
key (synthneg.experiment.keys) is unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from synthneg.data.triples import QueryRecord, read_query_records
from synthneg.experiment.query_report import write_quality
from synthneg.experiment.stages import NEW_OUTPUT, differs, is_done, mark_rebuilt, record_output, write_marker
from synthneg.generate.outputs import write_jsonl
from synthneg.llm.parse import QueryRules

if TYPE_CHECKING:
    from synthneg.experiment.runner import ExperimentRunner

logger = logging.getLogger(__name__)


def make_queries(runner: ExperimentRunner) -> list[QueryRecord]:
    """The run's query records: read from ``queries.path`` or generated, filtered when configured."""
    cfg = runner.config
    layout = runner.layout
    path, marker = layout.queries, layout.marker("queries")
    key = runner.queries_key()
    if cfg.queries.path is not None:
        records = read_query_records(cfg.queries.path)
        write_jsonl((asdict(r) for r in records), path)  # the shared copy every arm reads
        if cfg.queries.filter is not None:
            filter_query_file(runner, path)
            records = with_quality(runner, read_query_records(path))
        write_marker(marker, key, path)
        return records
    if is_done(marker, key) and path.is_file():
        record_output(marker, key, path)
        return with_quality(runner, read_query_records(path))
    from synthneg.generate import generate_queries

    with runner.log.timed("queries", key) as info:
        res = generate_queries(
            runner.passages.documents,
            runner.generator,
            layout.generation,
            k=cfg.queries.k,
            styles=cfg.queries.styles,
            examples=runner.examples(),
            rules=QueryRules(revision=cfg.rules_revision),
            max_attempts=cfg.llm.max_attempts,
            show_progress=runner.show_progress,
        )
        info["ledger"] = res.ledger.to_dict()
        if cfg.queries.filter is not None:
            info["filter"] = filter_query_file(runner, res.output)
        info[NEW_OUTPUT] = differs(marker, key, res.output)
    mark_rebuilt("queries", marker, key, res.output)
    return with_quality(runner, read_query_records(res.output))


def filter_query_file(runner: ExperimentRunner, path: Path) -> dict[str, int]:
    """Apply ``queries.filter`` to the query file at ``path`` in place: every record stays in
    ``queries.all.jsonl``, every query's scores and verdict go to ``queries.filter.jsonl``, the kept ones to
    ``path`` (what the arms train on). Returns the counts by verdict."""
    from synthneg.generate.query_filters import QueryFilter, filter_queries, judge_for

    spec = runner.config.queries.filter
    if spec is None:
        raise ValueError("filter_query_file needs queries.filter in the config")
    records = read_query_records(path)
    rules = QueryFilter(**spec.model_dump())
    encoder = store = None
    if rules.needs_encoder:  # the zero-shot encoder's ranks, stored so that a rebuild encodes nothing
        from synthneg.search.dense import DenseEncoder

        encoder = DenseEncoder(runner.config.base_model, show_progress=runner.show_progress)
        store = runner.layout.store("queries.dense-ranks.scores.jsonl")
    judge_cache = runner.layout.store("queries.judge.scores.jsonl")  # stored: a rebuild scores nothing
    with judge_for(rules, cache=judge_cache, show_progress=runner.show_progress) as judge:
        result = filter_queries(records, runner.passages, rules, encoder=encoder, store=store, judge=judge)
    write_jsonl((asdict(r) for r in records), runner.layout.store("queries.all.jsonl"))
    write_jsonl(result.rows, runner.layout.store("queries.filter.jsonl"))
    write_jsonl((asdict(r) for r in result.kept), path)
    counts = result.counts()
    logger.info(
        "queries filter: %d of %d kept (%s)",
        counts["kept"],
        len(records),
        ", ".join(f"{k} {v}" for k, v in counts.items() if k != "kept") or "none rejected",
    )
    return counts


def with_quality(runner: ExperimentRunner, records: list[QueryRecord]) -> list[QueryRecord]:
    """Write the queries' quality figures for the report (:func:`write_quality`); return ``records``."""
    write_quality(runner.out, records, runner.passages, runner.config, runner.examples())
    return records
