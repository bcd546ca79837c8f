"""How hard a set of synthetic (query, passage) rows is for the base encoder before any training.

For each query file (a run's ``generation/queries.jsonl``), the rows' queries are encoded with the base model and
their passages looked up in the zero-shot corpus embeddings of a BEIR corpus; the script prints the mean in-batch
loss of random batches (MultipleNegativesRankingLoss: cosine x 20, cross-entropy over the batch), the share of rows
whose passage wins its batch, and the share whose passage is the top hit among the whole corpus. Two sets of rows
that score alike here are equally easy for in-batch training at its first step.

    .venv/bin/python scripts/inbatch_difficulty.py --dataset scifact \\
        docs/results/scifact-indomain-curve-cpu-sample1/n500/generation/queries.jsonl \\
        docs/results/scifact-indomain-curve-cpu/n5183/generation/queries.jsonl

The query files are git-ignored: a run writes them (a replay rebuilds them from the committed stores).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np


def _rows(path: Path, suffix: str | None) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if suffix is None or r["query_id"].endswith(suffix)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queries", nargs="+", type=Path, help="query files (query, positive_id per line)")
    parser.add_argument("--dataset", default="scifact", help="the BEIR corpus the positives come from")
    parser.add_argument("--model", default="minilm", help="the base encoder")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--draws", type=int, default=300, help="random batches per file")
    parser.add_argument("--only-suffix", help="keep the rows whose query_id ends so (e.g. -q0: each passage's first)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    from synthneg.data import load_beir, resolve_dataset
    from synthneg.search.dense import DenseEncoder

    corpus = load_beir(resolve_dataset(args.dataset), split="test").corpus
    encoder = DenseEncoder(args.model, show_progress=False)
    docs, _ = encoder.encode_corpus(corpus)  # cached zero-shot embeddings after the first call
    docs = docs / np.linalg.norm(docs, axis=1, keepdims=True)
    position = {d: i for i, d in enumerate(corpus.ids)}
    for path in args.queries:
        rng = random.Random(args.seed)  # each file's batches drawn alike, whatever the files before it
        rows = _rows(path, args.only_suffix)
        q = encoder.encode_queries([r["query"] for r in rows])
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        own = np.array([position[r["positive_id"]] for r in rows])
        p = docs[own]
        losses, wins = [], []
        for _ in range(args.draws):
            b = rng.sample(range(len(rows)), min(args.batch, len(rows)))
            scores = 20.0 * q[b] @ p[b].T
            target = torch.arange(len(b))
            losses.append(float(torch.nn.functional.cross_entropy(torch.tensor(scores), target)))
            wins.append(float((scores.argmax(1) == np.arange(len(b))).mean()))
        full = q @ docs.T
        top1 = float((full.argmax(1) == own).mean())
        print(
            f"{path}: {len(rows)} rows; in-batch loss {np.mean(losses):.4f} (batches of {args.batch}, "
            f"{args.draws} draws), passage wins its batch {np.mean(wins):.3f}, top hit among all "
            f"{len(corpus.ids):,} {top1:.3f}, mean query-passage cosine {full[np.arange(len(rows)), own].mean():.3f}"
        )


if __name__ == "__main__":
    main()
