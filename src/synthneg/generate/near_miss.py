"""Corpus-free negatives that do not answer the query: write a near-miss query first, then a passage for it.

Asked for a negative from the query alone, a small LLM restates the query: it writes text that *answers the query it is
given*, which is what it is good at. So give it a different query. Two steps, each its own LLM stage with its own call
store (both replay like every other stage):

1. **rewrite** (template ``near-miss-query``): the query with one key term (gene, protein, drug, disease, population,
   organism, method, outcome) replaced by a related one of the same kind. The ``drift`` check rejects a rewrite that
   changes no content term (a paraphrase) and retries with the next seed; with an encoder it also records the cosine
   similarity of the two queries (and refuses rewrites above ``DriftRules.max_similarity`` or below
   ``DriftRules.min_similarity`` when those are set: too close to the query, or about something else altogether).
2. **passage** (template ``passage-for-query``): a passage that answers the rewritten query, validated like any negative
   (length, code, repetition, near-copy of the positive, a copy of the query).

Each step may use its own model (``rewriter`` and ``writer``): the 1.5B rewrites well where the 0.5B often returns a
synonym, and the long passage can stay on the cheaper model. With ``candidates=K`` each query gets K rewrites (each its
own seeded call). Every written passage is then verified without reading a corpus: an LLM ``judge`` scores it and the
query's positive against the *original* query and refuses it when it scores within ``judge_margin`` of the positive
(it answers the query); an optional encoder ceiling (``relative_margin``) refuses one closer to the query than the
positive allows, before the judge reads it (the judge then scores only what the ceiling lets through). Of a query's
passing candidates the hardest under the encoder (the first, without one) is kept; every candidate, with all its
verdicts, goes to ``negatives-<method>.candidates.jsonl``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthneg.data.triples import QueryRecord, Triple, write_triples
from synthneg.errors import SynthnegError
from synthneg.generate.engine import CANDIDATE_SEP, Task, candidate_tasks, group_candidates
from synthneg.generate.near_miss_rewrite import REWRITES, DriftRules, validate_rewrite, validate_swap
from synthneg.generate.outputs import StageOptions, StageResult, finish_stage, provenance, run_stage, write_jsonl
from synthneg.llm.base import Generator
from synthneg.llm.parse import NegativeRules, Verdict, validate_negative
from synthneg.llm.prompts import load_template
from synthneg.llm.types import GenerationResult, SamplingParams

METHOD = "llm-near-miss"
REWRITE_STEM = "negatives-near-miss-rewrite"
REWRITE_SAMPLING = SamplingParams(max_tokens=64)
PASSAGE_SAMPLING = SamplingParams(max_tokens=256)
#: encodes a list of texts into L2-normalised vectors (e.g. ``DenseEncoder.encode``)
Encode = Callable[[list[str]], np.ndarray]
#: the cosines of text pairs (a[i], b[i]) (e.g. ``StoredCosines``)
Cosines = Callable[[list[str], list[str]], np.ndarray]


@dataclass
class NearMissSettings:
    """Everything a near-miss run needs beside the records (see :func:`generate_near_miss_negatives`)."""

    rewriter: Generator
    writer: Generator
    out: Path
    candidates: int = 1
    drift: DriftRules = field(default_factory=DriftRules)
    encode: Encode | None = None
    cosines: Cosines | None = None
    judge: Any = None
    judge_margin: float = 0.0
    relative_margin: float | None = None
    method: str = METHOD
    rewrite: str = "free"
    rules: NegativeRules = field(default_factory=NegativeRules)
    rewrite_sampling: SamplingParams = REWRITE_SAMPLING
    passage_sampling: SamplingParams = PASSAGE_SAMPLING
    max_attempts: int = 3
    seed: int = 0
    force: bool = False
    show_progress: bool = True
    rewrite_max_attempts: int | None = None  # step 1's own attempts per task (None: max_attempts)
    passage_max_attempts: int | None = None  # step 2's

    def stage(
        self,
        stem: str,
        tasks: list[Task],
        generator: Generator,
        template: Any,
        sampling: SamplingParams,
        attempts: int | None = None,
    ) -> Any:
        options = StageOptions(sampling, self.seed, attempts or self.max_attempts, self.force, self.show_progress)
        return run_stage(stem, tasks, generator, self.out, template, options)


def _cosines(encode: Encode, a: list[str], b: list[str]) -> np.ndarray:
    return np.sum(encode(a) * encode(b), axis=1)


def _similarities(cfg: NearMissSettings, a: list[str], b: list[str]) -> np.ndarray | None:
    """The pairs' cosines: from ``cosines`` (e.g. a store), else by ``encode``; None without either or pairs."""
    if not a:
        return None
    if cfg.cosines is not None:
        return cfg.cosines(a, b)
    return _cosines(cfg.encode, a, b) if cfg.encode is not None else None


class _NearMiss:
    """One run: step 1 (rewrites), the drift ceiling, step 2 (passages), the judge and hardness, the selection."""

    def __init__(self, records: Sequence[QueryRecord], cfg: NearMissSettings) -> None:
        self.cfg = cfg
        self.by_id: dict[str, QueryRecord] = {}
        for rec in records:
            if rec.query_id in self.by_id:
                raise SynthnegError(f"duplicate query_id {rec.query_id!r} in the query records")
            self.by_id[rec.query_id] = rec
        self.similarity: dict[str, float] = {}
        self.judged: dict[str, tuple[float, float]] = {}
        self.hardness: dict[str, float] = {}
        self.positive_similarity: dict[str, float] = {}

    def record(self, task_id: str) -> QueryRecord:
        return self.by_id[task_id.split(CANDIDATE_SEP, maxsplit=1)[0]]

    def rewrite(self) -> None:
        """Step 1, then the encoder's similarity of each accepted rewrite to its query (when an encoder is given)."""
        cfg = self.cfg
        tpl = load_template(REWRITES[cfg.rewrite])
        instructions = [
            sentence
            for message in tpl.render(query="")
            for sentence in re.split(r"(?<=[.:])\s+", message.content)
            if len(sentence.split()) >= 3
        ]
        tasks = []
        for rec in self.by_id.values():

            def check(res: GenerationResult, rec: QueryRecord = rec) -> Verdict:
                truncated = res.finish_reason == "length"
                if cfg.rewrite == "swap":
                    return validate_swap(res.text, rec.query, cfg.drift, truncated=truncated)
                return validate_rewrite(res.text, rec.query, cfg.drift, truncated=truncated, prompt=instructions)

            tasks.append(Task(rec.query_id, tpl.render(query=rec.query), check))
        tasks = candidate_tasks(tasks, cfg.candidates)
        self.outcomes1, ledger = cfg.stage(
            REWRITE_STEM, tasks, cfg.rewriter, tpl, cfg.rewrite_sampling, cfg.rewrite_max_attempts
        )
        self.step1 = {o.task.task_id: o for o in self.outcomes1}
        self.rewrites = {o.task.task_id: o.accepted for o in self.outcomes1 if o.accepted is not None}
        rows = [
            {"task_id": t, "query": self.record(t).query, "rewrite": a.verdict.text, "drift": a.verdict.detail}
            for t, a in self.rewrites.items()
        ]
        output = write_jsonl(rows, cfg.out / f"{REWRITE_STEM}.jsonl")
        finish_stage(REWRITE_STEM, cfg.out, output, self.outcomes1, ledger, len(self.rewrites))
        ids = list(self.rewrites)
        sims = _similarities(cfg, [self.record(t).query for t in ids], [self.rewrites[t].verdict.text for t in ids])
        if sims is not None:
            self.similarity = {t: float(x) for t, x in zip(ids, sims, strict=True)}
        ceiling, floor = cfg.drift.max_similarity, cfg.drift.min_similarity
        self.too_close = {t for t, x in self.similarity.items() if ceiling is not None and x > ceiling}
        self.off_topic = {t for t, x in self.similarity.items() if floor is not None and x < floor}

    def write_passages(self) -> None:
        """Step 2: a passage answering each accepted near-miss query (not those outside the similarity bounds)."""
        cfg = self.cfg
        self.tpl2 = load_template("passage-for-query")
        tasks = []
        for tid, acc in self.rewrites.items():
            if tid in self.too_close or tid in self.off_topic:
                continue
            rec = self.record(tid)

            def check(res: GenerationResult, rewrite: str = acc.verdict.text, rec: QueryRecord = rec) -> Verdict:
                truncated = res.finish_reason == "length"
                return validate_negative(res.text, rewrite, rec.positive, cfg.rules, truncated=truncated)

            tasks.append(Task(tid, self.tpl2.render(query=acc.verdict.text), check))
        self.stem = f"negatives-{METHOD}"
        self.outcomes2, self.ledger2 = cfg.stage(
            self.stem, tasks, cfg.writer, self.tpl2, cfg.passage_sampling, cfg.passage_max_attempts
        )
        self.passages = {o.task.task_id: o for o in self.outcomes2}

    def verify(self) -> None:
        """The encoder's hardness (and ceiling), then the judge's scores (negative and positive against the original
        query) for the candidates the ceiling lets through: the encoder costs milliseconds a pair, the judge seconds."""
        cfg = self.cfg
        accepted = [t for t, o in self.passages.items() if o.accepted is not None]
        texts = {t: self.passages[t].accepted.verdict.text for t in accepted}  # type: ignore[union-attr]
        queries = [self.record(t) for t in accepted]
        sims = _similarities(cfg, [r.query for r in queries], list(texts.values()))
        if sims is not None:
            self.hardness = {t: float(x) for t, x in zip(accepted, sims, strict=True)}
        if cfg.relative_margin is not None and accepted:
            recs = {r.query_id: r for r in queries}  # once per query, not per candidate
            pos = _similarities(cfg, [r.query for r in recs.values()], [r.positive for r in recs.values()])
            assert pos is not None  # generate_near_miss_negatives checked that an encoder is given
            by_query = {q: float(x) for q, x in zip(recs, pos, strict=True)}
            self.positive_similarity = {t: by_query[r.query_id] for t, r in zip(accepted, queries, strict=True)}
        to_judge = [t for t in accepted if not self.too_close_to_query(t)]
        if cfg.judge is not None and to_judge:
            recs_j = [self.record(t) for t in to_judge]
            pairs = [(r.query, texts[t]) for r, t in zip(recs_j, to_judge, strict=True)]
            scores = cfg.judge.score(pairs + [(r.query, r.positive) for r in recs_j])
            n = len(to_judge)
            self.judged = {t: (float(scores[i]), float(scores[n + i])) for i, t in enumerate(to_judge)}

    def too_close_to_query(self, tid: str) -> bool:
        """NV-Retriever's positive-aware ceiling, as in mining: closer to the query than the positive allows
        (always False without ``relative_margin``)."""
        if self.cfg.relative_margin is None or tid not in self.positive_similarity:
            return False
        pos = self.positive_similarity[tid]
        return self.hardness[tid] > pos - self.cfg.relative_margin * abs(pos)

    def candidate_row(self, c: int, tid: str) -> tuple[dict[str, Any], bool]:
        """The candidates-file row of candidate ``c`` (task ``tid``), and whether it passed every check."""
        step1 = self.step1[tid].attempts[-1]
        row: dict[str, Any] = {"query_id": self.record(tid).query_id, "candidate": c, "kept": False}
        row["rewrite"] = {"text": step1.verdict.text, "reason": step1.verdict.reason, "detail": step1.verdict.detail}
        if tid in self.similarity:
            row["rewrite"]["similarity"] = round(self.similarity[tid], 4)
        if tid in self.too_close:
            row["rewrite"]["reason"] = "drift_similarity"
        if tid in self.off_topic:
            row["rewrite"]["reason"] = "drift_off_topic"
        o2 = self.passages.get(tid)
        if o2 is None:
            return row, False
        row["passage"] = {"text": o2.attempts[-1].verdict.text, "reason": o2.attempts[-1].verdict.reason}
        ok = o2.accepted is not None
        if tid in self.judged:
            neg, pos = self.judged[tid]
            answers = neg >= pos - self.cfg.judge_margin
            row["judge"] = {"negative": round(neg, 4), "positive": round(pos, 4), "answers_query": answers}
            ok = ok and not answers
        if tid in self.hardness:
            row["hardness"] = round(self.hardness[tid], 4)
        if tid in self.positive_similarity and self.cfg.relative_margin is not None:
            too_close = self.too_close_to_query(tid)
            row["encoder"] = {"positive": round(self.positive_similarity[tid], 4), "too_close": too_close}
            ok = ok and not too_close
        return row, ok

    def triple(self, tid: str, kept: int) -> Triple:
        cfg, rec = self.cfg, self.record(tid)
        acc = self.passages[tid].accepted
        assert acc is not None
        # only scores that replay exactly from the stores (the judge's): the encoder's similarity and hardness
        # differ in their last bits between CPUs and library versions, and the triples' bytes key the fine-tunes;
        # both stay in the candidates file, rounded
        scores: dict[str, float] = {}
        if tid in self.judged:
            scores["judge_negative"], scores["judge_positive"] = self.judged[tid]
        extra: dict[str, Any] = {"judge": cfg.judge.identity, "judge_margin": cfg.judge_margin} if cfg.judge else {}
        if cfg.relative_margin is not None:
            extra["relative_margin"] = cfg.relative_margin
        if cfg.candidates > 1:
            extra.update(candidate=kept, candidates=cfg.candidates)
        prov = provenance(
            cfg.writer,
            self.tpl2,
            cfg.passage_sampling,
            acc,
            mode="near-miss",
            near_miss_query=self.rewrites[tid].verdict.text,
            rewrite_call=self.rewrites[tid].key,
            rewrite_model=cfg.rewriter.model_id,
            drift=cfg.drift.provenance(),
            **extra,
        )
        return Triple(
            query_id=rec.query_id,
            query=rec.query,
            positive_id=rec.positive_id,
            positive=rec.positive,
            negative=acc.verdict.text,
            method=cfg.method,
            scores=scores,
            provenance=prov,
        )

    def select(self) -> StageResult:
        """Per query, the hardest candidate that passed (the first without an encoder); files and the ledger."""
        cfg = self.cfg
        triples: list[Triple] = []
        rows: list[dict[str, Any]] = []
        for group in group_candidates(self.outcomes1, cfg.candidates):
            ids = [o.task.task_id for o in group]
            checked = [self.candidate_row(c, tid) for c, tid in enumerate(ids)]
            passing = [c for c, (_, ok) in enumerate(checked) if ok]
            if passing:
                kept = max(passing, key=lambda c: self.hardness.get(ids[c], 0.0)) if self.hardness else passing[0]
                checked[kept][0]["kept"] = True
                triples.append(self.triple(ids[kept], kept))
            rows.extend(row for row, _ in checked)
        write_jsonl(rows, cfg.out / f"negatives-{cfg.method}.candidates.jsonl")
        output = write_triples(triples, cfg.out / f"negatives-{cfg.method}.jsonl")
        return finish_stage(self.stem, cfg.out, output, self.outcomes2, self.ledger2, len(triples))


def candidate_rates(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Rates over a ``*.candidates.jsonl`` of the near-miss strategy: how many rewrites passed the drift check, how
    many passages were written, how often the judge found a passage answering the original query, and the share
    of queries that kept a negative (the acceptance rate)."""
    queries = {r["query_id"] for r in rows}
    rewrites = [r for r in rows if not r.get("rewrite", {}).get("reason")]
    passages = [r for r in rows if "passage" in r and not r["passage"].get("reason")]
    judged = [r for r in rows if "judge" in r]
    answers = sum(bool(r["judge"].get("answers_query")) for r in judged)
    kept = {r["query_id"] for r in rows if r.get("kept")}
    encoded = [r for r in rows if "encoder" in r]
    ceiling = {"encoder_too_close": sum(r["encoder"]["too_close"] for r in encoded) / len(encoded)} if encoded else {}
    return {
        "queries": len(queries),
        "candidates": len(rows),
        "rewrites_accepted": len(rewrites),
        "passages_accepted": len(passages),
        "judged": len(judged),
        "judge_answers_query": answers / len(judged) if judged else None,
        **ceiling,
        "kept": len(kept),
        "acceptance_rate": len(kept) / len(queries) if queries else None,
    }


def _check_options(
    candidates: int, rewrite: str, drift: DriftRules, relative_margin: float | None, *, encoder: bool
) -> None:
    if candidates < 1:
        raise SynthnegError(f"candidates must be at least 1, got {candidates}")
    if rewrite not in REWRITES:
        raise SynthnegError(f"unknown rewrite {rewrite!r}: use {' or '.join(REWRITES)}")
    if relative_margin is not None and not encoder:
        raise SynthnegError("relative_margin compares encoder similarities: give an encoder (encode or cosines)")
    if (drift.min_similarity, drift.max_similarity) != (None, None) and not encoder:
        raise SynthnegError("the drift's similarity bounds compare encoder similarities: give an encoder")
    if relative_margin is not None and not 0.0 <= relative_margin <= 1.0:
        raise SynthnegError(f"relative_margin must be in [0, 1], got {relative_margin}")


def generate_near_miss_negatives(
    records: Sequence[QueryRecord],
    rewriter: Generator,
    writer: Generator,
    out_dir: str | Path,
    *,
    candidates: int = 1,
    drift: DriftRules = DriftRules(),
    encode: Encode | None = None,
    cosines: Cosines | None = None,
    judge: Any = None,
    judge_margin: float = 0.0,
    relative_margin: float | None = None,
    method: str = METHOD,
    rewrite: str = "free",
    rules: NegativeRules = NegativeRules(),
    rewrite_sampling: SamplingParams = REWRITE_SAMPLING,
    passage_sampling: SamplingParams = PASSAGE_SAMPLING,
    max_attempts: int = 3,
    seed: int = 0,
    force: bool = False,
    show_progress: bool = True,
    rewrite_max_attempts: int | None = None,
    passage_max_attempts: int | None = None,
) -> StageResult:
    """Near-miss negatives for ``records`` into ``out_dir/negatives-{method}.jsonl`` (see the module docstring).

    Step 1's calls go to ``negatives-near-miss-rewrite.calls.jsonl`` (its rejects and cost beside it), step 2's to
    ``negatives-llm-near-miss.calls.jsonl``. A rerun reuses every stored call of both steps.

    Verification (the ``llm-query-verified`` arm): with a ``judge`` (a pair scorer, e.g. the LLM reranker:
    higher = the passage answers the query), a candidate whose judge score for the *original* query reaches the
    positive's score minus ``judge_margin`` answers the query and is refused (``answers_query``). With ``encode``,
    the kept candidate is the hardest accepted one (highest cosine with the query under the encoder), else the first;
    ``cosines`` (pairs -> cosines, e.g. :class:`~synthneg.search.stored_cosines.StoredCosines`) replaces ``encode``.
    ``relative_margin`` (needs ``encode`` or ``cosines``) also refuses a candidate closer to the query than
    ``positive - relative_margin * |positive|`` under the encoder (``encoder.too_close``; NV-Retriever's
    positive-aware ceiling, 0.05 there, as ``mine dense --relative-margin``); the judge does not score those.
    ``rewrite="swap"`` asks step 1 for ``term => sibling`` only and substitutes it (:mod:`near_miss_rewrite`).
    ``max_attempts`` bounds the tries per task of both steps; ``rewrite_max_attempts`` / ``passage_max_attempts``
    give one step its own bound.
    """
    _check_options(candidates, rewrite, drift, relative_margin, encoder=encode is not None or cosines is not None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # every keyword of this function but the records and the folder is a field of the settings, by the same name
    options = {k: v for k, v in locals().items() if k in NearMissSettings.__dataclass_fields__}
    run = _NearMiss(records, NearMissSettings(**options))
    run.rewrite()
    run.write_passages()
    run.verify()
    return run.select()
