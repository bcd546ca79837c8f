"""Reference arms shared between the points of a learning curve, where that changes no number.

The references (``zero-shot``; ``labeled``, which trains on the dataset's own train split) do not depend on the
passages, so every curve point computes the same stage keys for them: the same base model, labeled triples, seeds
and settings. A point still needs its references evaluated on the machine that evaluates its other arms (bf16
scores differ between CPUs, and fine-tunes between GPUs and CPUs). :func:`share_references` copies a sibling
point's finished reference stages into a point only when their keys are this point's *and* they were fine-tuned and
evaluated on this machine with these library versions (the signatures every fine-tune and evaluation records):
what a rerun here would compute. On a 2-core CPU that saves about 45 minutes a SciFact point (three labeled
fine-tunes of 9 minutes and four evaluations of 3.5). The copied ``stages.json`` entries say where they came from
(``copied_from``).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from synthneg.experiment.config import ExperimentConfig, dataset_label
from synthneg.experiment.stages import is_done, write_json

logger = logging.getLogger(__name__)

LABELED = "labeled"


def share_references(point: ExperimentConfig, siblings: Sequence[Path], *, dry_run: bool = False) -> list[str]:
    """Copy into ``point``'s run folder the reference stages (``zero-shot``, ``labeled/seed<N>``) that a folder of
    ``siblings`` (other points of the curve) finished under the same keys on this machine and software; returns the
    labels copied (``dry_run``: the labels that would be, nothing written). A stage this point has already
    finished is left alone."""
    from synthneg.experiment.runner import ExperimentRunner
    from synthneg.models import model_identity, resolve_bi_encoder
    from synthneg.search.dense import cpu_signature, machine_signature, software_signature

    here = {"cpu": cpu_signature(), "machine": machine_signature(), "software": software_signature()}
    if here["cpu"] is None or here["machine"] is None:  # off Linux the machine is unknown: nothing can be vouched for
        return []
    runner = ExperimentRunner(point, show_progress=False)
    layout, log = runner.layout, runner.log
    copied: list[str] = []
    for sibling in (s for s in siblings if s.resolve() != layout.root.resolve() and (s / "stages.json").is_file()):
        theirs: dict[str, Any] = json.loads((sibling / "stages.json").read_text(encoding="utf-8"))
        labels: list[tuple[str, str, str | None]] = []  # (label, identity, its fine-tune's stage)
        if "zero-shot" in point.arms:
            labels.append(("zero-shot", model_identity(resolve_bi_encoder(point.base_model)), None))
        digest = _labeled_digest(runner, sibling, theirs, copy=not dry_run) if LABELED in point.arms else None
        if digest is not None:
            for seed in point.seeds_of(LABELED):
                key = runner.train_key(LABELED, digest, seed)
                labels.append((f"{LABELED}/seed{seed}", key, f"train:{LABELED}:seed{seed}"))
        for label, identity, train_stage in labels:
            if label in copied or runner.evaluated(label, identity):
                continue
            stages = _same_here(runner, sibling, theirs, label, identity, train_stage, here)
            if stages is None:
                continue
            copied.append(label)
            if dry_run:
                continue
            for name in point.eval.datasets:
                path = layout.evaluation(label, dataset_label(name))
                source = sibling / path.relative_to(layout.root)
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, path)
                shutil.copyfile(source.with_suffix(".done.json"), path.with_suffix(".done.json"))
            for stage in stages:
                log.data[stage] = {**theirs[stage], "copied_from": sibling.name}
            write_json(layout.stages, log.data)
            logger.info("%s: %s copied from %s (same keys, machine and software)", point.name, label, sibling.name)
    return copied


def _labeled_digest(runner: Any, sibling: Path, theirs: dict[str, Any], *, copy: bool) -> str | None:
    """The labeled triples' digest: this point's, or else the sibling's when its marker has this point's key (the
    triples are rebuilt bit for bit from the labeled dataset whenever a file is needed); with ``copy``, that
    marker (and its stages.json entry) becomes this point's."""
    own = runner.data_digest(LABELED)
    if own is not None:
        return own
    target = runner.layout.marker(f"negatives-{LABELED}")
    source = sibling / "markers" / target.name
    key = runner.negatives_key(LABELED)
    marker = json.loads(source.read_text(encoding="utf-8")) if source.is_file() else {}
    if key is None or marker.get("key") != key or not marker.get("output"):
        return None
    if copy:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        if f"negatives:{LABELED}" in theirs:
            runner.log.data[f"negatives:{LABELED}"] = {**theirs[f"negatives:{LABELED}"], "copied_from": sibling.name}
            write_json(runner.layout.stages, runner.log.data)
    return str(marker["output"])


def _same_here(
    runner: Any,
    sibling: Path,
    theirs: dict[str, Any],
    label: str,
    identity: str,
    train_stage: str | None,
    here: dict[str, str | None],
) -> list[str] | None:
    """The sibling's stage names for ``label`` when every one of its evaluations (and its fine-tune) is finished
    under this point's keys on this machine and software; None otherwise."""
    stages = []
    if train_stage is not None:
        train = theirs.get(train_stage, {})
        if train.get("machine") != here["machine"] or train.get("software") != here["software"]:
            return None
        stages.append(train_stage)
    for name in runner.config.eval.datasets:
        ds = dataset_label(name)
        source = sibling / runner.layout.evaluation(label, ds).relative_to(runner.layout.root)
        if not (source.is_file() and is_done(source.with_suffix(".done.json"), runner.eval_key(identity, name))):
            return None
        timing = json.loads(source.read_text(encoding="utf-8")).get("timing", {})
        if timing.get("cpu") != here["cpu"] or timing.get("software") != here["software"]:
            return None
        stage = f"eval:{label}:{ds}"
        if stage in theirs:
            stages.append(stage)
    return stages
