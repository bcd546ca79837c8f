"""Reference arms shared between the points of a learning curve, where that changes no number.

The references (``zero-shot``; ``labeled``, which trains on the dataset's own train split) do not depend on the
passages, so every curve point computes the same stage keys for them: the same base model, labeled triples, seeds
and settings. A point still needs its references evaluated on the machine that evaluates its other arms (bf16
scores differ between CPUs, and fine-tunes between GPUs and CPUs). :func:`share_references` copies a sibling
point's finished reference stages into a point only when their keys are this point's *and* they were fine-tuned and
evaluated on this machine with these library versions (the signatures every fine-tune and evaluation records):
what a rerun here would compute. On a 2-core CPU that saves about 40 minutes a SciFact point (three labeled
fine-tunes of 533-587 s and four evaluations of about 215 s, measured at the CPU curve's 500-passage point). The copied ``stages.json`` entries say where they came from
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
    labels copied (``dry_run``: the labels that would be, nothing written). A reference of which this point has
    any evaluation already is left alone."""
    from synthneg.experiment.runner import ExperimentRunner
    from synthneg.models import model_identity, resolve_bi_encoder

    here = _here()
    if here is None:
        return []
    runner = ExperimentRunner(point, show_progress=False)
    layout, log = runner.layout, runner.log
    base = model_identity(resolve_bi_encoder(point.base_model)) if "zero-shot" in point.arms else None
    own_digest = runner.data_digest(LABELED) if LABELED in point.arms else None
    copied: list[str] = []
    for sibling in (s for s in siblings if s.resolve() != layout.root.resolve() and (s / "stages.json").is_file()):
        theirs: dict[str, Any] = json.loads((sibling / "stages.json").read_text(encoding="utf-8"))
        labels: list[tuple[str, str, str | None]] = []  # (label, identity, its fine-tune's stage)
        if base is not None:
            labels.append(("zero-shot", base, None))
        digest = own_digest or (_sibling_digest(runner, sibling, theirs) if LABELED in point.arms else None)
        for seed in point.seeds_of(LABELED) if digest is not None else ():
            labels.append(
                (f"{LABELED}/seed{seed}", runner.train_key(LABELED, digest, seed), f"train:{LABELED}:seed{seed}")
            )
        for label, identity, train_stage in labels:
            if label in copied or _any_evaluation(runner, label):
                continue
            stages = _same_here(runner, sibling, theirs, label, identity, train_stage, here)
            if stages is None:
                continue
            copied.append(label)
            if dry_run:
                continue
            if train_stage is not None and own_digest is None:  # the labeled triples' marker, once
                own_digest = digest
                shutil.copyfile(sibling / "markers" / _MARKER, _target(layout.marker(f"negatives-{LABELED}")))
                stages.append(f"negatives:{LABELED}")
            for name in point.eval.datasets:
                path = _target(layout.evaluation(label, dataset_label(name)))
                source = sibling / path.relative_to(layout.root)
                shutil.copyfile(source, path)
                shutil.copyfile(source.with_suffix(".done.json"), path.with_suffix(".done.json"))
            for stage in (s for s in stages if s in theirs):  # where it was made first, for a copy of a copy
                log.data[stage] = {**theirs[stage], "copied_from": theirs[stage].get("copied_from", sibling.name)}
            write_json(layout.stages, log.data)
            logger.info("%s: %s copied from %s (same keys, machine and software)", point.name, label, sibling.name)
    return copied


_MARKER = f"negatives-{LABELED}.json"


def _here() -> dict[str, str | None] | None:
    """This machine's signatures as evaluations and fine-tunes record them (``gpu``: None without CUDA); None when
    the CPU cannot be identified (off Linux): then nothing can be vouched for."""
    from synthneg.search.dense import cpu_signature, machine_signature, software_signature

    cpu, machine = cpu_signature(), machine_signature()
    if cpu is None or machine is None:
        return None
    return {
        "cpu": cpu,
        "machine": machine,
        "gpu": machine if machine != cpu else None,
        "software": software_signature(),
    }


def _target(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _any_evaluation(runner: Any, label: str) -> bool:
    """Whether this point holds an evaluation of ``label`` on any of its datasets (finished or from another key)."""
    return any(runner.layout.evaluation(label, dataset_label(n)).is_file() for n in runner.config.eval.datasets)


def _sibling_digest(runner: Any, sibling: Path, theirs: dict[str, Any]) -> str | None:
    """The digest of the sibling's labeled triples when its marker and its stages.json entry have this point's key
    (the triples depend on the labeled dataset only, and are rebuilt bit for bit whenever a file is needed)."""
    source = sibling / "markers" / _MARKER
    key = runner.negatives_key(LABELED)
    marker = json.loads(source.read_text(encoding="utf-8")) if source.is_file() else {}
    if key is None or marker.get("key") != key or theirs.get(f"negatives:{LABELED}", {}).get("key") != key:
        return None
    return str(marker["output"]) if marker.get("output") else None


def _same_here(
    runner: Any,
    sibling: Path,
    theirs: dict[str, Any],
    label: str,
    identity: str,
    train_stage: str | None,
    here: dict[str, str | None],
) -> list[str] | None:
    """The sibling's stage names for ``label`` when its fine-tune (if any) and every one of its evaluations are
    finished under this point's keys, in markers and stages.json alike, on this machine and software; else None."""
    stages = []
    if train_stage is not None:
        train = theirs.get(train_stage, {})
        if train.get("key") != identity or any(train.get(f) != here[f] for f in ("machine", "software")):
            return None
        stages.append(train_stage)
    for name in runner.config.eval.datasets:
        ds, key = dataset_label(name), runner.eval_key(identity, name)
        source = sibling / runner.layout.evaluation(label, ds).relative_to(runner.layout.root)
        stage = f"eval:{label}:{ds}"
        if not (source.is_file() and is_done(source.with_suffix(".done.json"), key)):
            return None
        if theirs.get(stage, {}).get("key") != key:
            return None
        timing = json.loads(source.read_text(encoding="utf-8")).get("timing", {})
        if any(timing.get(f) != here[f] for f in ("cpu", "gpu", "software")):
            return None
        stages.append(stage)
    return stages
