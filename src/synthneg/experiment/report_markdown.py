"""The experiment report's markdown: one function per section, composed by :func:`render_markdown`.

Each section takes the run's summary (``synthneg.experiment.report.summarize``) and its config, and returns its lines
(none when it has nothing to say): the header, one metric table per dataset, the matched control, the share of the
labeled ceiling's gain, the seen/unseen split, costs, contamination, then the queries' quality, what is pending and
the negatives' diagnostics.
"""

from __future__ import annotations

from typing import Any

from synthneg.evaluate.significance import format_p
from synthneg.experiment.arms import control_arms
from synthneg.experiment.config import ExperimentConfig, dataset_label
from synthneg.experiment.query_report import quality_lines
from synthneg.experiment.report_types import Summary
from synthneg.losses import LOSS_CLASSES

METRICS = ("nDCG@10", "P@10", "R@100")


def _eq(p: float) -> str:
    """``=0.123`` or ``<0.001``, to follow a "p"."""
    text = format_p(p)
    return text if text.startswith("<") else f"={text}"


def dataset_labels(config: ExperimentConfig) -> list[str]:
    return [dataset_label(d) for d in config.eval.datasets]


def _fmt(entry: dict[str, Any] | None, metric: str) -> str:
    if not entry:
        return "pending"
    m = entry[metric]
    return f"{m['mean']:.4f} ± {m['sd']:.4f}" if entry["seeds"] > 1 else f"{m['mean']:.4f}"


def render_markdown(summary: Summary, config: ExperimentConfig, diagnostics_md: str | None) -> str:
    """The report: one section function each, in this order."""
    lines = _header(summary, config)
    for section in (_metric_tables, _matched_control, _verified, _share_of_gain, _seen_split, _costs, _contamination):
        lines += section(summary, config)
    lines += _tail(summary, config, diagnostics_md)
    lines += ["![nDCG@10 per arm](plot.png)", ""]
    return "\n".join(lines)


def _header(summary: Summary, config: ExperimentConfig) -> list[str]:
    """The title and the settings: passages, LLM, training, evaluation, ceiling, control, cuts."""
    lines = [f"# {summary['name']}: which negatives train the better retriever ({summary['setting']})", ""]
    p = config.passages
    src = f"`{p.path.name}`" if p.path else f"BEIR `{p.beir}` corpus sample (corpus only)"
    lines += [
        f"- Passages: {src}, limit {p.limit or '-'}, sample {p.sample or '-'}; LLM `{config.llm.model}` "
        f"({config.llm.backend})"
        + (
            f" for the queries, `{config.negatives_llm.model}` ({config.negatives_llm.backend}) for the LLM negatives"
            if config.negatives_llm
            else ""
        )
        + f", output rules revision {config.rules_revision}; base model `{config.base_model}`.",
        f"- Training: {config.train.epochs} epoch(s)"
        + (f", at most {config.train.max_steps} steps" if config.train.max_steps else "")
        + f", batch {config.train.batch_size}, lr {config.train.learning_rate}, "
        f"max_seq_length {config.train.max_seq_length}, {LOSS_CLASSES[config.train.loss]}, NO_DUPLICATES"
        + (f", {config.train.precision} mixed precision" if config.train.precision != "fp32" else "")
        + f"; seeds {config.seeds}.",
        f"- Evaluation: {', '.join(dataset_labels(config))} ({config.eval.split}"
        + (f", encoder in {config.eval.precision}" if config.eval.precision != "fp32" else "")
        + (f", corpus sampled to {config.eval.corpus_sample} documents" if config.eval.corpus_sample else "")
        + "); mean ± sd over seeds.",
    ]
    if "labeled" in config.arms:
        lines += _ceiling_lines(summary, config)
    for control, target in control_arms(config):
        lines.append(
            f"- Control `{control}`: BM25 negatives for only the queries that `{target}` kept a "
            "triple for, so that its queries and step count are the same and only the negatives differ."
        )
    lines += _machine_lines(summary, config)
    if config.arm_seeds:
        cuts = ", ".join(f"{arm} {len(config.seeds_of(arm))} of {len(config.seeds)}" for arm in config.arm_seeds)
        lines.append(f"- **Budget cut** (`arm_seeds`): seeds trained per arm: {cuts}; every other arm has all.")
    lines.append("")
    return lines


def _machine_lines(summary: Summary, config: ExperimentConfig) -> list[str]:
    """One line per dataset whose evaluations (possibly) come from more than one machine."""
    lines: list[str] = []
    for ds, cpus in summary.get("eval_machines", {}).items():
        n = len({c for c in cpus.values() if c})
        unrecorded = sum(c is None for c in cpus.values())
        lines.append(
            f"- **{ds}: evaluations {'possibly ' if n <= 1 else ''}from more than one machine** ({n} recorded "
            f"machine{'s' if n != 1 else ''}, {unrecorded} evaluation(s) made before machines were recorded)."
            + (
                " bf16 scores of one model differ across machines (zero-shot MiniLM on SciFact by 0.0015 nDCG@10): compare"
                " such arms by their gains over a zero-shot evaluated on the same machine as each"
                " (`scripts/compare_runs.py ... --gain-over zero-shot` across runs)."
                if config.eval.precision == "bf16"
                else ""
            )
        )
    return lines


def _ceiling_lines(summary: Summary, config: ExperimentConfig) -> list[str]:
    """The labeled ceiling's settings and its in-batch false negatives."""
    lines: list[str] = []
    source = config.labeled_source
    per_query = (
        f", at most {config.labeled_per_query} positive(s) per query ("
        + (
            "the judged documents BM25 scores highest for it, `labeled_positive: bm25-top`)"
            if config.labeled_positive == "bm25-top"
            else "a seeded choice)"
        )
        if config.labeled_per_query
        else ", every judged pair"
    )
    lines.append(
        f"- Labeled ceiling: `{source}` {config.labeled_split} queries and qrels{per_query}, "
        "BM25 negatives from its corpus, the same trainer and settings"
        + (
            "; in-batch candidates judged relevant to a query are masked out of its loss (`labeled_mask_judged`)."
            if config.labeled_mask_judged
            else "."
        )
    )
    if inb := summary.get("labeled_in_batch"):
        lines.append(
            f"  In-batch false negatives: in a batch of {inb['batch_size']}, other rows bring on average "
            f"{inb['per_query']:.3f} passages judged relevant to a query ("
            + ("masked out of its loss here" if config.labeled_mask_judged else "the loss treats them as negatives")
            + "); "
            f"{inb['queries_exposed']:.1%} of its {inb['rows']} rows can meet such a row."
        )
    return lines


def _metric_tables(summary: Summary, config: ExperimentConfig) -> list[str]:
    """One table per dataset: every metric per arm, the change against zero-shot and BM25."""
    lines: list[str] = []
    for ds in dataset_labels(config):
        lines += [
            f"## {ds}",
            "",
            "| arm | " + " | ".join(METRICS) + " | Δ nDCG@10 vs zero-shot (p) | Δ vs bm25 (p) |",
            "| --- | " + " | ".join("---:" for _ in METRICS) + " | ---: | ---: |",
        ]
        for arm in config.arms:
            entry = summary["arms"].get(arm, {}).get(ds)
            cells = [_fmt(entry, m) for m in METRICS]
            rel = []
            for base in ("zero-shot", "bm25"):
                s = summary["significance"].get(arm, {}).get(ds, {}).get(base)
                rel.append(
                    f"{s['diff']:+.4f} [{s['ci_low']:+.4f}, {s['ci_high']:+.4f}] (p{_eq(s['p_value'])}, Holm {format_p(s['p_holm'])})"
                    if s
                    else "-"
                )
            lines.append(f"| {arm} | " + " | ".join(cells) + " | " + " | ".join(rel) + " |")
        lines.append("")
    lines += [
        "Δ: mean per-query difference in nDCG@10 (per-query values averaged over seeds), 95% paired bootstrap "
        "CI, two-sided paired randomization test; Holm: p adjusted over the arms compared with the same baseline.",
        "",
    ]
    return lines


def _matched_control(summary: Summary, config: ExperimentConfig) -> list[str]:
    """The matched arm against its BM25 control on the same queries."""
    lines: list[str] = []
    # results.json written before `controls` existed has bm25-matched's only
    controls = summary.get("controls") or (
        {"bm25-matched": summary["matched_control"]} if summary.get("matched_control") else {}
    )
    for control, by_dataset in controls.items():
        target = next(iter(by_dataset.values()))["arm"]
        title = f"## `{target}` against its control `{control}` (same queries, BM25 negatives)"
        lines += _paired_table(title, by_dataset)
        lines += ["", "Only the negatives differ: the queries, the number of rows and the steps are the same.", ""]
    return lines


def _paired_table(title: str, by_dataset: dict[str, dict[str, Any]]) -> list[str]:
    """A heading and one row per dataset: the paired difference in nDCG@10 with its 95% CI and p-value."""
    lines = [title, "", "| dataset | Δ nDCG@10 [95% CI] | p |", "| --- | ---: | ---: |"]
    for ds, c in by_dataset.items():
        lines.append(
            f"| {ds} | {c['diff']:+.4f} [{c['ci_low']:+.4f}, {c['ci_high']:+.4f}] | {format_p(c['p_value'])} |"
        )
    return lines


def _verified(summary: Summary, config: ExperimentConfig) -> list[str]:
    """The verified corpus-free negatives against the unverified ones, and the verifiers' rates."""
    lines: list[str] = []
    if summary.get("verified_vs_query"):
        title = "## `llm-query-verified` against `llm-query` (verified near-miss negatives against the paper's method)"
        lines += _paired_table(title, summary["verified_vs_query"])
        lines.append("")
    rates = {a: m["near_miss"] for a, m in summary.get("diagnostics", {}).items() if "near_miss" in m}
    if rates:
        lines += [
            "## Near-miss negatives: what the verifiers kept",
            "",
            "| arm | queries | candidates | rewrites past drift | passages | judge: answers the query | queries kept |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for arm, r in rates.items():
            answers = f"{100 * r['judge_answers_query']:.1f}% of {r['judged']}" if r["judged"] else "-"
            lines.append(
                f"| {arm} | {r['queries']} | {r['candidates']} | {r['rewrites_accepted']} | {r['passages_accepted']} "
                f"| {answers} | {r['kept']} ({100 * (r['acceptance_rate'] or 0):.1f}%) |"
            )
        lines.append("")
    return lines


def _share_of_gain(summary: Summary, config: ExperimentConfig) -> list[str]:
    """Each arm's share of the labeled ceiling's gain over zero-shot."""
    lines: list[str] = []
    if summary["share_of_labeled_gain"]:
        labels = dataset_labels(config)
        lines += [
            "## Share of the labeled ceiling's gain over zero-shot (nDCG@10)",
            "",
            "| arm | " + " | ".join(labels) + " |",
            "| --- |" + " ---: |" * len(labels),
        ]
        for arm, by_ds in summary["share_of_labeled_gain"].items():
            cells = [f"{100 * v:.0f}%" if v is not None else "-" for v in (by_ds.get(d) for d in labels)]
            lines.append(f"| {arm} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "(arm - zero-shot) / (labeled - zero-shot); '-' when the labeled arm does not beat zero-shot there.",
            "",
        ]
    return lines


def _seen_split(summary: Summary, config: ExperimentConfig) -> list[str]:
    """nDCG@10 on evaluated queries with and without a relevant training passage."""
    lines: list[str] = []
    if summary.get("seen_split"):
        lines += [
            "## nDCG@10 on evaluated queries with and without a relevant training passage",
            "",
            "| arm | dataset | with (n) | without (n) |",
            "| --- | --- | ---: | ---: |",
        ]
        for arm, by_ds in summary["seen_split"].items():
            for ds, sp in by_ds.items():
                cells = ["-" if sp[k] is None else f"{sp[k]:.4f} ({sp['n_' + k]})" for k in ("seen", "unseen")]
                lines.append(f"| {arm} | {ds} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "With: evaluated queries with a document judged relevant among the training passages, which got "
            "synthetic queries (zero-shot and labeled do not use the sampled passages: their rows are the "
            "reference for the same two groups). Per-query values averaged over seeds.",
            "",
        ]
    return lines


def _costs(summary: Summary, config: ExperimentConfig) -> list[str]:
    """LLM calls, tokens and CPU seconds per arm."""
    lines: list[str] = []
    lines += [
        "## Cost per arm",
        "",
        "| arm | LLM calls | LLM tokens | calls / tokens per triple | data CPU s | data wall s | train CPU s / seed "
        "| reads the corpus |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    estimated = False
    for arm, c in summary["costs"].items():
        cpu, wall = str(c["data_cpu_s"]), str(c.get("data_wall_s", 0))
        if "data_cpu_s_est" in c:
            estimated = True
            est_cpu, est_wall = c["data_cpu_s_est"], c["data_wall_s_est"]
            cpu += f" (≈{est_cpu:.0f}*)" if est_cpu is not None else " (?*)"
            wall += f" (≈{est_wall:.0f}*)" if est_wall is not None else " (?*)"
        if c.get("data_pending"):
            cpu, wall = f"{cpu} + pending", f"{wall} + pending"
        triples = c.get("triples")
        per = f"{c['llm_calls'] / triples:.1f} / {c['llm_tokens'] / triples:,.0f}" if triples else "-"
        lines.append(
            f"| {arm} | {c['llm_calls']} | {c['llm_tokens']} | {per} | {cpu} | {wall} | "
            f"{c['train_cpu_s_per_seed'] if c['train_cpu_s_per_seed'] is not None else '-'} | "
            f"{'yes' if c['reads_corpus'] else 'no'} |"
        )
    lines.append("")
    lines += [f"- `{arm}`: {c['note']}" for arm, c in summary["costs"].items() if c.get("note")]
    lines.append(
        "Data columns: the queries stage (shared by every arm but `labeled`) plus the arm's own negatives stage. "
        "'+ pending': the arm's negatives are not made yet. Per triple: the arm's LLM calls and tokens over the "
        "(query, positive, negative) rows it trains on, the queries' cost included (every query call, kept or not)."
    )
    if estimated:
        lines.append(
            "\\* A stage that resumed after an interruption timed only its last run; the figure in brackets "
            "scales it by the share of the work (completion tokens decoded, reranker pairs scored) done in "
            "earlier runs (an estimate); '?': all of it was done earlier."
        )
    lines.append("")
    return lines


def _contamination(summary: Summary, config: ExperimentConfig) -> list[str]:
    """Training passages against the evaluation corpora."""
    lines: list[str] = []
    if summary.get("contamination"):
        lines += [
            "## Contamination check (training passages vs evaluation corpora)",
            "",
            "| corpus | training passages | exact duplicates | sharing a 13-word shingle "
            "| judged relevant for an evaluated query | evaluated queries with such a passage |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for c in summary["contamination"]:
            judged = c.get("judged_relevant")
            touched = c.get("queries_with_a_training_passage")
            touched_s = "-" if touched is None else f"{touched} of {c['queries']}"
            lines.append(
                f"| {c['dataset']} | {c['passages']} | {c['exact_duplicates']} | {c['sharing_a_13gram']} "
                f"| {'-' if judged is None else judged} | {touched_s} |"
            )
        lines.append("")
        if summary.get("setting") == "in-domain":
            lines += [
                "In-domain by design: the passages are sampled from the evaluated corpus (the setting of GPL and "
                "InPars), so each is an exact duplicate there. The evaluated split's queries and qrels are never "
                "read for training; the last two columns say how much of the test set has a relevant document "
                "among the training passages (those passages got synthetic queries, not the test ones).",
                "",
            ]
    return lines


def _tail(summary: Summary, config: ExperimentConfig, diagnostics_md: str | None) -> list[str]:
    """The queries' quality, what is pending, the diagnostics."""
    lines: list[str] = []
    if summary.get("query_quality"):
        lines += quality_lines(summary["query_quality"], config.labeled_source)
    if summary.get("filter_gain"):
        title = "The query filter's gain: `in-batch` (the kept queries) against `in-batch-unfiltered` (every query):"
        lines += [*_paired_table(title, summary["filter_gain"]), ""]
    if summary.get("title_gain"):
        title = "The titles' gain: `in-batch-title` (the queries plus each passage's title) against `in-batch`:"
        lines += [*_paired_table(title, summary["title_gain"]), ""]
    if summary["pending"]:
        lines += ["## Pending (not run yet; rerun the same command to resume)", ""]
        lines += [f"- {p}" for p in summary["pending"]] + [""]
    if diagnostics_md:
        lines += ["## Diagnostics of each arm's negatives", "", diagnostics_md, ""]
    return lines
