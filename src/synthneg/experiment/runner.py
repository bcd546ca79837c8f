"""The experiment runner: passages -> LLM queries -> negatives per arm -> fine-tuning per seed -> BEIR evaluation ->
report. Every stage is cached and keyed by its inputs: a rerun (after a crash, one more arm or seed) redoes no work."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from synthneg.data.beir import BeirDataset, Corpus, load_beir
from synthneg.data.locate import resolve_dataset
from synthneg.data.sampling import subsample_corpus
from synthneg.data.triples import QueryRecord, Triple, write_training_rows, write_triples
from synthneg.errors import DataError, SynthnegError
from synthneg.experiment import keys
from synthneg.experiment.arms import ARMS, TRAINED_ARMS
from synthneg.experiment.config import ExperimentConfig, dataset_label
from synthneg.experiment.contamination import is_current as is_current_contamination
from synthneg.experiment.labeled import labeled_triples, load_labeled_qrels
from synthneg.experiment.layout import RunLayout
from synthneg.experiment.passages import load_training_passages
from synthneg.experiment.query_report import load_examples
from synthneg.experiment.query_stage import make_queries
from synthneg.experiment.stages import (
    NEW_OUTPUT,
    StageLog,
    differs,
    file_digest,
    is_done,
    mark_rebuilt,
    record_output,
    recorded_output,
    write_json,
)
from synthneg.generate.examples import QueryExample
from synthneg.llm.base import Generator

__all__ = ["TRAINED_ARMS", "ExperimentRunner", "load_training_passages", "run_experiment"]

logger = logging.getLogger(__name__)


@dataclass
class ExperimentRunner:
    """Runs (or resumes) an experiment; see :func:`run_experiment`."""

    config: ExperimentConfig
    show_progress: bool = True
    _generator: Generator | None = field(default=None, init=False, repr=False)
    _negatives_generator: Generator | None = field(default=None, init=False, repr=False)
    _examples: list[QueryExample] | None = field(default=None, init=False, repr=False)

    @property
    def out(self) -> Path:
        return self.config.output_dir

    @property
    def layout(self) -> RunLayout:
        """Every path of the run folder (synthneg.experiment.layout)."""
        return RunLayout(self.config.output_dir)

    @cached_property
    def log(self) -> StageLog:
        return StageLog(self.layout.stages)

    @cached_property
    def passages(self) -> Corpus:
        return load_training_passages(self.config)

    @cached_property
    def mining_pool(self) -> Corpus:
        """Where the mining arms find negatives: the passages, or the whole collection they are sampled from."""
        collection = self.config.mining.pool == "collection" and self.config.passages.sample is not None
        return load_training_passages(self.config, sample=False) if collection else self.passages

    def use_generators(self, queries: Generator, negatives: Generator | None = None) -> None:
        """Use these LLMs instead of loading ``llm`` / ``negatives_llm`` (a server client already open, or a stand-in
        that only replays a committed store); ``negatives`` defaults to the queries' one."""
        self._generator = queries
        self._negatives_generator = negatives

    @property
    def generator(self) -> Generator:
        """The LLM that writes the queries (``llm``), loaded on first use."""
        if self._generator is None:
            from synthneg.llm.factory import make_generator

            llm = self.config.llm
            self._generator = make_generator(llm.backend, llm.model, **llm.generator_options())
        return self._generator

    @property
    def negatives_generator(self) -> Generator:
        """The LLM that writes the LLM arms' negatives: the queries' one unless ``negatives_llm`` is set.

        Loading it frees the queries' model first: one local model in memory at a time."""
        if self.config.negatives_llm is None:
            return self.generator
        if self._negatives_generator is None:
            from synthneg.llm.factory import make_generator

            self._close_queries_generator()
            llm = self.config.negatives_llm
            self._negatives_generator = make_generator(llm.backend, llm.model, **llm.generator_options())
        return self._negatives_generator

    def _close_queries_generator(self) -> None:
        if self._generator is not None:
            self._generator.close()
            self._generator = None

    def close(self) -> None:
        self._close_queries_generator()
        if self._negatives_generator is not None:
            self._negatives_generator.close()
            self._negatives_generator = None

    # -- stages ------------------------------------------------------------------------------
    def queries(self) -> list[QueryRecord]:
        """LLM queries for every passage, filtered when configured (synthneg.experiment.query_stage)."""
        return make_queries(self)

    def queries_key(self) -> str:
        """The queries stage's key (synthneg.experiment.keys)."""
        return keys.queries_key(self)

    def examples(self) -> list[QueryExample]:
        """The few-shot example queries of ``queries.examples`` (none when unset), read once."""
        if self._examples is None:
            self._examples = load_examples(self.config)
        return self._examples

    def negatives_key(self, arm: str) -> str | None:
        """An arm's negatives stage key; None while an input does not exist yet (synthneg.experiment.keys)."""
        return keys.negatives_key(self, arm)

    def data_digest(self, arm: str) -> str | None:
        """The digest of an arm's training data (the query file for ``in-batch``): the file's, when it is
        here; else the one its stage's marker recorded under the current key (a fresh clone: the data files
        are git-ignored and the next run rebuilds them bit for bit from the stores); None when neither is
        known. A file that its marker does not vouch for counts as absent (queries read from ``queries.path``
        are copied afresh by every run, so their copy is taken as it is). ``in-batch-unfiltered``'s file (every
        query before the filter) is known once the queries stage has written it in this checkout."""
        if ARMS[arm].pairs is not None and arm != "in-batch":
            path = self.layout.store(ARMS[arm].pairs)  # type: ignore[arg-type]
            done = is_done(self.layout.marker("queries"), self.queries_key()) or self.config.queries.path is not None
            return file_digest(path) if done and path.is_file() else None
        if arm == "in-batch":
            path, marker = self.layout.queries, self.layout.marker("queries")
            given = self.config.queries.path
            if path.is_file() and (given is not None or is_done(marker, self.queries_key())):
                return file_digest(path)
            return None if given is not None and not given.is_file() else recorded_output(marker, self.queries_key())
        path, marker = self.layout.triples(arm), self.layout.marker(f"negatives-{arm}")
        key = self.negatives_key(arm)
        if key is None:
            return None
        if is_done(marker, key) and path.is_file():
            return file_digest(path)
        return recorded_output(marker, key)

    def negatives(self, arm: str, records: list[QueryRecord]) -> Path:
        """The training file of an arm: triples (JSONL) or, for the in-batch arms, the query records."""
        pairs = ARMS[arm].pairs
        if pairs is not None:
            path = self.layout.store(pairs)
            if not path.is_file():
                raise SynthnegError(f"{arm}: no {path.name}: the queries stage writes it (with queries.filter set)")
            return path
        target = self.layout.triples(arm)
        marker = self.layout.marker(f"negatives-{arm}")
        key = self.negatives_key(arm)
        if key is None:
            raise SynthnegError(f"{arm}: no query file yet; the queries stage runs before any arm's negatives")
        if is_done(marker, key) and target.is_file():
            record_output(marker, key, target)
            return target
        with self.log.timed(f"negatives:{arm}", key, reads_corpus=ARMS[arm].reads_corpus) as info:
            rows = self._make_negatives(arm, records, info)
            triples = [r for r in rows if isinstance(r, Triple)]
            info["triples"] = len(triples)
            if len(triples) < len(rows):  # a mixed arm: the other queries train on in-batch negatives only
                info["pairs"] = len(rows) - len(triples)
                write_training_rows(rows, target)
            else:
                write_triples(triples, target)
            info[NEW_OUTPUT] = differs(marker, key, target)
        mark_rebuilt(f"negatives:{arm}", marker, key, target)
        return target

    def _make_negatives(
        self, arm: str, records: list[QueryRecord], info: dict[str, Any]
    ) -> list[Triple] | list[Triple | QueryRecord]:
        spec = ARMS[arm]
        if spec.make is None:
            raise DataError(f"arm {arm!r} has no negatives stage")
        rows = spec.make(self, arm, records, info)
        if spec.writes_negatives and self.config.llm_positives == "text":
            from synthneg.generate.title_queries import untitled_positives

            return untitled_positives(rows, self.passages)
        return rows

    def labeled_triples(self) -> list[Triple]:
        """The ceiling: the dataset's own labeled train pairs, with BM25 negatives (synthneg.experiment.labeled)."""
        return labeled_triples(self.config, show_progress=self.show_progress)

    def train_key(self, arm: str, data: str, seed: int) -> str:
        """A fine-tune's key (synthneg.experiment.keys)."""
        from synthneg.models import model_identity, resolve_bi_encoder

        return keys.train_key(self, arm, data, model_identity(resolve_bi_encoder(self.config.base_model)), seed)

    def train(self, arm: str, data: Path, seed: int, key: str) -> Path:
        """Fine-tune the base model on an arm's data with one seed (resumes from its checkpoints)."""
        from synthneg.search.dense import machine_signature, software_signature
        from synthneg.train import train

        cfg = self.config
        out = self.layout.model(arm, seed)
        marker = out / "synthneg_done.json"
        if is_done(marker, key) and (out / "config.json").is_file():
            return out
        tc = cfg.train.train_config(seed=seed, use_negatives=ARMS[arm].has_negatives)
        qrels = load_labeled_qrels(cfg) if arm == "labeled" and cfg.labeled_mask_judged else None
        with self.log.timed(f"train:{arm}:seed{seed}", key) as info:
            show = self.show_progress
            res = train(data, model=cfg.base_model, out=out, config=tc, resume=True, qrels=qrels, show_progress=show)
            info["rows"] = res.summary.get("rows")
            info["steps"] = res.summary.get("global_step")
            info.update(machine=machine_signature(), software=software_signature())
            if qrels is not None:
                info["judged_masked"] = res.summary.get("judged_masked")
        shutil.rmtree(out / "checkpoints", ignore_errors=True)  # the final model is saved; save the disk
        write_json(marker, {"key": key})
        return out

    @cached_property
    def eval_sets(self) -> dict[str, BeirDataset]:
        e = self.config.eval
        sets = {name: load_beir(resolve_dataset(name, data_dir=e.data_dir), e.split) for name in e.datasets}
        if e.corpus_sample is not None:
            sets = {name: subsample_corpus(ds, e.corpus_sample) for name, ds in sets.items()}
        return sets

    def eval_key(self, identity: str, name: str) -> str:
        """An evaluation's key (synthneg.experiment.keys)."""
        return keys.eval_key(self, identity, name)

    def evaluated(self, label: str, identity: str) -> bool:
        """Whether every dataset's results for ``label`` exist under these inputs."""
        for name in self.config.eval.datasets:
            path = self.layout.evaluation(label, dataset_label(name))
            if not (is_done(path.with_suffix(".done.json"), self.eval_key(identity, name)) and path.is_file()):
                return False
        return True

    def evaluate(self, label: str, model: str, identity: str) -> dict[str, Path]:
        """Evaluate a model on every dataset; results JSON per dataset, cached under ``identity``
        (the base model's content for zero-shot, the training key for a fine-tuned model)."""
        from synthneg.evaluate import evaluate

        cfg = self.config
        paths = {}
        for name in cfg.eval.datasets:
            path = self.layout.evaluation(label, dataset_label(name))
            key = self.eval_key(identity, name)
            marker = path.with_suffix(".done.json")
            if not (is_done(marker, key) and path.is_file()):
                with self.log.timed(f"eval:{label}:{dataset_label(name)}", key):
                    res = evaluate(
                        model,
                        self.eval_sets[name],
                        query_prefix=cfg.train.query_prefix,
                        passage_prefix=cfg.train.passage_prefix,
                        precision=cfg.eval.precision,
                        show_progress=self.show_progress,
                    )
                    res.save(path)
                write_json(marker, {"key": key})
            paths[dataset_label(name)] = path
        return paths

    def _partial_report(self) -> None:
        from synthneg.experiment.report import write_report

        write_report(self.out, self.config, with_diagnostics=False)

    def _train_and_evaluate(self, trained: list[str], seeds: list[int], *, report: bool) -> None:
        """Seed-major, in the config's arm order, each arm's data made when first needed: a run that is stopped
        early has every arm of the first seed before any second seed. A fine-tune whose evaluations exist is
        not trained again (a fresh clone needs no model)."""
        cfg = self.config
        on_queries = any(ARMS[a].uses_queries for a in trained)
        records = self.queries() if on_queries else []
        if not records and on_queries:
            raise DataError(
                "no query records: every query generation attempt was rejected (see generation/queries.rejects.jsonl)",
                path=self.layout.generation,
            )
        data: dict[str, Path] = {}
        needed = [a for a in trained if any(s in cfg.seeds_of(a) for s in seeds)]
        if not needed:
            logger.warning("nothing to train: arm_seeds leaves none of the chosen arms a chosen seed")
        for seed in seeds:
            for arm in (a for a in trained if seed in cfg.seeds_of(a)):  # the others: a stated budget cut
                if arm not in data:
                    data[arm] = self.negatives(arm, records)
                    if all(a in data for a in needed):
                        self.close()  # no more LLM work: free the model before training
                label, key = f"{arm}/seed{seed}", self.train_key(arm, file_digest(data[arm]), seed)
                if self.evaluated(label, key):
                    continue
                model_dir = self.train(arm, data[arm], seed, key)
                self.evaluate(label, str(model_dir), key)
                if report:
                    self._partial_report()

    # -- the whole run ------------------------------------------------------------------------
    def run(
        self,
        *,
        report: bool = True,
        only_arms: Sequence[str] | None = None,
        only_seeds: Sequence[int] | None = None,
    ) -> Path:
        """Run or resume every stage, then write the report; returns the output folder.

        ``only_arms`` / ``only_seeds`` restrict this call to a subset of the config (e.g. the cheap arms of
        every seed first); the report still covers the whole config and lists the rest as pending.
        """
        cfg = self.config
        arms = _subset("arm", only_arms, cfg.arms)
        seeds = _subset("seed", only_seeds, cfg.seeds)
        self.out.mkdir(parents=True, exist_ok=True)
        write_json(self.out / "config.json", cfg.model_dump(mode="json"))
        try:
            if "zero-shot" in arms:
                from synthneg.models import model_identity, resolve_bi_encoder

                self.evaluate("zero-shot", cfg.base_model, model_identity(resolve_bi_encoder(cfg.base_model)))
            trained = [a for a in arms if ARMS[a].trained]
            if trained and not is_current_contamination(self.layout.contamination):
                from synthneg.experiment.contamination import contamination_report

                sets = [(dataset_label(n), ds.corpus, ds.qrels) for n, ds in self.eval_sets.items()]
                write_json(self.layout.contamination, contamination_report(self.passages, sets))
            if trained:
                self._train_and_evaluate(trained, seeds, report=report)
        finally:
            self.close()
        if report:
            from synthneg.experiment.report import write_report

            write_report(self.out, cfg)
        return self.out


def _subset(what: str, chosen: Sequence[Any] | None, configured: Sequence[Any]) -> list[Any]:
    """The configured items in config order, restricted to ``chosen``; naming one the config lacks is an error."""
    if not chosen:
        return list(configured)
    unknown = [c for c in chosen if c not in configured]
    if what == "arm":
        valid = tuple(ARMS)
        not_arms = [c for c in unknown if c not in valid]
        if not_arms:
            raise SynthnegError(f"no arm named {', '.join(map(str, not_arms))}; the arms are: {', '.join(valid)}")
    if unknown:
        raise SynthnegError(
            f"{what} {', '.join(map(str, unknown))} not in the config (it has: {', '.join(map(str, configured))}); "
            f"add it to the YAML first"
        )
    return [c for c in configured if c in chosen]


def run_experiment(
    config: ExperimentConfig,
    *,
    show_progress: bool = True,
    report: bool = True,
    only_arms: Sequence[str] | None = None,
    only_seeds: Sequence[int] | None = None,
) -> Path:
    """Run (or resume) ``config`` and write ``report.md``, ``results.json`` and ``plot.png`` in its output folder.

    ``only_arms`` / ``only_seeds`` run a subset of the config's stages now; the rest stay pending in the report.
    The full log (debug lines included) is appended to ``synthneg.log`` there, whatever the console shows.
    """
    from synthneg.console import log_to_folder
    from synthneg.locking import exclusive_folder

    with exclusive_folder(config.output_dir, what="experiment folder"), log_to_folder(config.output_dir):
        return ExperimentRunner(config, show_progress=show_progress).run(
            report=report, only_arms=only_arms, only_seeds=only_seeds
        )
