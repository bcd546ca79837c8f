"""The sections of an experiment configuration (passages, LLM, queries, near-miss, mining, training,
evaluation): strict, frozen pydantic models that :class:`synthneg.experiment.config.ExperimentConfig` is made of."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from synthneg.losses import LossName


class StrictModel(BaseModel):
    """A config section: unknown fields are errors (a typo is never ignored) and values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PassagesConfig(StrictModel):
    """Where the training passages come from: a file (``path``) or a BEIR corpus sample (``beir``)."""

    path: Path | None = None
    beir: str | None = None
    sample: int | None = Field(default=None, ge=1, description="random sample of this many passages")
    limit: int | None = Field(default=None, ge=1, description="the first N passages of the file")
    seed: int = 0
    id_field: str | None = None
    text_field: str | None = None
    title_field: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> PassagesConfig:
        if (self.path is None) == (self.beir is None):
            raise ValueError("give exactly one of 'path' (a passage file) or 'beir' (a BEIR corpus name)")
        return self


class LLMConfig(StrictModel):
    backend: Literal["llamacpp", "openai", "transformers"] = "llamacpp"
    model: str = "qwen2.5-coder-0.5b"
    parallel: int = Field(default=4, ge=1, description="llamacpp: sequences decoded together")
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = Field(default=8, ge=1)
    max_attempts: int = Field(default=3, ge=1)

    def generator_options(self) -> dict[str, Any]:
        if self.backend == "llamacpp":  # loaded on the first call its store lacks: a replay needs no model
            return {"parallel": self.parallel, "lazy": True}
        if self.backend == "openai":
            return {"base_url": self.base_url, "api_key_env": self.api_key_env, "concurrency": self.concurrency}
        return {}


class ExamplesConfig(StrictModel):
    """Few-shot example queries for the query prompt: a file (``path``), or ``n`` queries of a split of the
    labeled set (``labeled_dataset`` or ``passages.beir``; use ``train``, never the evaluation split) drawn
    with ``seed``, shown with their judged passage when ``passages`` is true."""

    path: Path | None = None
    split: str | None = None
    n: int = Field(default=8, ge=1, le=8)
    seed: int = 0
    passages: bool = True

    @model_validator(mode="after")
    def _one_source(self) -> ExamplesConfig:
        if (self.path is None) == (self.split is None):
            raise ValueError("give exactly one of 'path' (a file of example queries) or 'split' (e.g. train)")
        return self


class NearMissConfig(StrictModel):
    """The ``llm-near-miss`` arm: step 1 (the rewritten query) on ``rewrite_llm`` (default: the negatives' LLM),
    step 2 (the passage) on ``passage_llm`` (default: the negatives' LLM; set it to give step 2 its own
    ``parallel`` without touching the keys of the other LLM arms); ``candidates`` per query, the first that
    passes both steps kept. A step with its own LLM also retries with that LLM's ``max_attempts``."""

    rewrite_llm: LLMConfig | None = None
    passage_llm: LLMConfig | None = None
    candidates: int = Field(default=2, ge=1, le=8)
    min_changed_terms: int = Field(default=1, ge=1)
    rewrite: Literal["free", "swap", "neutral"] = Field(
        default="free",
        description="step 1: 'free' (the LLM rewrites the query; biomedical kinds of term), 'neutral' (the same for "
        "any field: a related term from the query's own field) or 'swap' (it names 'term => sibling', substituted)",
    )
    judge: str = Field(
        default="llm",
        description="llm-query-verified: the judge that refuses a negative answering the original query "
        "('llm', 'llm:<name>' or a CrossEncoder)",
    )
    judge_margin: float = Field(default=0.0, description="refuse when judge(negative) >= judge(positive) - margin")
    relative_margin: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="llm-query-verified: also refuse a negative whose cosine to the query under the base encoder "
        "exceeds positive - margin * |positive| (NV-Retriever's positive-aware ceiling: 0.05; null: off)",
    )
    min_similarity: float | None = Field(
        default=None,
        ge=-1,
        le=1,
        description="llm-query-verified: refuse a rewrite whose cosine to the query under the base encoder is below "
        "this floor (about something else altogether, not a near miss: 0.35 refuses 0.6% of the committed runs' "
        "rewrites; null: off)",
    )
    max_similarity: float | None = Field(
        default=None,
        ge=-1,
        le=1,
        description="llm-query-verified: refuse a rewrite whose cosine to the query under the base encoder is above "
        "this ceiling (a synonym, a broader or a narrower term: the same question asked again, whose passage the "
        "judge often lets through; 0.90 on the committed SciFact and NFCorpus runs, docs/generation.md; null: off)",
    )


class QueryFilterConfig(StrictModel):
    """Filters applied to the run's queries before any arm uses them (synthneg.generate.query_filters): the round
    trip (the query's own passage in the top ``round_trip_k`` of the run's passages; null: off), the content-word
    rule, the lead-copy rule (``max_lead_overlap``: refuse a query that shares at least this share of its terms with
    its passage's title or first sentence; null: off), the sibling rule (``max_sibling_overlap``: refuse a query whose
    terms overlap a kept query of the same passage by at least this Jaccard share; null: off), the easy rule
    (``easy_dense_k``: refuse a query whose passage the zero-shot encoder already ranks in its top k; null: off), the
    judge rule (``judge_min_score``: refuse a query that ``judge_model`` scores under this against its own passage;
    null: off) and a minimum passage length. No label is read."""

    round_trip_k: int | None = Field(default=1, ge=1)
    retriever: Literal["bm25", "dense"] = "bm25"
    require_content_word: bool = True
    min_passage_words: int = Field(default=0, ge=0)
    max_lead_overlap: float | None = Field(default=None, gt=0, le=1)
    max_sibling_overlap: float | None = Field(default=None, gt=0, le=1)
    easy_dense_k: int | None = Field(
        default=None,
        ge=1,
        description="refuse a query whose passage the zero-shot encoder ranks in its top k (null: off)",
    )
    judge_min_score: float | None = Field(
        default=None,
        description="refuse a query that the judge scores under this against its own passage (the LLM reranker's "
        "logit(yes) - logit(no): 0 is an even yes/no; null: off). Scores are stored in "
        "generation/queries.judge.scores.jsonl, so a rebuild scores nothing",
    )
    judge_model: str = Field(
        default="llm",
        description="the judge: 'llm' (the embedded 0.5B as a yes/no reranker), 'llm:<embedded name or .gguf path>', "
        "or a sentence-transformers CrossEncoder name or path",
    )

    def key_fields(self) -> dict[str, Any]:
        """The settings the filtered queries depend on; the optional rules only when set, so earlier keys never
        change."""
        optional = ("max_lead_overlap", "max_sibling_overlap", "easy_dense_k", "judge_min_score")
        unset = {name for name in optional if getattr(self, name) is None}
        if self.judge_min_score is None:
            unset.add("judge_model")
        return self.model_dump(exclude=unset or None)


class QueriesConfig(StrictModel):
    """LLM queries (``k`` per passage), or an existing file of query records (``path``: JSONL with
    ``query_id, query, positive_id, positive``) that every arm then shares. ``examples``: few-shot
    example queries in the prompt (style ``auto`` takes their form)."""

    k: int = Field(default=1, ge=1)
    path: Path | None = None
    styles: list[Literal["keyword", "question", "claim", "title", "auto"]] = ["question"]
    examples: ExamplesConfig | None = None
    filter: QueryFilterConfig | None = None

    def key_fields(self) -> dict[str, Any]:
        """The settings the queries depend on; ``examples`` and ``filter`` only when set, so earlier keys never
        change (the examples themselves enter the key by content, in the runner)."""
        unset = {name for name in ("examples", "filter") if getattr(self, name) is None}
        fields = self.model_dump(exclude=unset or None)
        if self.filter is not None:
            fields["filter"] = self.filter.key_fields()
        return fields


class MiningConfig(StrictModel):
    ce_scorer: str = Field(default="llm:qwen2.5-coder-0.5b", description="'llm:<gguf>' or a CrossEncoder name/path")
    ce_candidates: int = Field(default=20, ge=1)
    ce_first_stage: Literal["bm25", "dense"] = "bm25"
    dense_relative_margin: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="the dense arm's false-negative filter (TopK-PercPos, NV-Retriever): a candidate scoring above "
        "(1 - margin) x the positive's score under the base encoder is skipped",
    )
    pool: Literal["passages", "collection"] = Field(
        default="passages",
        description="where bm25, dense, random, ce and title find negatives: the passages that get queries, or the "
        "whole collection they are sampled from (passages.sample; no LLM call for the rest)",
    )

    def ce_key_fields(self) -> dict[str, Any]:
        """The settings the ``ce`` arm's negatives depend on (the dense margin and the pool enter keys apart)."""
        return self.model_dump(exclude={"dense_relative_margin", "pool"})


class TrainSettings(StrictModel):
    epochs: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=32, ge=2)
    learning_rate: float = Field(default=2e-5, gt=0)
    warmup_ratio: float = Field(default=0.1, ge=0, lt=1)
    max_steps: int | None = Field(
        default=None,
        ge=1,
        description="stop every fine-tune after this many optimizer steps (overrides epochs; the schedule decays over them)",
    )
    max_seq_length: int | None = Field(default=256, ge=8)
    loss: LossName = "mnrl"
    mini_batch_size: int = Field(
        default=32,
        ge=1,
        description="loss cached-mnrl: the GradCache chunk. A fine-tune at batch 32 x 256 tokens peaked at 8.5 GB "
        "with mnrl and 2.2 GB with cached-mnrl and 8, at 1.6x the time per step (benchmarks/train_memory.py)",
    )
    query_prefix: str = ""
    passage_prefix: str = ""
    precision: Literal["fp32", "bf16"] = Field(
        default="fp32",
        description="mixed precision of every fine-tune of the run (bf16 autocast; faster on AVX512-BF16 CPUs)",
    )

    def key_fields(self) -> dict[str, Any]:
        """The settings a trained model depends on; ``precision`` only when not fp32, ``max_steps`` only when set and
        ``mini_batch_size`` only with ``cached-mnrl``, so the keys of the runs made before they existed never
        change."""
        unset = {"precision"} if self.precision == "fp32" else set()
        unset |= {"max_steps"} if self.max_steps is None else set()
        unset |= {"mini_batch_size"} if self.loss != "cached-mnrl" else set()  # it changes nothing else
        return self.model_dump(exclude=unset)

    def train_config(self, *, seed: int, use_negatives: bool) -> Any:
        """The trainer's :class:`~synthneg.train.TrainConfig` with these settings (every field has the same name)."""
        from synthneg.train import TrainConfig

        return TrainConfig(**self.model_dump(), seed=seed, use_negatives=use_negatives)


class EvalConfig(StrictModel):
    """BEIR evaluation. ``corpus_sample`` (quick runs only) keeps every judged document plus a seeded
    sample of the others up to that many documents; numbers are then not comparable to published ones."""

    datasets: list[str] = ["scifact", "nfcorpus"]
    split: str = "test"
    data_dir: Path | None = None
    corpus_sample: int | None = Field(default=None, ge=1)
    precision: Literal["fp32", "bf16"] = Field(
        default="fp32", description="encoder precision for every evaluation of the run (bf16: faster on AVX512-BF16)"
    )
