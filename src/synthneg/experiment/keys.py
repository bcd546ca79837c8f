"""Every stage key of an experiment, and the rules that keep the committed runs' keys valid.

A stage is done when its marker holds the key of its inputs (``synthneg.experiment.stages``); change an input and the
stage reruns (reusing every stored LLM call). The keys are short sha256 digests of JSON parts
(:meth:`ExperimentConfig.digest`). The runs under ``docs/results`` were made when fewer settings existed, so a setting
added later enters a key **only when it is set to something other than its old behaviour**:

- queries: ``queries.examples`` and ``queries.filter`` only when set (the filter's ``max_lead_overlap`` and
  ``max_sibling_overlap`` only when set); the output rules' revision only when not 1; read from ``queries.path``:
  that file's bytes (and the filter, when set);
- negatives: per arm, ``{"arm", "queries", "passages"}`` for arms on the generated queries, plus what the arm's
  :class:`~synthneg.experiment.arms.ArmSpec` ``key`` adds (LLM arms: the negatives' LLM, ``rules_revision`` when not
  1; near-miss arms: ``near_miss``, its ``passage_llm``, ``rewrite`` and ``relative_margin`` only when set, the
  last for ``llm-query-verified`` only;
  ``labeled``: ``per_query`` and ``positive`` only when set; ``ce``: the mining settings (the
  dense margin apart); ``dense``: the base model's content, its margin, prefixes and sequence length; ``bm25-matched``: the
  matched arm's triples);
- the arms that mine their negatives (bm25, dense, random, ce, title, the BM25 controls) add the mining pool's
  fingerprint when ``mining.pool`` is ``collection``;
- training: the base model's content, the training settings (``precision`` only when not fp32), the data's digest,
  the seed, the arm, and ``mask-judged`` only for a masked labeled ceiling;
- evaluation: the model, the dataset, ``corpus_sample`` and ``precision`` only when set, the split and prefixes.

``tests/test_committed_runs.py`` replays every committed run and fails if a key of a finished stage changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthneg.experiment.arms import ARMS
from synthneg.experiment.stages import file_digest

if TYPE_CHECKING:
    from synthneg.experiment.runner import ExperimentRunner


def queries_key(runner: ExperimentRunner) -> str:
    """What the queries depend on: the passages' content, the LLM and the query settings; or, when they are read
    from ``queries.path``, that file's bytes."""
    cfg = runner.config
    if cfg.queries.path is not None:
        if cfg.queries.filter is not None:
            return cfg.digest("queries.path", file_digest(cfg.queries.path), cfg.queries.filter.key_fields())
        return cfg.digest("queries.path", file_digest(cfg.queries.path))
    parts: list[Any] = [runner.passages.fingerprint, cfg.llm.model_dump(), cfg.queries.key_fields(), *cfg.rules_key()]
    if cfg.queries.examples is not None:
        parts.append([[e.id, e.query, e.passage] for e in runner.examples()])
    return cfg.digest(*parts)


def negatives_key(runner: ExperimentRunner, arm: str) -> str | None:
    """What an arm's triples depend on; None while an input they are made from does not exist yet (the query file,
    or the matched arm's triples)."""
    spec = ARMS[arm]
    parts: dict[str, Any] = {"arm": arm}
    if spec.uses_queries:
        queries = runner.data_digest("in-batch")
        if queries is None:
            return None
        parts.update(queries=queries, passages=runner.passages.fingerprint)
    extra = spec.key(runner) if spec.key is not None else {}
    if extra is None:
        return None
    if spec.mines and runner.config.mining.pool != "passages":  # the passages: the keys of old
        parts["pool"] = runner.mining_pool.fingerprint
    if spec.writes_negatives and runner.config.llm_positives == "text":  # 'with-title': the keys of old
        parts["positives"] = "text without title"
    return runner.config.digest({**parts, **extra})


def train_key(runner: ExperimentRunner, arm: str, data: str, base: str, seed: int) -> str:
    """What a fine-tuned model depends on: the base model's content (``base``), the training settings, the digest
    of the training data's bytes, the seed."""
    cfg = runner.config
    extra = ["mask-judged"] if arm == "labeled" and cfg.labeled_mask_judged else []
    return cfg.digest(base, cfg.train.key_fields(), data, seed, arm, *extra)


def eval_key(runner: ExperimentRunner, identity: str, name: str) -> str:
    """What an evaluation depends on: the model (``identity``), the dataset and the evaluation settings."""
    cfg = runner.config
    return cfg.digest(
        identity,
        name,
        *([cfg.eval.corpus_sample] if cfg.eval.corpus_sample else []),
        *([cfg.eval.precision] if cfg.eval.precision != "fp32" else []),
        cfg.eval.split,
        cfg.train.query_prefix,
        cfg.train.passage_prefix,
    )
