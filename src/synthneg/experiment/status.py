"""What a rerun of an experiment would do: every stage, done or pending, without running anything.

``synthneg experiment CONFIG --status`` reads the run's markers, call stores and ``stages.json``. It
loads no model and calls no LLM. Pending LLM stages show how many calls (or reranker scores) their
store already holds, so that an interrupted run's progress is visible. Pending fine-tunes and
evaluations get an estimate from the medians of the stages that this run has already finished on
this machine (a learning curve's point with none yet: :func:`sibling_estimate`, from its other points).
Data stages get no estimate, because their cost depends on the LLM's rejections.

A finished data stage whose file is absent (a fresh clone: queries and triples are git-ignored) counts
as done when its marker recorded the file's digest: the next run rebuilds the file bit for bit from the
committed stores, and the fine-tunes keyed by that digest find their committed evaluations.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from synthneg.experiment.arms import ARMS, control_target
from synthneg.experiment.config import ExperimentConfig, dataset_label
from synthneg.experiment.runner import ExperimentRunner
from synthneg.experiment.stages import is_done, recorded_output

REBUILT = "file not here: the next run rebuilds it, with no new LLM call"
COPIED = "another point made it here: copied when this point runs"


@dataclass(frozen=True)
class StageState:
    """One stage of a run: its name (as in ``stages.json``), whether it is done, and a short detail."""

    stage: str
    done: bool
    detail: str = ""


@dataclass(frozen=True)
class RunStatus:
    stages: list[StageState]
    pending_train: int
    pending_arms: tuple[str, ...]  # the arm of each pending evaluation (of a fine-tune, pending too or done)
    estimate_s: float | None  # pending fine-tunes + evaluations, from this run's medians; None if unmeasured

    @property
    def done(self) -> int:
        return sum(s.done for s in self.stages)

    @property
    def pending_eval(self) -> int:
        return len(self.pending_arms)


def _lines(path: Path) -> int:
    if not path.is_file():
        return 0
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def _store_detail(path: Path, what: str) -> str:
    n = _lines(path)
    return f"{n:,} {what} stored, reused on resume" if n else "not started"


def run_status(runner: ExperimentRunner, copied: Sequence[str] = ()) -> RunStatus:
    """Every stage of ``runner``'s config with its state; see the module docstring. ``copied``: the reference labels
    a learning curve will copy from another point (synthneg.experiment.references), pending but not estimated."""
    from synthneg.models import model_identity, resolve_bi_encoder

    cfg, layout = runner.config, runner.layout
    gen = layout.generation
    states: list[StageState] = []
    base = model_identity(resolve_bi_encoder(cfg.base_model))
    if "zero-shot" in cfg.arms:
        done = runner.evaluated("zero-shot", base)
        states.append(StageState("eval:zero-shot", done, COPIED if not done and "zero-shot" in copied else ""))
    trained = [a for a in cfg.arms if ARMS[a].trained]
    if any(ARMS[a].uses_queries for a in trained):
        states.append(_queries_state(runner))
    pending_train, pending_arms = 0, []
    for arm in trained:
        data = runner.data_digest(arm)
        if ARMS[arm].has_negatives:
            key = runner.negatives_key(arm)
            done = data is not None
            detail = REBUILT if done and not layout.triples(arm).is_file() else ""
            if not done:
                store = ARMS[arm].store
                if store is not None:
                    what = "LLM calls" if store.endswith(".calls.jsonl") else "reranker scores"
                    detail = _store_detail(gen / store, what)
                elif key is None:
                    target = control_target(arm, cfg) or ARMS[arm].builds_on
                    detail = f"after negatives:{target}" if target else "after the queries"
            states.append(StageState(f"negatives:{arm}", done, detail))
        for seed in cfg.seeds_of(arm):
            label = f"{arm}/seed{seed}"
            tkey = runner.train_key(arm, data, seed) if data is not None else None
            if tkey is not None and runner.evaluated(label, tkey):
                states.append(StageState(f"train+eval:{label}", True))
                continue
            if label in copied:
                states.append(StageState(f"train+eval:{label}", False, COPIED))
                continue
            marker = layout.model(arm, seed) / "synthneg_done.json"
            trained_now = tkey is not None and is_done(marker, tkey)
            pending_train += not trained_now
            pending_arms.append(arm)
            states.append(
                StageState(
                    f"train+eval:{label}",
                    False,
                    "trained, evaluation pending" if trained_now else ("" if data is not None else "after its data"),
                )
            )
    estimate = _estimate(runner, pending_train, len(pending_arms))
    return RunStatus(states, pending_train, tuple(pending_arms), estimate)


def _queries_state(runner: ExperimentRunner) -> StageState:
    """The queries stage: read from a file, done, rebuilt from the stores on the next run, or its calls so far."""
    cfg, gen = runner.config, runner.layout.generation
    if cfg.queries.path is not None:
        return StageState("queries", runner.data_digest("in-batch") is not None, f"read from {cfg.queries.path}")
    marker, key = runner.layout.marker("queries"), runner.queries_key()
    if is_done(marker, key) and (gen / "queries.jsonl").is_file():
        return StageState("queries", True)
    if recorded_output(marker, key) is not None:
        return StageState("queries", True, REBUILT)
    return StageState("queries", False, _store_detail(gen / "queries.calls.jsonl", "calls"))


def _estimate(runner: ExperimentRunner, n_train: int, n_eval: int) -> float | None:
    """Pending fine-tunes x the median fine-tune + pending evaluations x the median evaluation (all datasets)."""
    if not n_train and not n_eval:
        return 0.0
    log = runner.log.data
    trains = [v["wall_s"] for k, v in log.items() if k.startswith("train:")]
    per_ds = []
    for name in runner.config.eval.datasets:
        walls = [v["wall_s"] for k, v in log.items() if k.startswith("eval:") and k.endswith(f":{dataset_label(name)}")]
        if not walls:
            return None
        per_ds.append(statistics.median(walls))
    if n_train and not trains:
        return None
    return n_train * (statistics.median(trains) if trains else 0.0) + n_eval * sum(per_ds)


def sibling_estimate(point: ExperimentConfig, siblings: Sequence[Path], pending: Sequence[str]) -> float | None:
    """Seconds for ``pending`` fine-tunes (one arm name each) and their evaluations, from the other points'
    stages fine-tuned on this machine: each arm's median seconds per training row, times its rows at the largest
    such point scaled by the passages (rows of arms that train on the generated queries grow with them; the
    labeled arm's do not), plus those points' median evaluation per dataset. None when an arm has no such stage."""
    from synthneg.search.dense import machine_signature

    machine, size = machine_signature(), point.passages.sample or point.passages.limit
    logs = {}
    for s in siblings:
        if s.name[1:].isdigit() and (s / "stages.json").is_file():
            logs[int(s.name[1:])] = json.loads((s / "stages.json").read_text(encoding="utf-8"))
    seconds = 0.0
    for arm in set(pending):
        runs = [
            (n, v)
            for n, log in sorted(logs.items())
            for k, v in log.items()
            if k.startswith(f"train:{arm}:")
            and v.get("machine") == machine
            and v.get("rows")
            and "copied_from" not in v
        ]
        if not runs or size is None:
            return None
        per_row = statistics.median(v["wall_s"] / v["rows"] for _, v in runs)
        largest = max(n for n, _ in runs)
        rows = statistics.median(v["rows"] for n, v in runs if n == largest)
        scale = size / largest if ARMS[arm].uses_queries else 1.0
        seconds += pending.count(arm) * per_row * rows * scale
    measured = {n for n, log in logs.items() if any(v.get("machine") == machine for v in log.values())}
    for name in point.eval.datasets:
        walls = [
            v["wall_s"]
            for n in measured
            for k, v in logs[n].items()
            if k.startswith("eval:") and k.endswith(f":{dataset_label(name)}") and "copied_from" not in v
        ]
        if pending and not walls:
            return None
        seconds += len(pending) * (statistics.median(walls) if walls else 0.0)
    return seconds
