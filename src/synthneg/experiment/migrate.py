"""Re-key a committed arm whose rebuilt training data differs from the recorded digest only in machine noise.

An arm's triples are keyed by their bytes (``synthneg.experiment.keys``). When a change that does not touch what the
model trains on (e.g. dropping an encoder score that differs in its last bits between CPUs) changes those bytes, the
committed fine-tunes would be trained again on a fresh clone. :func:`migrate_arm` rebuilds the arm's data from the
tracked stores (no LLM call), checks that it is the same training data by the text-only diagnostics recorded when the
run was made (triple and query counts, query-term overlap and negative/positive Jaccard, which change with any
negative's text) and the encoder similarities within noise, then moves the run's markers, stage log and diagnostics
from the old digest to the new one. The arms whose key holds that digest (a BM25 control matched to the arm, the
mixed arm built on it) are re-keyed too, each only if its own data, rebuilt from the new digest, has the bytes its
marker recorded (so its fine-tunes stand). ``scripts/migrate_arm_digest.py`` is its command line.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthneg.errors import SynthnegError
from synthneg.experiment.config import ExperimentConfig, dataset_label
from synthneg.experiment.layout import RunLayout
from synthneg.experiment.stages import file_digest, write_json

logger = logging.getLogger(__name__)

#: diagnostics that depend only on the triples' text: equal, or the data changed
EXACT = ("triples", "queries", "query_terms_in_negative", "negative_positive_jaccard")
#: diagnostics from the base encoder: equal within float noise
NOISY = ("sim_query_negative", "sim_query_positive", "closer_than_positive")
NOISE = 1e-5


@dataclass(frozen=True)
class Migration:
    """What :func:`migrate_arm` found (and, unless ``dry_run``, did): the old and new digests, the re-keyed stages."""

    arm: str
    old: str
    new: str
    rekeyed: tuple[str, ...]
    #: the data stages of the arms built on ``arm`` whose key moved (their data, and so their fine-tunes, did not)
    dependents: tuple[str, ...] = ()


def migrate_arm(config: ExperimentConfig, arm: str, *, dry_run: bool = False) -> Migration:
    """Rebuild ``arm``'s data of ``config``'s run from its tracked files and re-key its fine-tunes' evaluations."""
    from synthneg.experiment.replay import replay_runner, tracked_copy

    run = config.output_dir.resolve()
    layout = RunLayout(run)
    marker = layout.marker(f"negatives-{arm}")
    if not marker.is_file():
        raise SynthnegError(f"{arm}: no committed marker {marker}")
    old = json.loads(marker.read_text(encoding="utf-8"))["output"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "run"
        tracked_copy(run, folder)
        runner = replay_runner(config, folder)
        records = runner.queries()
        data = runner.negatives(arm, records)
        new = file_digest(data)
        rekey: dict[str, tuple[str, str]] = {}
        if new != old:
            _check_same_data(layout.diagnostics(arm), data, runner)
            rekey = _rekeys(runner, arm, old, new)
        moved = _dependents(runner, layout, arm, records)
        if not dry_run:
            if new != old:
                _apply(layout, arm, old, new, rekey, data)
            _apply_dependents(layout, moved)
    return Migration(arm, old, new, tuple(sorted(rekey)), tuple(f"negatives:{dep}" for dep in sorted(moved)))


class _DigestOf:
    """``runner`` as if ``arm``'s data had the digest ``digest``: what a key built on that arm is under it."""

    def __init__(self, runner: Any, arm: str, digest: str) -> None:
        self._runner, self._arm, self._digest = runner, arm, digest

    def data_digest(self, arm: str) -> str | None:
        return self._digest if arm == self._arm else self._runner.data_digest(arm)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runner, name)


def _dependents(runner: Any, layout: RunLayout, arm: str, records: list[Any]) -> dict[str, tuple[str, str]]:
    """``{arm: (old key, new key)}`` for each of the run's arms whose data key holds ``arm``'s digest and whose
    committed marker is keyed otherwise; each one's data is rebuilt on the new digest and must have the bytes its
    marker recorded (else its fine-tunes would not stand: refused, nothing changed)."""
    from synthneg.experiment import keys

    out: dict[str, tuple[str, str]] = {}
    for dep in runner.config.arms:
        new_key = runner.negatives_key(dep)
        if dep == arm or keys.negatives_key(_DigestOf(runner, arm, "0" * 16), dep) == new_key:
            continue  # its key does not hold arm's digest
        marker = layout.marker(f"negatives-{dep}")
        if not marker.is_file():
            continue  # not made yet: the next run makes it under the new key
        recorded = json.loads(marker.read_text(encoding="utf-8"))
        if recorded.get("key") == new_key:
            continue
        rebuilt = file_digest(runner.negatives(dep, records))
        if rebuilt != recorded.get("output"):
            raise SynthnegError(
                f"{dep} is built on {arm}: rebuilt, its data has the digest {rebuilt}, its marker {marker} "
                f"recorded {recorded.get('output')}; its fine-tunes would change: train it again instead of re-keying"
            )
        out[dep] = (recorded["key"], new_key)
    return out


def _apply_dependents(layout: RunLayout, moved: dict[str, tuple[str, str]]) -> None:
    """Move each dependent arm's marker and its stage-log entry to its new key (its output digest is unchanged)."""
    if not moved:
        return
    stages = json.loads(layout.stages.read_text(encoding="utf-8")) if layout.stages.is_file() else None
    for dep, (before, after) in moved.items():
        marker = layout.marker(f"negatives-{dep}")
        write_json(marker, {**json.loads(marker.read_text(encoding="utf-8")), "key": after})
        entry = (stages or {}).get(f"negatives:{dep}")
        if entry is not None and entry.get("key") == before:
            entry["key"] = after
        logger.info("%s: data key %s -> %s (its data, and so its fine-tunes, unchanged)", dep, before, after)
    if stages is not None:  # no stage log: none is made up
        write_json(layout.stages, stages)


def _check_same_data(diagnostics: Path, data: Path, runner: Any) -> None:
    """Refuse unless the rebuilt triples give the diagnostics recorded for the old ones."""
    from synthneg.data.triples import read_triples
    from synthneg.diagnostics import inspect_triples
    from synthneg.experiment.report_diagnostics import arm_metrics
    from synthneg.search.dense import DenseEncoder

    if not diagnostics.is_file():
        raise SynthnegError(f"no recorded diagnostics {diagnostics}: nothing to check the rebuilt data against")
    recorded = json.loads(diagnostics.read_text(encoding="utf-8")).get("metrics") or {}
    encoder = DenseEncoder(runner.config.base_model, show_progress=False)
    reports = inspect_triples(read_triples(data), encoder=encoder, n_examples=1)
    now = arm_metrics(reports, candidates=data.with_suffix(".absent"))  # the triples' metrics only, no near-miss rates
    for name in EXACT + NOISY:
        if name not in recorded:
            raise SynthnegError(f"{diagnostics}: no recorded {name!r} to check the rebuilt data against")
        tol = NOISE if name in NOISY else 0.0
        if not math.isclose(now[name], recorded[name], rel_tol=0.0, abs_tol=tol):
            raise SynthnegError(
                f"{data.name}: {name} is {now[name]!r} rebuilt, {recorded[name]!r} recorded: the training data "
                "changed, not only its machine noise; train again instead of re-keying"
            )


def _rekeys(runner: Any, arm: str, old: str, new: str) -> dict[str, tuple[str, str]]:
    """``{stage: (old key, new key)}`` for each committed fine-tune of ``arm`` and its evaluations."""
    cfg = runner.config
    out: dict[str, tuple[str, str]] = {}
    for seed in cfg.seeds_of(arm):
        before, after = runner.train_key(arm, old, seed), runner.train_key(arm, new, seed)
        out[f"train:{arm}:seed{seed}"] = (before, after)
        for name in cfg.eval.datasets:
            label = f"eval:{arm}/seed{seed}:{dataset_label(name)}"
            out[label] = (runner.eval_key(before, name), runner.eval_key(after, name))
    return out


def _apply(layout: RunLayout, arm: str, old: str, new: str, rekey: dict[str, tuple[str, str]], data: Path) -> None:
    """Move the evaluations' markers, the stage log, the arm's marker and diagnostics to the new digest; every
    evaluation marker is checked before anything is written."""
    moves: list[tuple[Path, str]] = []
    for stage, (before, after) in rekey.items():
        if not stage.startswith("eval:"):
            continue
        label, ds = stage[len("eval:") :].rsplit(":", 1)
        done = layout.evaluation(label, ds).with_suffix(".done.json")
        if not done.is_file():
            continue  # not evaluated yet: nothing to move
        if json.loads(done.read_text(encoding="utf-8")).get("key") != before:
            raise SynthnegError(f"{done}: not keyed by the recorded data {old}; nothing was changed")
        moves.append((done, after))
    for done, after in moves:
        write_json(done, {"key": after})
    if layout.stages.is_file():  # no stage log: none is made up
        stages = json.loads(layout.stages.read_text(encoding="utf-8"))
        for stage, (before, after) in rekey.items():
            if stage in stages and stages[stage].get("key") == before:
                stages[stage]["key"] = after
        write_json(layout.stages, stages)
    marker = layout.marker(f"negatives-{arm}")
    write_json(marker, {**json.loads(marker.read_text(encoding="utf-8")), "output": new})
    diag = layout.diagnostics(arm)
    write_json(diag, {**json.loads(diag.read_text(encoding="utf-8")), "digest": new})
    if layout.triples(arm).is_file():  # a local copy of the old triples: replace it with the rebuilt one
        shutil.copy2(data, layout.triples(arm))
    logger.info("%s: data digest %s -> %s; %d evaluation markers moved", arm, old, new, len(moves))
