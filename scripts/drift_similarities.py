"""The drift of near-miss rewrites under an encoder: how far each rewrite that passed the drift check moved from
its query (cosine under MiniLM by default), per run, with the lowest ones to read by eye.

Reads the committed call stores only (``generation/queries.calls.jsonl`` and
``generation/negatives-near-miss-rewrite.calls.jsonl``), so it needs no LLM; it is how the default-off drift
floor and ceiling (``DriftRules.min_similarity``, ``max_similarity``; docs/generation.md) were measured:

    python scripts/drift_similarities.py docs/results/scifact-indomain-500-verified-relative \
        docs/results/nfcorpus-indomain-500-verified --floor 0.35 --show 20
    python scripts/drift_similarities.py docs/results/scifact-indomain-500-verified-k4-relative --ceiling 0.90 --show 0
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from synthneg.generate.engine import CANDIDATE_SEP
from synthneg.generate.near_miss import REWRITE_STEM
from synthneg.generate.near_miss_rewrite import DriftRules, validate_rewrite
from synthneg.search.dense import DenseEncoder


def _texts(path: Path) -> dict[str, str]:
    out = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["result"].get("text"):
                out[row["task_id"]] = row["result"]["text"].strip()
    return out


def rewrites(run: Path) -> list[tuple[str, str, str]]:
    """(task id, query, rewrite) for every stored rewrite call of ``run`` that passes the drift check."""
    gen = run / "generation"
    queries = _texts(gen / "queries.calls.jsonl")
    rows = []
    for task_id, text in _texts(gen / f"{REWRITE_STEM}.calls.jsonl").items():
        query = queries.get(task_id.split(CANDIDATE_SEP, maxsplit=1)[0])
        verdict = validate_rewrite(text, query, DriftRules()) if query else None
        if verdict is not None and verdict.ok:
            rows.append((task_id, query, verdict.text))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="experiment run folders (with generation/)")
    ap.add_argument("--model", default="minilm", help="bi-encoder (default: the embedded MiniLM)")
    ap.add_argument("--floor", type=float, default=0.35, help="count and show the rewrites below this cosine")
    ap.add_argument("--ceiling", type=float, default=0.90, help="count the rewrites above this cosine")
    ap.add_argument("--show", type=int, default=20, help="print this many of the lowest rewrites")
    args = ap.parse_args()
    encoder = DenseEncoder(args.model, show_progress=False)
    low = []
    for run in args.runs:
        rows = rewrites(run)
        if not rows:
            print(f"{run}: no rewrite calls")
            continue
        sims = np.sum(encoder.encode([q for _, q, _ in rows]) * encoder.encode([r for _, _, r in rows]), axis=1)
        pct = np.percentile(sims, [1, 5, 10, 50, 90]).round(3).tolist()
        below, above = int((sims < args.floor).sum()), int((sims > args.ceiling).sum())
        print(
            f"{run.name}: {len(rows)} rewrites; percentiles 1/5/10/50/90 {pct}; below {args.floor}: {below}; "
            f"above {args.ceiling}: {above}"
        )
        low += [(float(s), run.name, *row) for s, row in zip(sims, rows, strict=True)]
    for sim, name, task_id, query, rewrite in sorted(low)[: args.show]:
        print(f"\n{sim:.3f}  {name}  {task_id}\n  query:   {query}\n  rewrite: {rewrite}")


if __name__ == "__main__":
    main()
