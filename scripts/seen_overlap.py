"""Does a fine-tune help or hurt a test query whose relevant passage it trained on, by how close the synthetic
query for that passage is to the test query?

For one point of a run (a folder with ``eval/<arm>/seed*/<dataset>.json`` and ``eval/zero-shot``) and the query
file it trained on (``generation/queries.jsonl``: query, positive_id per line), each evaluated test query whose
relevant passage (test qrels) has a synthetic query is "seen". For each seen test query the script takes the
per-query nDCG@10 gain of the arm over zero-shot (mean over the seeds) and the closeness of the test query to the
synthetic queries of its relevant passage: the largest word overlap (Jaccard of content words: lower-cased, 3+
letters, a short stopword list removed) or, with ``--encoder MODEL``, the largest cosine under that encoder. It
prints the rank correlation (Spearman) of closeness and gain, the mean gain by closeness tercile with the tercile's
zero-shot score (a high one leaves little to gain), and the mean gain on the unseen test queries. The test queries
and qrels are read for this analysis only; no run reads them for training.

    .venv/bin/python scripts/seen_overlap.py docs/results/scifact-indomain-curve-cpu-sample1/n500 \\
        docs/results/scifact-indomain-curve-cpu-sample1/n500/generation/queries.jsonl

The query files are git-ignored: a run writes them (a replay rebuilds them from the committed stores).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

_WORD = re.compile(r"[a-z][a-z0-9-]{2,}")
_STOP = set(
    [
        "the",
        "and",
        "for",
        "with",
        "that",
        "this",
        "from",
        "are",
        "was",
        "were",
        "has",
        "have",
        "had",
        "not",
        "but",
        "its",
        "their",
        "into",
        "than",
        "then",
        "there",
        "these",
        "those",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "why",
        "how",
        "can",
        "may",
        "might",
        "will",
        "would",
        "should",
        "could",
        "does",
        "did",
        "been",
        "being",
        "also",
        "such",
        "more",
        "most",
        "less",
        "least",
        "other",
        "some",
        "any",
        "all",
        "each",
        "both",
        "between",
        "among",
        "about",
        "after",
        "before",
        "over",
        "under",
        "during",
        "through",
        "via",
        "per",
        "is",
        "in",
        "on",
        "of",
        "to",
        "by",
        "as",
        "at",
        "an",
        "or",
        "be",
        "it",
    ]
)


def content(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def spearman(x: list[float], y: list[float]) -> float:
    def ranks(v: list[float]) -> list[float]:
        order = sorted(range(len(v)), key=v.__getitem__)
        r = [0.0] * len(v)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2
            i = j + 1
        return r

    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx) ** 0.5
    vy = sum((b - my) ** 2 for b in ry) ** 0.5
    return cov / (vx * vy) if vx and vy else float("nan")


def closeness(texts: dict[str, list[str]], queries: dict[str, str], encoder: str | None) -> Callable[[str, str], float]:
    """``close(test_qid, passage_id)``: the largest word overlap (or cosine) of the test query and the passage's
    synthetic queries."""
    if encoder is None:
        words = {d: [content(t) for t in ts] for d, ts in texts.items()}
        return lambda qid, d: max(jaccard(content(queries[qid]), c) for c in words[d])
    from synthneg.console import configure
    from synthneg.search.dense import DenseEncoder

    configure(logging.WARNING, verbose=False)  # no library bars or load reports
    enc = DenseEncoder(encoder, cache=False, show_progress=False)
    qids = list(queries)
    q_emb = dict(zip(qids, enc.encode([queries[q] for q in qids]), strict=True))
    flat = [(d, t) for d, ts in texts.items() for t in ts]
    c_emb: dict[str, list[Any]] = defaultdict(list)
    for (d, _), e in zip(flat, enc.encode([t for _, t in flat]), strict=True):
        c_emb[d].append(e)
    return lambda qid, d: max(float(q_emb[qid] @ e) for e in c_emb[d])


def per_query(folder: Path, dataset: str, metric: str) -> dict[str, float]:
    """Mean per-query metric over the seeds (or the one evaluation) under ``folder``."""
    files = sorted(folder.glob(f"seed*/{dataset}.json")) or [folder / f"{dataset}.json"]
    sums: dict[str, float] = defaultdict(float)
    for f in files:
        for qid, m in json.loads(f.read_text(encoding="utf-8"))["per_query"].items():
            sums[qid] += m[metric] / len(files)
    return dict(sums)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("point", type=Path, help="a run point's folder (with eval/)")
    parser.add_argument("queries", type=Path, help="the query file the arm trained on (query, positive_id)")
    parser.add_argument("--arm", default="in-batch")
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--metric", default="nDCG@10")
    parser.add_argument("--only-suffix", help="keep the synthetic queries whose query_id ends so (e.g. -q0)")
    parser.add_argument("--encoder", help="closeness as the cosine under this encoder (e.g. minilm), not word overlap")
    args = parser.parse_args()

    from synthneg.data import load_beir, resolve_dataset

    test = load_beir(resolve_dataset(args.dataset), split="test")
    texts: dict[str, list[str]] = defaultdict(list)
    for line in args.queries.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if args.only_suffix is None or row["query_id"].endswith(args.only_suffix):
                texts[row["positive_id"]].append(row["query"])
    close = closeness(texts, test.queries, args.encoder)
    claims = texts
    arm = per_query(args.point / "eval" / args.arm, args.dataset, args.metric)
    zero = per_query(args.point / "eval" / "zero-shot", args.dataset, args.metric)
    seen: list[tuple[float, float, float]] = []
    unseen: list[float] = []
    for qid, rel in test.qrels.items():
        if qid not in arm or qid not in zero:
            continue
        gain = arm[qid] - zero[qid]
        docs = [d for d, grade in rel.items() if grade > 0 and d in claims]
        if not docs:
            unseen.append(gain)
            continue
        seen.append((max(close(qid, d) for d in docs), gain, zero[qid]))
    print(f"{args.point} {args.arm}: {len(claims)} passages with a synthetic query; test queries seen {len(seen)}, "
          f"unseen {len(unseen)}")  # fmt: skip
    if unseen:
        print(f"  unseen: mean gain {sum(unseen) / len(unseen):+.4f}")
    if len(seen) < 3:
        return
    overlaps, gains = [o for o, _, _ in seen], [g for _, g, _ in seen]
    print(
        f"  seen: mean gain {sum(gains) / len(gains):+.4f}; Spearman(closeness, gain) {spearman(overlaps, gains):+.3f}"
    )
    ordered = sorted(seen)
    cut = [0, len(ordered) // 3, 2 * len(ordered) // 3, len(ordered)]
    for name, lo, hi in zip(("low", "mid", "high"), cut, cut[1:], strict=False):
        part = ordered[lo:hi]
        if part:
            gain = sum(g for _, g, _ in part) / len(part)
            base = sum(z for _, _, z in part) / len(part)
            print(f"  closeness {name:4s} ({part[0][0]:.2f}-{part[-1][0]:.2f}, n={len(part)}): mean gain {gain:+.4f} "
                  f"(zero-shot {args.metric} {base:.4f})")  # fmt: skip


if __name__ == "__main__":
    main()
