"""Corpus-encoding throughput of synthneg's evaluator vs a bare ``SentenceTransformer.encode`` of the
same texts, in the same process, interleaved; and BM25 search queries/s on SciFact.

    .venv/bin/python benchmarks/evaluate_speed.py [--docs 1500] [--repeats 2]

Prints passages/s for both and the ratio (target >= 0.95), then BM25 q/s (target >= 1,000).
"""

from __future__ import annotations

import argparse
import time

from synthneg.data import load_beir, resolve_dataset
from synthneg.data.beir import Corpus
from synthneg.models import load_bi_encoder
from synthneg.search import BM25Index, DenseEncoder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="scifact")
    ap.add_argument("--docs", type=int, default=1500, help="passages to encode (0 = the whole corpus)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()

    ds = load_beir(resolve_dataset(args.dataset), "test")
    docs = ds.corpus.documents[: args.docs or None]
    corpus = Corpus.from_documents(docs)
    texts = corpus.texts()
    model = load_bi_encoder("minilm")
    encoder = DenseEncoder("minilm", batch_size=args.batch_size, cache=False, show_progress=False)
    model.encode(texts[:64], batch_size=args.batch_size)  # warm-up

    bare, ours = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True)
        bare.append(len(texts) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        encoder.encode_corpus(corpus)
        ours.append(len(texts) / (time.perf_counter() - t0))
    b, o = max(bare), max(ours)
    print(f"encoding {len(texts)} {args.dataset} passages, batch {args.batch_size}, best of {args.repeats}:")
    print(f"  bare SentenceTransformer.encode : {b:8.1f} passages/s")
    print(f"  synthneg DenseEncoder           : {o:8.1f} passages/s")
    print(f"  ratio synthneg / bare           : {o / b:8.3f}  (target >= 0.95)")

    index = BM25Index(ds.corpus)
    queries = list(ds.queries.values())
    train = load_beir(resolve_dataset(args.dataset), "train") if args.dataset == "scifact" else None
    if train is not None:
        queries += list(train.queries.values())
    index.search_arrays(queries[:10], k=100)
    t0 = time.perf_counter()
    index.search_arrays(queries, k=100)
    dt = time.perf_counter() - t0
    print(
        f"BM25 (bm25s) top-100 over {len(ds.corpus)} docs: {len(queries)} queries in {dt:.3f}s = "
        f"{len(queries) / dt:,.0f} queries/s (target >= 1,000)"
    )


if __name__ == "__main__":
    main()
