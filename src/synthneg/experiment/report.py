"""The experiment report: ``results.json``, ``report.md`` and ``plot.png`` from the cached stage outputs.

Works on a partial run too: arms or seeds without results are listed as pending.
"""

from __future__ import annotations

import json
import logging
import statistics
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from synthneg.experiment.arms import ARMS, control_arms, control_target
from synthneg.experiment.config import ExperimentConfig
from synthneg.experiment.contamination import seen_split
from synthneg.experiment.layout import RunLayout
from synthneg.experiment.query_report import load_quality
from synthneg.experiment.report_diagnostics import diagnostics
from synthneg.experiment.report_markdown import METRICS, render_markdown
from synthneg.experiment.report_markdown import dataset_labels as _labels
from synthneg.experiment.report_types import ArmCost, ArmStats, Summary
from synthneg.experiment.stages import StageLog, write_json

logger = logging.getLogger(__name__)

HEADLINE = "nDCG@10"
#: ``{arm: {dataset: [evaluation per seed]}}``
Found = dict[str, dict[str, list[dict[str, Any]]]]


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def collect(out: Path, config: ExperimentConfig) -> Found:
    """``{arm: {dataset: [result per seed]}}`` for every finished evaluation."""
    found: Found = {}
    for arm in config.arms:
        labels = ["zero-shot"] if arm == "zero-shot" else [f"{arm}/seed{s}" for s in config.seeds_of(arm)]
        for label in labels:
            for ds in _labels(config):
                path = RunLayout(out).evaluation(label, ds)
                if path.is_file():
                    res = _load(path)
                    made_in = res.get("timing", {}).get("precision", "fp32")  # absent: before precision existed
                    if made_in != config.eval.precision:
                        continue  # made under another eval.precision: stale for this config, pending again
                    res["label"] = label
                    found.setdefault(arm, {}).setdefault(ds, []).append(res)
    return found


def mean_per_query(results: list[dict[str, Any]], metric: str) -> dict[str, float]:
    """Per query, ``metric`` averaged over an arm's seeds (``results``: its evaluations on one dataset)."""
    qids = results[0]["per_query"].keys()
    return {q: statistics.fmean(r["per_query"][q][metric] for r in results) for q in qids}


@dataclass(frozen=True)
class Comparison:
    """A paired randomization test of one arm against another on one dataset (per-query nDCG@10, seeds averaged);
    ``p_holm`` is set once the arm's family (same baseline, same dataset) is known."""

    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    p_holm: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"diff": self.diff, "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value, "n": self.n}
        return d if self.p_holm is None else {**d, "p_holm": self.p_holm}


def paired(a: list[dict[str, Any]], b: list[dict[str, Any]], config: ExperimentConfig) -> Comparison:
    """Compare two arms' evaluations on one dataset (``a`` minus ``b``)."""
    from synthneg.evaluate.significance import compare

    c = compare(
        mean_per_query(a, HEADLINE),
        mean_per_query(b, HEADLINE),
        n_resamples=config.significance_resamples,
        seed=0,
        on_missing="zero",
    )
    return Comparison(c.mean_diff, c.ci_low, c.ci_high, c.p_value, c.n)


def arm_stats(results: list[dict[str, Any]]) -> ArmStats:
    """One arm on one dataset: the number of seeds and, per metric, mean, sd and the seeds' values."""
    entry: dict[str, Any] = {"seeds": len(results)}
    for m in METRICS:
        vals = [r["metrics"][m] for r in results]
        entry[m] = {
            "mean": statistics.fmean(vals),
            "sd": statistics.stdev(vals) if len(vals) > 1 else 0.0,
            "values": vals,
        }
    return entry  # type: ignore[return-value]  # built key by key from METRICS


def significance(found: Found, config: ExperimentConfig) -> dict[str, dict[str, dict[str, Comparison]]]:
    """``{arm: {dataset: {baseline: Comparison}}}`` against zero-shot and BM25 negatives, Holm-adjusted over the
    arms compared with the same baseline on the same dataset."""
    from synthneg.evaluate.significance import holm

    sig: dict[str, dict[str, dict[str, Comparison]]] = {}
    for baseline in ("zero-shot", "bm25"):
        for arm, by_ds in found.items() if baseline in found else ():
            for ds, results in by_ds.items():
                if arm != baseline and ds in found[baseline]:
                    sig.setdefault(arm, {}).setdefault(ds, {})[baseline] = paired(results, found[baseline][ds], config)
    families: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for arm, by_ds in sig.items():
        for ds, by_base in by_ds.items():
            for base in by_base:
                families.setdefault((ds, base), []).append((arm, ds, base))
    for members in families.values():
        adjusted = holm([sig[a][d][b].p_value for a, d, b in members])
        for (a, d, b), adj in zip(members, adjusted, strict=True):
            sig[a][d][b] = replace(sig[a][d][b], p_holm=adj)
    return sig


def matched_control(found: Found, config: ExperimentConfig, control: str = "bm25-matched") -> dict[str, Any]:
    """The arm a BM25 control matches against that control on the same queries (only the negatives differ), per
    dataset (``results.json``'s ``matched_control`` is ``bm25-matched``'s; ``controls`` holds every control's)."""
    target = control_target(control, config)
    matched = found.get(target, {}) if target is not None and control in found else {}
    return {
        ds: {"arm": target, **paired(results, found[control][ds], config).to_dict()}
        for ds, results in matched.items()
        if ds in found[control]
    }


def versus(found: Found, config: ExperimentConfig, arm: str, other: str) -> dict[str, Any]:
    """``arm`` against ``other``, paired by query, per dataset where both are evaluated (empty if either is not):
    ``llm-query-verified`` against ``llm-query`` (what verification buys), ``in-batch`` against
    ``in-batch-unfiltered`` (what the query filter buys: the same trainer, the queries with and without it),
    ``in-batch-title`` against ``in-batch`` (what the passages' titles add as second queries)."""
    mine, theirs = found.get(arm, {}), found.get(other, {})
    return {ds: paired(results, theirs[ds], config).to_dict() for ds, results in mine.items() if ds in theirs}


def ceiling_shares(arms: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Each arm's gain over zero-shot as a share of the labeled arm's gain, per dataset (None when the labeled
    arm does not beat zero-shot: a share of a loss means nothing)."""
    shares: dict[str, dict[str, float | None]] = {}
    if "labeled" not in arms or "zero-shot" not in arms:
        return shares
    for ds, lab in arms["labeled"].items():
        zero = arms["zero-shot"].get(ds)
        if zero is None:
            continue
        gain = lab[HEADLINE]["mean"] - zero[HEADLINE]["mean"]
        for arm, by_ds in arms.items():
            if arm not in ("zero-shot", "labeled") and ds in by_ds:
                own = by_ds[ds][HEADLINE]["mean"] - zero[HEADLINE]["mean"]
                shares.setdefault(arm, {})[ds] = own / gain if gain > 1e-12 else None
    return shares


def seen_unseen(found: Found, contamination: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Per arm and dataset, nDCG@10 on the test queries with a training passage judged relevant and on the rest."""
    seen: dict[str, Any] = {}
    for row in contamination or []:
        ids = row.get("query_ids_with_a_training_passage")
        for arm, by_ds in found.items() if ids else ():
            if row["dataset"] in by_ds:
                per_query = mean_per_query(by_ds[row["dataset"]], HEADLINE)
                seen.setdefault(arm, {})[row["dataset"]] = seen_split(per_query, ids)
    return seen


def summarize(out: Path, config: ExperimentConfig) -> Summary:
    """Everything the report shows, as JSON-able data (``results.json``)."""
    found = collect(out, config)
    layout = RunLayout(out)
    arms = {arm: {ds: arm_stats(results) for ds, results in by_ds.items()} for arm, by_ds in found.items()}
    sig = significance(found, config)
    contamination = _load(layout.contamination) if layout.contamination.is_file() else None
    stages = StageLog(layout.stages).data
    summary: Summary = {
        "name": config.name,
        "setting": setting(config),
        "metric": HEADLINE,
        "arms": arms,
        "pending": pending(found, config),
        "significance": {
            arm: {ds: {base: c.to_dict() for base, c in by_base.items()} for ds, by_base in by_ds.items()}
            for arm, by_ds in sig.items()
        },
        "share_of_labeled_gain": ceiling_shares(arms),
        "labeled_in_batch": labeled_in_batch(out, config),
        "matched_control": matched_control(found, config),
        "costs": costs(stages, config),
        "contamination": contamination,
        "seen_split": seen_unseen(found, contamination),
        "stages": stages,
    }
    if machines := eval_machines(found):
        summary["eval_machines"] = machines
    if (quality := load_quality(out)) is not None:
        summary["query_quality"] = quality
    if controls := {c: m for c, _ in control_arms(config) if (m := matched_control(found, config, c))}:
        summary["controls"] = controls
    if verified := versus(found, config, "llm-query-verified", "llm-query"):
        summary["verified_vs_query"] = verified
    if filtered := versus(found, config, "in-batch", "in-batch-unfiltered"):
        summary["filter_gain"] = filtered
    if titles := versus(found, config, "in-batch-title", "in-batch"):
        summary["title_gain"] = titles
    return summary


def eval_machines(found: Found) -> dict[str, dict[str, str | None]]:
    """Per dataset, each evaluation's machine (its GPU, else its CPU; ``None``: not recorded), only for datasets
    whose dense evaluations were not all made on one recorded machine; empty when every dataset's were."""
    mixed: dict[str, dict[str, str | None]] = {}
    for ds in sorted({ds for by_ds in found.values() for ds in by_ds}):
        cpus = {
            r["label"]: r.get("timing", {}).get("gpu") or r.get("timing", {}).get("cpu")
            for by_ds in found.values()
            for r in by_ds.get(ds, [])
        }
        if len(set(cpus.values())) > 1:
            mixed[ds] = cpus
    return mixed


def labeled_in_batch(out: Path, config: ExperimentConfig) -> dict[str, Any] | None:
    """In-batch false negatives of the labeled ceiling: judged-relevant passages that other rows bring
    into a query's batch (:func:`synthneg.diagnostics.in_batch_judged`). None without its triples, or
    when its qrels are not on this machine (never downloaded for a report)."""
    path = RunLayout(out).triples("labeled")
    if "labeled" not in config.arms or not path.is_file():
        return None
    from synthneg.data.triples import read_triples
    from synthneg.diagnostics import in_batch_judged
    from synthneg.errors import SynthnegError
    from synthneg.experiment.labeled import load_labeled_qrels

    try:
        qrels = load_labeled_qrels(config, download=False)
    except SynthnegError as exc:
        logger.warning("labeled ceiling: no in-batch figure (%s)", exc)
        return None
    return in_batch_judged(read_triples(path), qrels, config.train.batch_size).to_dict()


def setting(config: ExperimentConfig) -> str:
    """``in-domain`` when the passages are a sample of an evaluated corpus, else ``out-of-domain``."""
    beir = config.passages.beir
    return "in-domain" if beir is not None and beir in config.eval.datasets else "out-of-domain"


def pending(found: dict[str, Any], config: ExperimentConfig) -> list[str]:
    missing = []
    for arm in config.arms:
        want = len(config.seeds_of(arm)) if ARMS[arm].trained else 1
        for ds in _labels(config):
            have = len(found.get(arm, {}).get(ds, []))
            if have < want:
                missing.append(f"{arm} on {ds}: {have}/{want} seeds")
    return missing


def reuse_scale(ledger: dict[str, Any]) -> float | None:
    """How much larger a stage's full cost is than its last run's, when that run reused work paid by
    an earlier, interrupted run (whose wall and CPU time were never recorded): LLM calls scale by
    completion tokens (decoding dominates), reranker pairs by pairs. 1.0: nothing reused; None:
    everything reused, so the last run's time says nothing about the cost."""
    if "pairs_scored" in ledger:
        paid, reused = ledger.get("pairs_scored", 0), ledger.get("pairs_cached", 0)
    else:
        paid, reused = ledger.get("completion_tokens", 0), ledger.get("cached_completion_tokens", 0)
    if not reused:
        return 1.0
    return (paid + reused) / paid if paid else None


def _llm_totals(parts: list[dict[str, Any]]) -> tuple[int, int]:
    """LLM calls and tokens (paid and reused) of a queries ledger and negatives stages; a near-miss stage adds
    step 1's rewrites (``rewrite_ledger``, the ledger of the run that paid for them) to step 2's passages."""
    ledgers = [parts[0], *(n.get(f, {}) for n in parts[1:] for f in ("ledger", "rewrite_ledger"))]
    calls = sum(lg.get("calls", 0) + lg.get("cached_calls", 0) for lg in ledgers)
    fields = ("prompt_tokens", "completion_tokens", "cached_prompt_tokens", "cached_completion_tokens")
    return calls, sum(lg.get(k, 0) for lg in ledgers for k in fields)


def costs(stages: dict[str, Any], config: ExperimentConfig) -> dict[str, ArmCost]:
    """Per arm: LLM calls and tokens, CPU seconds of its data stage and of training, whether it read the corpus.

    ``data_cpu_s`` / ``data_wall_s`` are what the finished runs of the stages measured; when a stage
    resumed calls paid by an interrupted run, ``*_est`` scale them by the reused share of the tokens.
    """
    q = stages.get("queries", {})
    q_ledger = q.get("ledger", {})
    out: dict[str, ArmCost] = {}
    for arm in config.arms:
        spec = ARMS[arm]
        if not spec.trained:
            out[arm] = {
                "llm_calls": 0,
                "llm_tokens": 0,
                "data_cpu_s": 0.0,
                "train_cpu_s_per_seed": 0.0,
                "reads_corpus": False,
            }
            continue
        uses_queries = spec.uses_queries
        key = f"negatives:{arm}"
        # an arm that trains on another arm's negatives (the mixed verified arm) pays for them too
        negs = [stages.get(k, {}) for k in (key, *([f"negatives:{spec.builds_on}"] if spec.builds_on else []))]
        neg = negs[-1]  # the stage that made the negatives: its judge note
        calls, tokens = _llm_totals([q_ledger if uses_queries else {}, *negs])
        parts = [(q, reuse_scale(q_ledger))] if uses_queries else []
        parts += [(n, reuse_scale(n.get("ledger", {}))) for n in negs]
        trains = [v for k, v in stages.items() if k.startswith(f"train:{arm}:")]
        entry: ArmCost = {
            "llm_calls": calls,
            "llm_tokens": tokens,
            "data_cpu_s": round(sum(st.get("cpu_s", 0.0) for st, _ in parts), 1),
            "data_wall_s": round(sum(st.get("wall_s", 0.0) for st, _ in parts), 1),
            "train_cpu_s_per_seed": round(statistics.fmean([t["cpu_s"] for t in trains]), 1) if trains else None,
            "reads_corpus": spec.reads_corpus,
            "data_pending": spec.has_negatives and key not in stages,
            "note": "CE scores pairs with the LLM reranker; its cost is in data_cpu_s" if arm == "ce" else "",
        }
        if key in stages and "triples" in stages[key]:
            entry["triples"] = stages[key]["triples"]
        if "judge" in neg:
            j = neg["judge"]
            entry["note"] = (
                f"the judge scored {j['pairs_scored']} pairs in {j['score_wall_s']:.0f} s wall "
                f"and reused {j['pairs_cached']} from its store"
            )
        if any(sc is None for _, sc in parts):
            entry["data_cpu_s_est"] = entry["data_wall_s_est"] = None  # unknown: all of it was paid earlier
        elif any(sc > 1.0 for _, sc in parts):
            entry["data_cpu_s_est"] = round(sum(st.get("cpu_s", 0.0) * sc for st, sc in parts), 1)
            entry["data_wall_s_est"] = round(sum(st.get("wall_s", 0.0) * sc for st, sc in parts), 1)
        out[arm] = entry
    return out


def plot(summary: Summary, config: ExperimentConfig, path: Path) -> Path:
    """Grouped bars: datasets on the x axis, one bar per arm, error bars = sd over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    datasets = _labels(config)
    arms = [a for a in config.arms if a in summary["arms"]]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(datasets) * max(len(arms), 1) / 3), 4.2))
    width = 0.8 / max(len(arms), 1)
    x = np.arange(len(datasets))
    for i, arm in enumerate(arms):
        means = [summary["arms"][arm].get(ds, {}).get(HEADLINE, {}).get("mean", np.nan) for ds in datasets]
        sds = [summary["arms"][arm].get(ds, {}).get(HEADLINE, {}).get("sd", 0.0) for ds in datasets]
        ax.bar(x + (i - (len(arms) - 1) / 2) * width, means, width, yerr=sds, capsize=3, label=arm)
    ax.set_xticks(x, datasets)
    ax.set_ylabel(f"{HEADLINE} (mean ± sd over seeds)")
    ax.set_title(f"{config.name} ({setting(config)})")
    lows = [summary["arms"][a][ds][HEADLINE]["mean"] for a in arms for ds in datasets if ds in summary["arms"][a]]
    if lows:
        ax.set_ylim(max(0.0, min(lows) - 0.05), min(1.0, max(lows) + 0.05))
    ax.legend(fontsize=8, ncol=2, loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(out: Path, config: ExperimentConfig, *, with_diagnostics: bool = True) -> Path:
    """Write ``results.json``, ``report.md`` and ``plot.png`` into ``out``; returns the report path."""
    summary = summarize(out, config)
    diag, metrics = diagnostics(out, config) if with_diagnostics else (None, {})
    if metrics:
        summary["diagnostics"] = metrics
    write_json(RunLayout(out).results, summary)
    if summary["arms"]:
        plot(summary, config, out / "plot.png")
    path = RunLayout(out).report
    path.write_text(render_markdown(summary, config, diag), encoding="utf-8")
    logger.info("report written to %s", path)
    return path
