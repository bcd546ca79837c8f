"""Zero-shot MiniLM and BM25 on SciFact and NFCorpus test, beside the published figures.

    .venv/bin/python benchmarks/evaluate_reference.py [--datasets scifact nfcorpus] [--json out.json]

Published: MTEB (all-MiniLM-L6-v2 nDCG@10), Pyserini BM25 flat; 'plain script' rows are the
DESIGN.md measurements (bm25s + stemmer + stopwords, sentence-transformers exact search, pytrec_eval).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from synthneg.evaluate import evaluate

PUBLISHED = {
    ("scifact", "minilm"): {"nDCG@10": 0.6451, "P@10": 0.0883, "R@100": 0.9250},
    ("nfcorpus", "minilm"): {"nDCG@10": 0.3159, "P@10": 0.2433, "R@100": 0.3115},
    ("scifact", "bm25"): {"nDCG@10": 0.6789},  # Pyserini flat
    ("nfcorpus", "bm25"): {"nDCG@10": 0.3218},
}
PLAIN_SCRIPT = {
    ("scifact", "bm25"): {"nDCG@10": 0.6863, "P@10": 0.0907, "R@100": 0.9127},
    ("nfcorpus", "bm25"): {"nDCG@10": 0.3210, "P@10": 0.2319, "R@100": 0.2482},
}
TOLERANCE = {"minilm": 0.003, "bm25": 0.02}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["scifact", "nfcorpus"])
    ap.add_argument("--models", nargs="+", default=["bm25", "minilm"])
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    rows, ok = [], True
    print(f"{'dataset':<10} {'model':<7} {'metric':<8} {'synthneg':>9} {'published':>9} {'diff':>8}  ref")
    for ds in args.datasets:
        for model in args.models:
            t0 = time.perf_counter()
            res = evaluate(model, ds, show_progress=False)
            wall = time.perf_counter() - t0
            for metric in ("nDCG@10", "P@10", "R@100"):
                ours = res.metrics[metric]
                ref = PUBLISHED.get((ds, model), {}).get(metric)
                label = "MTEB" if model == "minilm" else "Pyserini flat"
                if ref is None:
                    ref, label = PLAIN_SCRIPT.get((ds, model), {}).get(metric), "plain script"
                diff = "" if ref is None else f"{ours - ref:+.4f}"
                print(
                    f"{ds:<10} {model:<7} {metric:<8} {ours:>9.4f} {ref if ref is not None else '':>9} {diff:>8}  {label}"
                )
                if metric == "nDCG@10" and ref is not None and abs(ours - ref) > TOLERANCE[model]:
                    ok = False
                rows.append(
                    {
                        "dataset": ds,
                        "model": model,
                        "metric": metric,
                        "synthneg": ours,
                        "reference": ref,
                        "reference_source": label,
                        "wall_s": wall,
                        "timing": res.timing,
                    }
                )
    print("nDCG@10 within tolerance (MiniLM +-0.003 of MTEB, BM25 +-0.02 of Pyserini):", "yes" if ok else "NO")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
