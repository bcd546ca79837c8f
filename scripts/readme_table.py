"""Print the README's headline table for an experiment from its ``results.json``.

    .venv/bin/python scripts/readme_table.py docs/results/arxiv-500/results.json

Per arm and evaluated dataset: nDCG@10 as mean +- sd over seeds, and the change against the BM25 arm
(or ``--baseline zero-shot``) with the Holm-adjusted p-value of the paired randomization test (as in the
report). When the run has a ``labeled`` arm (in-domain), a column gives each arm's share of the labeled
ceiling's gain over zero-shot. ``--ceiling`` reads the ceiling from another run instead (its ``labeled``
arm, e.g. a variant config of the same setting that shares the zero-shot model): the table gains that
ceiling's row, its delta tested in its own run, and the shares are of its gain. Arms without a trained
model yet are listed as pending, so the table never hides them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

NAMES = {
    "zero-shot": "zero-shot MiniLM (no training)",
    "labeled": "labeled ceiling (own train queries, BM25 negatives)",
    "bm25": "BM25 negatives (reads the corpus)",
    "llm-query": "**LLM negatives from the query alone** (the paper's method)",
    "in-batch": "in-batch negatives only",
    "in-batch-unfiltered": "in-batch negatives only, queries before the filter",
    "random": "random passage as negative",
    "llm-query-positive": "LLM negatives from query + positive",
    "ce": "CE negatives (LLM reranker)",
    "bm25-matched": "control: BM25 negatives, same queries as query + positive",
    "title": "free baseline: passage titles as queries, BM25 negatives (no LLM)",
    "llm-near-miss": "LLM near-miss negatives (a different query first, then a passage)",
    "llm-query-verified": "**LLM negatives, verified** (near-miss, judged against the query)",
    "bm25-matched-verified": "control: BM25 negatives, same queries as the verified arm",
}
ORDER = list(NAMES)
PRETTY = {"scifact": "SciFact", "nfcorpus": "NFCorpus", "fiqa": "FiQA", "trec-covid": "TREC-COVID"}
METRIC = "nDCG@10"
BASELINES = {"bm25": "BM25", "zero-shot": "zero-shot"}


def _cell(entry: dict[str, Any]) -> str:
    m = entry[METRIC]
    return f"{m['mean']:.4f}" + (f" ± {m['sd']:.4f}" if entry.get("seeds", 1) > 1 else "")


def _p(p: float) -> str:
    return "<0.001" if p < 0.0005 else f"{p:.3f}"


def _mean(results: dict[str, Any], arm: str, ds: str) -> float:
    return float(results["arms"][arm][ds][METRIC]["mean"])


def ceiling_shares(results: dict[str, Any], ceiling: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Each arm's share of the gain over zero-shot of ``ceiling``'s labeled arm (None where it gains nothing).

    Both runs must hold the same zero-shot score on a dataset, or the shares would mix two baselines."""
    shares: dict[str, dict[str, float | None]] = {}
    for ds in ceiling["arms"].get("labeled", {}):
        if ds not in results["arms"].get("zero-shot", {}):
            continue
        zero, zero_there = _mean(results, "zero-shot", ds), _mean(ceiling, "zero-shot", ds)
        if abs(zero - zero_there) > 1e-9:
            raise ValueError(
                f"{ds}: the ceiling's run has zero-shot {zero_there:.4f}, this run {zero:.4f}; "
                "a share needs the same zero-shot model and evaluation"
            )
        gain = _mean(ceiling, "labeled", ds) - zero
        for arm, by_ds in results["arms"].items():
            if ds in by_ds:
                shares.setdefault(arm, {})[ds] = (by_ds[ds][METRIC]["mean"] - zero) / gain if gain > 0 else None
    return shares


def table(
    results: dict[str, Any],
    arms: list[str] | None = None,
    baseline: str = "bm25",
    ceiling: dict[str, Any] | None = None,
    ceiling_label: str = "labeled ceiling from another run",
) -> str:
    """The markdown table (one row per arm, pending arms included), deltas against ``baseline``.

    With ``ceiling`` (another run's results.json), that run's labeled arm is a row of its own (its
    delta against zero-shot is tested in its run) and the share column is of its gain."""
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, got {baseline!r}")
    if ceiling is not None and baseline != "zero-shot":
        raise ValueError("--ceiling needs --baseline zero-shot (the ceiling's run has no other baseline)")
    arms_done: dict[str, Any] = dict(results["arms"])
    datasets = sorted({ds for a in arms_done.values() for ds in a}, key=lambda d: (d != "scifact", d))
    pending = {p.split(" on ")[0] for p in results.get("pending", [])}  # "ce on scifact: 0/3 seeds"
    wanted = arms or [a for a in ORDER if a in arms_done or a in pending]
    wanted += [a for a in arms_done if a not in wanted]
    share = results.get("share_of_labeled_gain") or {}
    significance = dict(results.get("significance", {}))
    names = dict(NAMES)
    if ceiling is not None:
        if "labeled" not in ceiling["arms"]:
            raise ValueError(f"the ceiling's run {ceiling.get('name', '?')!r} has no labeled arm")
        share = ceiling_shares(results, ceiling)
        arms_done["ceiling"] = ceiling["arms"]["labeled"]
        significance["ceiling"] = ceiling.get("significance", {}).get("labeled", {})
        names["ceiling"] = ceiling_label
        wanted.insert(wanted.index("labeled") + 1 if "labeled" in wanted else 1, "ceiling")
    head = ["arm", "seeds"]
    for ds in datasets:
        head += [f"{PRETTY.get(ds, ds)} {METRIC}", f"vs {BASELINES[baseline]} (Holm p)"] + (
            [f"share of {'ceiling' if ceiling is not None else 'labeled'} gain"] if share else []
        )
    lines = ["| " + " | ".join(head) + " |", "| --- | " + " | ".join(["---:"] * (len(head) - 1)) + " |"]
    for arm in wanted:
        a = arms_done.get(arm, {})
        seeds = "-" if arm == "zero-shot" else str(max((e.get("seeds", 1) for e in a.values()), default=0))
        cells = [names.get(arm, arm), seeds]
        for ds in datasets:
            if ds not in a:
                cells += ["pending", ""] + ([""] if share else [])
                continue
            sig = significance.get(arm, {}).get(ds, {}).get(baseline)
            vs = "-" if arm == baseline or sig is None else f"{sig['diff']:+.4f} ({_p(sig['p_holm'])})"
            cells += [_cell(a[ds]), vs]
            if share:
                s = share.get(arm, {}).get(ds)
                cells.append("-" if s is None or arm in ("zero-shot", "labeled", "ceiling") else f"{s:.0%}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(argv: list[str] | None = None) -> str:
    """The table that the command line ``argv`` asks for (paths relative to the working directory)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="an experiment's results.json")
    parser.add_argument("--arms", nargs="+", help="rows in this order (default: every arm of the run)")
    parser.add_argument("--baseline", choices=sorted(BASELINES), default="bm25", help="the arm the deltas are against")
    parser.add_argument("--ceiling", type=Path, help="another run's results.json whose labeled arm is the ceiling")
    parser.add_argument("--ceiling-label", default="labeled ceiling from another run", help="that row's name")
    args = parser.parse_args(argv)
    ceiling = json.loads(args.ceiling.read_text(encoding="utf-8")) if args.ceiling else None
    results = json.loads(args.results.read_text(encoding="utf-8"))
    try:
        return table(results, args.arms, args.baseline, ceiling, args.ceiling_label)
    except ValueError as e:
        parser.error(str(e))


def main() -> None:
    print(render())


if __name__ == "__main__":
    main()
