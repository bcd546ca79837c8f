"""The arms that mine their negatives from the passages (``bm25``, ``ce``, ``dense``, ``random``): their data
functions and the parts their stage keys add (registered in :mod:`synthneg.experiment.arms`). Each looks in the
runner's mining pool: the passages, or with ``mining.pool: collection`` the whole collection they are drawn from."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synthneg.data.triples import QueryRecord, Triple
    from synthneg.experiment.runner import ExperimentRunner


def bm25_negatives(
    runner: ExperimentRunner, arm: str, records: list[QueryRecord], info: dict[str, Any]
) -> list[Triple]:
    from synthneg.mine.bm25 import mine_bm25

    return mine_bm25(records, runner.mining_pool, show_progress=runner.show_progress)


def ce_negatives(runner: ExperimentRunner, arm: str, records: list[QueryRecord], info: dict[str, Any]) -> list[Triple]:
    from synthneg.mine.cross_encoder import load_scorer, mine_ce

    cfg = runner.config
    # the reranker's scores live with the run (hashes only, committed with the call stores), so a resumed run on
    # another machine pays for no scored pair twice
    scores = runner.layout.store("negatives-ce.scores.jsonl")
    scorer = load_scorer(cfg.mining.ce_scorer, show_progress=runner.show_progress, cache=scores)
    try:
        return mine_ce(
            records,
            runner.mining_pool,
            scorer,
            first_stage=cfg.mining.ce_first_stage,
            candidates=cfg.mining.ce_candidates,
            show_progress=runner.show_progress,
        )
    finally:
        if hasattr(scorer, "pairs_scored"):  # the LLM reranker: pairs paid now vs reused from the store
            info["ledger"] = {"pairs_scored": scorer.pairs_scored, "pairs_cached": scorer.pairs_cached}
        close = getattr(scorer, "close", None)
        if callable(close):
            close()


def dense_negatives(
    runner: ExperimentRunner, arm: str, records: list[QueryRecord], info: dict[str, Any]
) -> list[Triple]:
    from synthneg.mine.dense import mine_dense
    from synthneg.mine.filters import SelectionConfig

    margin = runner.config.mining.dense_relative_margin
    # the rankings live with the run (ids and scores, committed with the call stores): a rebuild on any machine
    # picks the same negatives and encodes nothing
    triples = mine_dense(
        records,
        runner.mining_pool,
        SelectionConfig(relative_margin=margin),
        encoder=_base_encoder(runner),
        show_progress=runner.show_progress,
        store=runner.layout.store("negatives-dense.scores.jsonl"),
    )
    info["dense"] = {"relative_margin": margin, "triples": len(triples), "queries": len({r.query_id for r in records})}
    return triples


def _base_encoder(runner: ExperimentRunner) -> Any:
    """The base model as a bi-encoder, with the training prefixes, in fp32 (its corpus embeddings cached on disk)."""
    from synthneg.search.dense import DenseEncoder

    cfg = runner.config
    return DenseEncoder(
        cfg.base_model,
        query_prefix=cfg.train.query_prefix,
        passage_prefix=cfg.train.passage_prefix,
        max_seq_length=cfg.train.max_seq_length,
        show_progress=runner.show_progress,
    )


def dense_key(runner: ExperimentRunner) -> dict[str, Any]:
    from synthneg.models import model_identity, resolve_bi_encoder

    cfg = runner.config
    return {
        "dense": {
            "model": model_identity(resolve_bi_encoder(cfg.base_model)),
            "relative_margin": cfg.mining.dense_relative_margin,
            "prefixes": [cfg.train.query_prefix, cfg.train.passage_prefix],
            "max_seq_length": cfg.train.max_seq_length,
        }
    }


def random_negatives(
    runner: ExperimentRunner, arm: str, records: list[QueryRecord], info: dict[str, Any]
) -> list[Triple]:
    from synthneg.mine.random_negatives import random_negatives as pick

    return pick(records, runner.mining_pool, seed=0)
