"""Print the README's headline table for an experiment from its ``results.json``.

    .venv/bin/python scripts/readme_table.py docs/results/arxiv-500/results.json

Per arm and evaluated dataset: nDCG@10 as mean +- sd over seeds, and the change against the BM25 arm
(or ``--baseline zero-shot``) with the Holm-adjusted p-value of the paired randomization test (as in the
report). When the run has a ``labeled`` arm (in-domain), a column gives each arm's share of the labeled
ceiling's gain over zero-shot. Arms without a trained model yet are listed as pending, so the table never hides them.
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
    "random": "random passage as negative",
    "llm-query-positive": "LLM negatives from query + positive",
    "ce": "CE negatives (LLM reranker)",
    "bm25-matched": "control: BM25 negatives, same queries as query + positive",
}
ORDER = list(NAMES)
PRETTY = {"scifact": "SciFact", "nfcorpus": "NFCorpus", "fiqa": "FiQA", "trec-covid": "TREC-COVID"}
METRIC = "nDCG@10"
BASELINES = {"bm25": "BM25", "zero-shot": "zero-shot"}


def _cell(entry: dict[str, Any]) -> str:
    m = entry[METRIC]
    return f"{m['mean']:.4f}" + (f" ± {m['sd']:.4f}" if entry.get("seeds", 1) > 1 else "")


def table(results: dict[str, Any], arms: list[str] | None = None, baseline: str = "bm25") -> str:
    """The markdown table (one row per arm, pending arms included), deltas against ``baseline``."""
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, got {baseline!r}")
    arms_done: dict[str, Any] = results["arms"]
    datasets = sorted({ds for a in arms_done.values() for ds in a}, key=lambda d: (d != "scifact", d))
    pending = {p.split(" on ")[0] for p in results.get("pending", [])}  # "ce on scifact: 0/3 seeds"
    wanted = arms or [a for a in ORDER if a in arms_done or a in pending]
    wanted += [a for a in arms_done if a not in wanted]
    share = results.get("share_of_labeled_gain") or {}
    head = ["arm", "seeds"]
    for ds in datasets:
        head += [f"{PRETTY.get(ds, ds)} {METRIC}", f"vs {BASELINES[baseline]} (Holm p)"] + (
            ["share of labeled gain"] if share else []
        )
    lines = ["| " + " | ".join(head) + " |", "| --- | " + " | ".join(["---:"] * (len(head) - 1)) + " |"]
    for arm in wanted:
        a = arms_done.get(arm, {})
        seeds = "-" if arm == "zero-shot" else str(max((e.get("seeds", 1) for e in a.values()), default=0))
        cells = [NAMES.get(arm, arm), seeds]
        for ds in datasets:
            if ds not in a:
                cells += ["pending", ""] + ([""] if share else [])
                continue
            sig = results.get("significance", {}).get(arm, {}).get(ds, {}).get(baseline)
            vs = "-" if arm == baseline or sig is None else f"{sig['diff']:+.4f} ({sig['p_holm']:.3f})"
            cells += [_cell(a[ds]), vs]
            if share:
                s = share.get(arm, {}).get(ds)
                cells.append("-" if s is None or arm in ("zero-shot", "labeled") else f"{s:.0%}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="an experiment's results.json")
    parser.add_argument("--arms", nargs="+", help="rows in this order (default: every arm of the run)")
    parser.add_argument("--baseline", choices=sorted(BASELINES), default="bm25", help="the arm the deltas are against")
    args = parser.parse_args()
    print(table(json.loads(args.results.read_text(encoding="utf-8")), args.arms, args.baseline))


if __name__ == "__main__":
    main()
