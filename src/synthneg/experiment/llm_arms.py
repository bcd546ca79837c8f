"""The arms whose negatives an LLM writes: from the query (and positive), and the near-miss and verified arms'
two steps; their data functions and the parts their stage keys add (registered in :mod:`synthneg.experiment.arms`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synthneg.data.triples import QueryRecord, Triple
    from synthneg.experiment.runner import ExperimentRunner


def llm_negatives(
    runner: ExperimentRunner, arm: str, records: list[QueryRecord], info: dict[str, Any], *, mode: str
) -> list[Triple]:
    """``llm-query`` / ``llm-query-positive``: one LLM-written negative per query, in the arm's ``mode``
    (the registry binds it: ``partial(llm_negatives, mode=...)``)."""
    from synthneg.data.triples import read_triples
    from synthneg.generate import generate_negatives
    from synthneg.llm.parse import NegativeRules

    cfg = runner.config
    res = generate_negatives(
        records,
        runner.negatives_generator,
        runner.layout.generation,
        mode=mode,  # type: ignore[arg-type]
        rules=NegativeRules(revision=cfg.rules_revision),
        max_attempts=cfg.negatives_llm_config.max_attempts,
        show_progress=runner.show_progress,
    )
    info["ledger"] = res.ledger.to_dict()
    return read_triples(res.output)


def llm_key(runner: ExperimentRunner) -> dict[str, Any]:
    cfg = runner.config
    parts: dict[str, Any] = {"llm": cfg.negatives_llm_config.model_dump()}  # `llm` when unset: keys unchanged
    if cfg.rules_revision != 1:
        parts["rules_revision"] = cfg.rules_revision
    return parts


def _verifiers(runner: ExperimentRunner) -> tuple[Any, Any]:
    """The verified arm's judge and its encoder's cosines, each with its store in the run's folder: committed, so a
    rebuild on another machine scores and encodes nothing."""
    from synthneg.mine.cross_encoder import load_scorer
    from synthneg.search.dense import DenseEncoder
    from synthneg.search.stored_cosines import StoredCosines

    store = runner.layout.store
    judge = load_scorer(
        runner.config.near_miss.judge, show_progress=runner.show_progress, cache=store("judge.scores.jsonl")
    )
    encoder = DenseEncoder(runner.config.base_model, show_progress=False)
    return judge, StoredCosines(encoder.encode, encoder.identity, store("similarity.scores.jsonl"))


def near_miss_negatives(
    runner: ExperimentRunner, arm: str, records: list[QueryRecord], info: dict[str, Any]
) -> list[Triple]:
    """``llm-near-miss`` (the two steps) and ``llm-query-verified`` (the two steps, the judge, the hardest kept)."""
    from synthneg.data.triples import read_triples
    from synthneg.generate.near_miss import DriftRules, generate_near_miss_negatives
    from synthneg.llm.factory import make_generator
    from synthneg.llm.parse import NegativeRules

    cfg = runner.config
    nm = cfg.near_miss
    verified = arm == "llm-query-verified"
    own: dict[str, Any] = {}  # the steps with an LLM of their own (loaded on their first missing call, closed below)
    judge = cosines = None
    try:
        for step, llm in (("rewrite", nm.rewrite_llm), ("passage", nm.passage_llm)):
            if llm is not None:
                own[step] = make_generator(llm.backend, llm.model, **llm.generator_options())
        # the run's LLM is loaded only if a step uses it (so not own.get(s, default), which would evaluate it)
        rewriter, writer = (own[s] if s in own else runner.negatives_generator for s in ("rewrite", "passage"))  # noqa: SIM401
        if verified:
            judge, cosines = _verifiers(runner)
        res = generate_near_miss_negatives(
            records,
            rewriter,
            writer,
            runner.layout.generation,
            candidates=nm.candidates,
            drift=DriftRules(
                min_changed_terms=nm.min_changed_terms,
                min_similarity=nm.min_similarity if verified else None,
                max_similarity=nm.max_similarity if verified else None,
            ),
            judge=judge,
            judge_margin=nm.judge_margin,
            relative_margin=nm.relative_margin if verified else None,
            cosines=cosines,
            method=arm,
            rewrite=nm.rewrite,
            rules=NegativeRules(revision=cfg.rules_revision),
            max_attempts=cfg.negatives_llm_config.max_attempts,
            show_progress=runner.show_progress,
            # a step with an LLM of its own also has its own attempts
            rewrite_max_attempts=nm.rewrite_llm.max_attempts if nm.rewrite_llm else None,
            passage_max_attempts=nm.passage_llm.max_attempts if nm.passage_llm else None,
        )
    finally:
        for generator in own.values():
            generator.close()
        close = getattr(judge, "close", None)
        if callable(close):
            close()
    _record_near_miss_costs(runner, res.ledger.to_dict(), judge, info)
    return read_triples(res.output) if res.output.stat().st_size else []  # every candidate refused: no triple


def _record_near_miss_costs(runner: ExperimentRunner, ledger: dict[str, Any], judge: Any, info: dict[str, Any]) -> None:
    """Step 2's ledger, step 1's (the ledger of the run that paid for the rewrites) and the judge's pairs."""
    from synthneg.generate.near_miss import REWRITE_STEM

    info["ledger"] = ledger
    rewrite_cost = runner.layout.generation / f"{REWRITE_STEM}.cost.json"
    if rewrite_cost.is_file():
        info["rewrite_ledger"] = json.loads(rewrite_cost.read_text(encoding="utf-8"))
    if judge is not None and hasattr(judge, "pairs_scored"):
        info["judge"] = {
            "pairs_scored": judge.pairs_scored,
            "pairs_cached": judge.pairs_cached,
            "score_wall_s": round(judge.score_seconds, 1),
        }


def near_miss_key(runner: ExperimentRunner, arm: str = "llm-near-miss") -> dict[str, Any]:
    """The near-miss settings of ``arm``'s key; ``relative_margin``, ``min_similarity`` and ``max_similarity`` (encoder
    checks of the verified arm) only for ``llm-query-verified``. (The judge's settings stay in the unverified arm's key
    too: the committed runs' keys.)"""
    near_miss = runner.config.near_miss.model_dump()
    if arm != "llm-query-verified":  # the unverified arm keeps every candidate: the ceiling does not change it
        near_miss["relative_margin"] = near_miss["min_similarity"] = near_miss["max_similarity"] = None
    if near_miss["passage_llm"] is None:  # added later: unset, the key is what it was before
        del near_miss["passage_llm"]
    if near_miss["rewrite"] == "free":  # likewise
        del near_miss["rewrite"]
    for late in ("relative_margin", "min_similarity", "max_similarity"):  # likewise
        if near_miss[late] is None:
            del near_miss[late]
    return {**llm_key(runner), "near_miss": near_miss}
