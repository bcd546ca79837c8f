"""How often a near-miss run's rewrites bring a biomedical term into a query that had none.

For collections outside biomedicine (docs/generation.md, "Any field"): reads each run's
``generation/negatives-near-miss-rewrite.jsonl`` (rebuilt from the committed call stores by a replay or a rerun) and
counts the rewrites that add a word of a fixed biomedical list (gene, protein, cell, disease, drug, patient, ...) to
a query without one::

    python scripts/field_swaps.py docs/results/arxiv-500-verified docs/results/arxiv-500-verified-neutral
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

BIOMEDICAL = re.compile(
    r"\b(genes?|genetic\w*|genom\w*|proteins?|DNA|RNA|cells?|cellular|enzym\w*|mutations?|diseases?|cancers?|"
    r"tumou?rs?|bacteri\w*|virus\w*|viral|organisms?|biolog\w*|bio\w+|drugs?|immun\w*|metabol\w*|tissues?|blood|"
    r"patients?|clinical|neurons?|brain|plants?|animals?|insulin|diabet\w*|obesity)\b",
    re.IGNORECASE,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+", help="run folders with generation/negatives-near-miss-rewrite.jsonl")
    ap.add_argument("--show", type=int, default=0, help="print this many of each run's biomedical rewrites")
    args = ap.parse_args()
    for run in args.runs:
        path = run / "generation" / "negatives-near-miss-rewrite.jsonl"
        rows = [json.loads(line) for line in path.open(encoding="utf-8")]
        eligible = [r for r in rows if not BIOMEDICAL.search(r["query"])]
        added = [r for r in eligible if BIOMEDICAL.search(r["rewrite"])]
        share = len(added) / len(eligible) if eligible else 0.0
        print(f"{run}: {len(rows)} rewrites; a biomedical term added in {len(added)} of {len(eligible)} ({share:.1%})")
        for r in added[: args.show]:
            print(f"  {r['query']}\n    -> {r['rewrite']}")


if __name__ == "__main__":
    main()
