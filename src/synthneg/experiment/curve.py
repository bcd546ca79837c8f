"""The learning curve: the same experiment at several passage counts, and nDCG@10 against the number of passages.

``synthneg curve CONFIG --sizes 500 2000 5183`` runs CONFIG once per size N with ``passages.sample = N`` into
``<output_dir>/n<N>/`` (each point an ordinary, cached, resumable run). Every arm runs at every point, the references
too (``zero-shot``, ``labeled``: they do not depend on the passages, but a point is then self-contained: its gains
and paired tests are measured against references evaluated in the same run, on the same machine, which matters
because bf16 scores differ between machines). A reference another point finished on this machine, with the same
keys and library versions, is copied rather than redone (:mod:`synthneg.experiment.references`). ``curve.md``
(scores, and gains over each point's own zero-shot as a share of its own labeled gain) and ``curve.png`` go to
``<output_dir>``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from synthneg.errors import SynthnegError
from synthneg.experiment.arms import ARMS
from synthneg.experiment.config import ExperimentConfig, dataset_label

logger = logging.getLogger(__name__)

#: arms whose result does not change with the number of passages: drawn as reference lines, not as curves
REFERENCE_ARMS = ("zero-shot", "labeled")


def point_config(config: ExperimentConfig, size: int) -> ExperimentConfig:
    """The config of one curve point: ``size`` sampled passages and its own folder, every arm of ``config``."""
    # a BEIR corpus is sampled (seeded, so a smaller point's passages are not a prefix of a larger one's); a file is cut
    field = "sample" if config.passages.beir is not None else "limit"
    passages = config.passages.model_copy(update={field: size})
    if all(a in REFERENCE_ARMS for a in config.arms):
        raise SynthnegError("the curve has no arm that depends on the number of passages")
    return config.model_copy(
        update={
            "passages": passages,
            "output_dir": config.output_dir / f"n{size}",
            "name": f"{config.name} ({size} passages)",
        }
    )


def run_curve(
    config: ExperimentConfig,
    sizes: Sequence[int],
    *,
    show_progress: bool = True,
    calls_from: Sequence[Path] = (),
    only_arms: Sequence[str] = (),
    only_seeds: Sequence[int] = (),
    share_refs: bool = True,
) -> Path:
    """Run every point (cached: a rerun redoes nothing finished) and write ``curve.md`` / ``curve.png``.

    ``only_arms`` / ``only_seeds`` run a subset of each point now (e.g. the cheap arms of every seed before an
    arm that needs hours of LLM calls).

    The LLM calls are shared: before each point runs, the finished calls of the other points (and of the
    ``generation/`` folders in ``calls_from``, e.g. an earlier run on the same passages) for this point's passages
    are copied into its call stores, so that a passage in several points is paid for once (calls are keyed by
    their content; a passage's calls have the same key in every point). With ``share_refs``, so are the reference
    arms' fine-tunes and evaluations that another point finished under the same keys on this machine and software
    (:mod:`synthneg.experiment.references`)."""
    from synthneg.experiment.passages import load_training_passages
    from synthneg.experiment.references import share_references
    from synthneg.experiment.runner import run_experiment

    if not sizes or any(n < 1 for n in sizes) or len(set(sizes)) != len(sizes):
        raise SynthnegError(f"--sizes must be distinct positive passage counts, got {list(sizes)}")
    unknown = [a for a in only_arms if a not in config.arms]
    if unknown:
        raise SynthnegError(f"--arm {unknown[0]!r} is not an arm of the config (its arms: {', '.join(config.arms)})")
    sizes = sorted(sizes)
    for i, size in enumerate(sizes):
        point = point_config(config, size)
        arms = [a for a in point.arms if a in only_arms] if only_arms else None
        logger.info("curve point %d of %d: %d passages", i + 1, len(sizes), size)
        others = [config.output_dir / f"n{n}" / "generation" for n in sizes if n != size]
        ids = {d.id for d in load_training_passages(point).documents}
        shared = share_calls([*calls_from, *others], point.output_dir / "generation", ids)
        if shared:
            logger.info("curve point %d: %d finished LLM calls reused from other points", size, shared)
        if share_refs:
            share_references(point, [config.output_dir / f"n{n}" for n in started_points(config)])
        run_experiment(point, show_progress=show_progress, only_arms=arms, only_seeds=list(only_seeds) or None)
    return write_curve(config, sorted({*sizes, *started_points(config)}))  # every point, not only this call's


def started_points(config: ExperimentConfig) -> list[int]:
    """The passage counts of the curve points started under ``config``'s folder (``n<N>/`` with a config.json)."""
    folder = config.output_dir
    names = (p.parent.name for p in folder.glob("n*/config.json")) if folder.is_dir() else ()
    return sorted(int(n[1:]) for n in names if n[1:].isdigit())


def share_calls(sources: Sequence[Path], target: Path, passage_ids: set[str]) -> int:
    """Copy into ``target``'s call stores (``*.calls.jsonl``, by file name) the records of ``sources``' stores
    whose task belongs to one of ``passage_ids`` (a task id is ``<passage id>-...``) and that ``target`` lacks.
    Returns how many were copied."""
    from synthneg.generate.store import CallStore, iter_records

    copied = 0
    for folder in sources:
        for src in sorted(folder.glob("*.calls.jsonl")) if folder.is_dir() else ():
            rows = [r for r in iter_records(src) if _of_passages(str(r[2].get("task_id", "")), passage_ids)]
            if not rows:
                continue
            with CallStore(target / src.name) as store:
                for key, result, extra in rows:
                    if key not in store:
                        store.put(key, result, **extra)
                        copied += 1
    return copied


def _of_passages(task_id: str, passage_ids: set[str]) -> bool:
    """Whether ``task_id`` is ``<one of passage_ids>-<suffix>``."""
    return any(task_id[:i] in passage_ids for i, ch in enumerate(task_id) if ch == "-")


def collect(config: ExperimentConfig, sizes: Sequence[int]) -> dict[str, Any]:
    """``{"metric": name, "points": {arm: {dataset: [(size, mean, sd, seeds), ...]}}}`` from the points'
    ``results.json`` (points not run yet are skipped, and so are arms with no finished seed; ``seeds`` says how
    many an arm has, which the tables show when it is fewer than the config's)."""
    points: dict[str, dict[str, list[tuple[int, float, float, int]]]] = {}
    metric = "nDCG@10"
    for size in sorted(sizes):
        path = config.output_dir / f"n{size}" / "results.json"
        if not path.is_file():
            continue
        summary = json.loads(path.read_text(encoding="utf-8"))
        metric = summary.get("metric", metric)
        for arm, by_ds in summary["arms"].items():
            for ds, res in by_ds.items():
                if m := res.get(metric):
                    points.setdefault(arm, {}).setdefault(ds, []).append(
                        (size, m["mean"], m.get("sd", 0.0), res.get("seeds", 1))
                    )
    return {"metric": metric, "points": points}


def write_curve(config: ExperimentConfig, sizes: Sequence[int]) -> Path:
    """``curve.md`` (per dataset: each arm's score by passage count, then its gain over the point's own zero-shot
    with the share of the point's own labeled gain) and ``curve.png`` in the config's output folder."""
    from synthneg.atomic import write_text

    data = collect(config, sizes)
    metric, sizes = data["metric"], sorted(sizes)
    datasets = [dataset_label(d) for d in config.eval.datasets]
    lines = [f"# Learning curve: {config.name}", ""]
    lines += [
        f"{metric} on each evaluation set against the number of passages the training data was made from "
        f"(mean ± sd over seeds). Points: {', '.join(map(str, sizes))}. Every point is its own run with every arm; "
        "the references (zero-shot, the labeled ceiling) do not depend on the passages and are drawn as lines. "
        "Gains are over the zero-shot of the same point's run (evaluated there, or copied from another point that "
        "evaluated it on the same machine and software), with the share of that point's labeled gain.",
        "",
    ]
    if machines := _machines(config, sizes):
        lines += ["Machines: " + "; ".join(f"{n} passages {m}" for n, m in machines.items()) + ".", ""]
    arms = [*config.arms, *(a for a in data["points"] if a not in config.arms)]  # every arm: pending if not run
    wanted = {a: max(1, len(config.seeds_of(a))) if a in ARMS else 1 for a in arms}
    for ds in datasets:
        got = {a: {n: (mean, sd, k) for n, mean, sd, k in data["points"].get(a, {}).get(ds, [])} for a in arms}
        lines += _score_table(ds, sizes, got, wanted) + _gain_table(ds, sizes, got)
    _plot(data, datasets, config.output_dir / "curve.png")
    lines += ["![learning curve](curve.png)", ""]
    return write_text(config.output_dir / "curve.md", "\n".join(lines))


def _machines(config: ExperimentConfig, sizes: list[int]) -> dict[int, str]:
    """Where each point ran, as recorded: its evaluations' machines (the GPU, else the CPU) and its fine-tunes'
    (``machine`` in ``stages.json``); evaluations and fine-tunes from before machines were recorded are counted."""
    found: dict[int, str] = {}
    for n in sizes:
        point = config.output_dir / f"n{n}"
        evals = [p for p in sorted((point / "eval").rglob("*.json")) if not p.name.endswith(".done.json")]
        timings = [json.loads(p.read_text(encoding="utf-8")).get("timing", {}) for p in evals]
        stages_path = point / "stages.json"
        stages = json.loads(stages_path.read_text(encoding="utf-8")) if stages_path.is_file() else {}
        trains = [v for k, v in stages.items() if k.startswith("train:")]
        parts = _where("evaluated", [t.get("gpu") or t.get("cpu") for t in timings if t.get("encoder")])
        parts += _where("fine-tuned", [v.get("machine") for v in trains])
        if parts:
            found[n] = ", ".join(parts)
    return found


def _where(what: str, machines: list[str | None]) -> list[str]:
    """``["evaluated on A and B (3 not recorded)"]``, or ``[]`` when none is recorded."""
    named = sorted({m for m in machines if m})
    if not named:
        return []
    unknown = sum(m is None for m in machines)
    return [f"{what} on {' and '.join(named)}" + (f" ({unknown} not recorded)" if unknown else "")]


def _title(arm: str) -> str:
    return ARMS[arm].title if arm in ARMS else arm


def _score_table(
    ds: str, sizes: list[int], got: dict[str, dict[int, tuple[float, float, int]]], wanted: dict[str, int]
) -> list[str]:
    """Each arm's mean ± sd by passage count; an arm with fewer finished seeds than configured says so."""
    lines = [f"## {ds}", "", "| arm | " + " | ".join(f"{n}" for n in sizes) + " |", "| --- |" + " ---: |" * len(sizes)]
    for arm, by_n in got.items():
        cells = []
        for n in sizes:
            if n not in by_n:
                cells.append("pending")
                continue
            mean, sd, k = by_n[n]
            cells.append(f"{mean:.4f} ± {sd:.4f}" + (f" ({k}/{wanted[arm]} seeds)" if k < wanted[arm] else ""))
        lines.append(f"| {_title(arm)} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _gain_table(ds: str, sizes: list[int], got: dict[str, dict[int, tuple[float, float, int]]]) -> list[str]:
    """Each arm's gain over its point's zero-shot, with the share of its point's labeled gain ('-' when the
    labeled arm does not beat zero-shot there: a share of a loss means nothing)."""
    zero, labeled = got.get("zero-shot", {}), got.get("labeled", {})
    if not zero:
        return []
    lines = [f"Gain over each point's zero-shot ({ds}; share of that point's labeled gain):", ""]
    lines += ["| arm | " + " | ".join(f"{n}" for n in sizes) + " |", "| --- |" + " ---: |" * len(sizes)]
    for arm, by_n in got.items():
        if arm == "zero-shot":
            continue
        cells = []
        for n in sizes:
            if n not in by_n or n not in zero:
                cells.append("pending")
                continue
            gain = by_n[n][0] - zero[n][0]
            ceiling = labeled[n][0] - zero[n][0] if n in labeled else None
            share = "" if ceiling is None or arm == "labeled" else f" ({gain / ceiling:.0%})" if ceiling > 0 else " (-)"
            cells.append(f"{gain:+.4f}{share}")
        lines.append(f"| {_title(arm)} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _plot(data: dict[str, Any], datasets: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.2), squeeze=False)
    for ax, ds in zip(axes[0], datasets, strict=True):
        for arm, by_ds in data["points"].items():
            pts = sorted(by_ds.get(ds, []))
            if not pts:
                continue
            xs, ys, sds = [p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts]
            if arm in REFERENCE_ARMS:
                _reference(ax, arm, xs, ys, sds)
            else:
                ax.errorbar(xs, ys, yerr=sds, marker="o", capsize=3, label=ARMS[arm].short if arm in ARMS else arm)
        ax.set_xscale("log")
        ax.set_xlabel("passages")
        ax.set_ylabel(data["metric"])
        ax.set_title(ds)
        if ax.get_legend_handles_labels()[0]:  # a dataset no point has finished: an empty axis
            ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _reference(ax: Any, arm: str, xs: list[int], ys: list[float], sds: list[float]) -> None:
    """Zero-shot as a dashed line, the labeled ceiling as a line in a ± sd band: through the points that have
    them, or across the whole axis when only one point does."""
    grey = arm == "zero-shot"
    style = {"color": "grey", "linestyle": "--"} if grey else {"color": "green", "linewidth": 1}
    label = "zero-shot" if grey else "labeled ceiling (± sd)"
    if len(xs) == 1:
        ax.axhline(ys[0], label=label if grey else None, **style)
        if not grey:
            ax.axhspan(ys[0] - sds[0], ys[0] + sds[0], color="green", alpha=0.15, label=label)
        return
    ax.plot(xs, ys, marker=".", label=label if grey else None, **style)
    if not grey:
        lo, hi = [y - s for y, s in zip(ys, sds, strict=True)], [y + s for y, s in zip(ys, sds, strict=True)]
        ax.fill_between(xs, lo, hi, color="green", alpha=0.15, label=label)
