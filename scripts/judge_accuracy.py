"""How well a judge (the query filter's ``judge_model``) tells a query's own passage from a hard wrong one.

Labels are read here for the diagnosis only, never to make training data: for a seeded sample of a BEIR split's
judged (query, relevant document) pairs, the top BM25 hit that is not judged relevant is the hard wrong passage. The
judge scores both; the script prints its pairwise accuracy (the relevant passage scores higher), the share of each
kind it keeps at a threshold (``judge_min_score``), the score quartiles and the seconds per scored pair, and, as the
reference to beat, the pairwise accuracy of the zero-shot bi-encoder's cosine on the same pairs (``--reference``). A
judge that keeps the relevant passages and refuses the wrong ones is worth running as a query filter; one near 50%
pairwise accuracy only thins the data at random, and one below the reference knows less than the model it filters for.

    .venv/bin/python scripts/judge_accuracy.py --dataset scifact --split train --n 40 --judge llm
    .venv/bin/python scripts/judge_accuracy.py --dataset scifact --split train --n 40 --judge llm:qwen2.5-coder-1.5b

Scores are cached in the user cache (the LLM reranker's store): a rerun scores nothing.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="scifact", help="a BEIR name or folder")
    parser.add_argument("--split", default="train", help="the split whose judged pairs are sampled")
    parser.add_argument("--n", type=int, default=40, help="queries sampled (two scored pairs each)")
    parser.add_argument("--judge", default="llm", help="llm, llm:<embedded name or .gguf>, or a CrossEncoder")
    parser.add_argument("--threshold", type=float, default=0.0, help="the judge_min_score to report shares at")
    parser.add_argument("--reference", default="minilm", help="the bi-encoder to compare with ('' for none)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from synthneg.data import load_beir, resolve_dataset
    from synthneg.mine.cross_encoder import load_scorer
    from synthneg.search.bm25 import BM25Index

    data = load_beir(resolve_dataset(args.dataset), split=args.split)
    corpus = data.corpus
    qids = sorted(q for q in data.qrels if q in data.queries and any(v > 0 for v in data.qrels[q].values()))
    qids = random.Random(args.seed).sample(qids, min(args.n, len(qids)))
    index = BM25Index.shared(corpus)
    hits, _ = index.search_arrays([data.queries[q] for q in qids], k=20)
    pairs: list[tuple[str, str]] = []
    for qid, row in zip(qids, hits, strict=True):
        relevant = {d for d, v in data.qrels[qid].items() if v > 0}
        own = corpus[sorted(relevant)[0]].full_text()
        wrong = next(corpus.ids[i] for i in row if corpus.ids[i] not in relevant)
        pairs += [(data.queries[qid], own), (data.queries[qid], corpus[wrong].full_text())]
    judge = load_scorer(args.judge, show_progress=True)
    t0 = time.perf_counter()
    scores = np.asarray(judge.score(pairs), dtype=np.float64)
    seconds = time.perf_counter() - t0
    scored = getattr(judge, "pairs_scored", len(pairs))
    if hasattr(judge, "close"):
        judge.close()
    own_s, wrong_s = scores[0::2], scores[1::2]
    print(f"judge {args.judge} on {args.dataset} {args.split}: {len(qids)} queries, {len(pairs)} pairs")
    print(f"pairwise accuracy (relevant > hard wrong): {np.mean(own_s > wrong_s):.1%}")
    for name, s in (("relevant", own_s), ("hard wrong (BM25 top, not judged)", wrong_s)):
        q = np.percentile(s, [25, 50, 75])
        kept = np.mean(s >= args.threshold)
        print(f"{name}: kept at >= {args.threshold:+g}: {kept:.1%}; quartiles {q[0]:+.2f} {q[1]:+.2f} {q[2]:+.2f}")
    if scored:
        print(f"{scored} pairs scored in {seconds:.0f} s ({seconds / scored:.2f} s a pair; the rest from the cache)")
    if args.reference:
        print(
            f"reference, zero-shot {args.reference} cosine: pairwise accuracy {_reference(pairs, args.reference):.1%}"
        )


def _reference(pairs: list[tuple[str, str]], model: str) -> float:
    """The share of (relevant, wrong) pair couples that the bi-encoder's cosine orders as the labels do."""
    from synthneg.search.dense import DenseEncoder

    encoder = DenseEncoder(model, show_progress=False)
    queries = np.asarray(encoder.encode_queries([q for q, _ in pairs[0::2]]))
    own, wrong = (np.asarray(encoder.encode([p for _, p in pairs[k::2]])) for k in (0, 1))
    unit = [m / np.linalg.norm(m, axis=1, keepdims=True) for m in (queries, own, wrong)]
    return float(np.mean((unit[0] * unit[1]).sum(1) > (unit[0] * unit[2]).sum(1)))


if __name__ == "__main__":
    main()
