"""Mining speed on SciFact: BM25 q/s, dense mining vs sentence-transformers' mine_hard_negatives
(wall time and peak RSS, each in a fresh subprocess), LLM reranker pairs/s.

    python benchmarks/mining_speed.py                      # everything, full SciFact corpus
    python benchmarks/mining_speed.py --only bm25
    python benchmarks/mining_speed.py --only dense --corpus-limit 1000   # quicker: first 1,000 docs + positives
    python benchmarks/mining_speed.py --only dense --dense-runs openvino-bf16   # the peer and one synthneg run
    python benchmarks/mining_speed.py --only llm --llm-pairs 40 --llm-models qwen2.5-coder-0.5b qwen2.5-coder-1.5b

Dense: "cold" runs start with an empty synthneg cache (the corpus is encoded, like mine_hard_negatives does);
"warm" runs reuse the corpus and query embeddings cached by the cold run (stated as such in the output).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace

CHILD = r"""
import json, os, resource, sys, time
t0 = time.perf_counter()
args = json.loads(sys.argv[1])
if args["impl"] == "convert":  # the one-time OpenVINO conversion alone (it runs in its own child process)
    from synthneg.models import model_identity, resolve_bi_encoder
    from synthneg.search.openvino_backend import openvino_model_dir
    openvino_model_dir("minilm", model_identity(resolve_bi_encoder("minilm")))
    print(json.dumps({"triples": 0, "wall_s": time.perf_counter() - t0, "docs": 0, "torch_imported": "torch" in sys.modules,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "child_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
    sys.exit(0)
from synthneg.data import load_beir, resolve_dataset
from synthneg.data.beir import Corpus
from synthneg.mine.common import records_from_beir
ds = load_beir(resolve_dataset("scifact"), "train")
records = records_from_beir(ds.corpus, ds.queries, ds.qrels)
corpus = ds.corpus
if args["limit"]:
    keep = set(corpus.ids[: args["limit"]]) | {r.positive_id for r in records}
    corpus = Corpus.from_documents([d for d in corpus.documents if d.id in keep])
if args["impl"].startswith("synthneg"):
    from synthneg.mine import SelectionConfig, mine_dense
    from synthneg.search.dense import DenseEncoder
    enc = DenseEncoder(show_progress=False, batch_size=args["batch_size"],
                       precision="bf16" if args["impl"].endswith("bf16") else "fp32",
                       backend="openvino" if "openvino" in args["impl"] else "torch")
    n = len(mine_dense(records, corpus, SelectionConfig(num_negatives=1, range_max=30), encoder=enc))
else:
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives
    from synthneg.models import load_bi_encoder
    pairs = Dataset.from_dict({"query": [r.query for r in records], "positive": [r.positive for r in records]})
    out = mine_hard_negatives(pairs, load_bi_encoder("minilm"), corpus=corpus.texts(), num_negatives=1,
                              range_max=30, batch_size=args["batch_size"], verbose=False)
    n = len(out)
rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the OpenVINO conversion, when it ran
print(json.dumps({"triples": n, "wall_s": time.perf_counter() - t0, "peak_rss_mb": rss_kb / 1024, "docs": len(corpus),
                  "child_rss_mb": child_kb / 1024, "torch_imported": "torch" in sys.modules}))
"""


def _child(impl: str, limit: int | None, cache: str, batch_size: int) -> dict:
    env = dict(os.environ, SYNTHNEG_CACHE=cache, HF_HUB_OFFLINE="1")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps({"impl": impl, "limit": limit, "batch_size": batch_size})],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{impl} child failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - t0
    return result


def bench_bm25() -> None:
    from synthneg.data import load_beir, resolve_dataset
    from synthneg.mine import mine_bm25
    from synthneg.mine.common import records_from_beir
    from synthneg.search.bm25 import BM25Index

    folder = resolve_dataset("scifact")
    records = []
    for split in ("train", "test"):
        ds = load_beir(folder, split)
        records += [
            replace(r, query_id=f"{split}-{r.query_id}") for r in records_from_beir(ds.corpus, ds.queries, ds.qrels)
        ]
    t0 = time.perf_counter()
    index = BM25Index(ds.corpus)
    t1 = time.perf_counter()
    triples = mine_bm25(records, ds.corpus, index=index)
    t2 = time.perf_counter()
    n_q = len({r.query_id for r in records})
    print(
        f"BM25: {n_q} queries ({len(records)} pairs) vs {len(ds.corpus)} docs: index {t1 - t0:.2f}s, "
        f"mining {t2 - t1:.2f}s = {n_q / (t2 - t1):,.0f} queries/s (retrieval + selection, {len(triples)} triples)"
    )


DENSE_RUNS = ("torch", "warm", "torch-bf16", "openvino-first", "openvino", "openvino-bf16")


def bench_dense(limit: int | None, batch_size: int, runs: list[str]) -> None:
    import shutil
    from pathlib import Path

    def fresh(cache: str) -> None:  # no embedding cached (the OpenVINO conversion stays)
        shutil.rmtree(Path(cache) / "embeddings", ignore_errors=True)

    rows: list[tuple[str, dict]] = []
    with tempfile.TemporaryDirectory() as cache:
        st = _child("sentence-transformers", limit, cache, batch_size)
        if "torch" in runs or "warm" in runs:
            rows.append(("synthneg cold (no cache)", _child("synthneg", limit, cache, batch_size)))
        if "warm" in runs:
            rows.append(
                ("synthneg warm (cached corpus+query embeddings)", _child("synthneg", limit, cache, batch_size))
            )
        if "torch-bf16" in runs:  # its own cache key: a cold run too
            rows.append(
                ("synthneg cold, --precision bf16 (no cache)", _child("synthneg-bf16", limit, cache, batch_size))
            )
        if "openvino-first" in runs:
            # the first use converts the model in a child process (inside this row's wall time)
            fresh(cache)
            first = _child("synthneg-openvino", limit, cache, batch_size)
            first["conversion"] = True
            rows.append(("synthneg first use, --encoder openvino (includes the one-time conversion)", first))
        if {"openvino", "openvino-bf16"} & set(runs) and "openvino-first" not in runs:
            conv = _child("convert", None, cache, batch_size)
            print(
                f"  (one-time OpenVINO conversion before the cold rows: {conv['process_s']:.1f}s, "
                f"converting process {conv['child_rss_mb']:.0f} MB)"
            )
        if "openvino" in runs:
            fresh(cache)
            name = "synthneg cold, --encoder openvino (model IR cached, no embedding cached)"
            rows.append((name, _child("synthneg-openvino", limit, cache, batch_size)))
        if "openvino-bf16" in runs:
            fresh(cache)
            name = "synthneg cold, --encoder openvino --precision bf16 (model IR cached, no embedding cached)"
            rows.append((name, _child("synthneg-openvino-bf16", limit, cache, batch_size)))
    print(
        f"Dense (MiniLM, SciFact train pairs, {st['docs']} docs, num_negatives=1, range_max=30, "
        f"batch size {batch_size} for both):"
    )
    print(f"  mine_hard_negatives : {st['process_s']:.1f}s wall, {st['peak_rss_mb']:.0f} MB peak RSS")
    for name, r in rows:
        extra = ""
        if r.get("conversion"):
            extra = f"; the conversion process peaked at {r['child_rss_mb']:.0f} MB"
        if "openvino" in name:
            extra += f"; torch imported: {r['torch_imported']}"
        print(
            f"  {name}: {r['process_s']:.1f}s wall ({r['process_s'] / st['process_s']:.2f}x), "
            f"{r['peak_rss_mb']:.0f} MB peak RSS ({r['peak_rss_mb'] / st['peak_rss_mb']:.2f}x){extra}"
        )
        if r["triples"] != st["triples"]:
            print(f"    note: {r['triples']} triples against mine_hard_negatives' {st['triples']}")


def bench_llm(n_pairs: int, models: list[str]) -> None:
    from synthneg.data import load_beir, resolve_dataset
    from synthneg.errors import ModelError
    from synthneg.mine.llm_reranker import LLMReranker
    from synthneg.search.bm25 import BM25Index

    ds = load_beir(resolve_dataset("scifact"), "test")
    index = BM25Index(ds.corpus)
    qids = list(ds.queries)[: max(1, n_pairs // 5)]
    pos, _ = index.search_arrays([ds.queries[q] for q in qids], 5)
    texts = ds.corpus.texts()
    pairs = [(ds.queries[q], texts[int(p)]) for q, row in zip(qids, pos, strict=True) for p in row][:n_pairs]
    for model in models:
        try:
            reranker = LLMReranker(model=model, cache=False)
            reranker._load()
        except ModelError as exc:
            print(f"LLM reranker {model}: unavailable ({str(exc).splitlines()[0]})")
            continue
        t0 = time.perf_counter()
        reranker.score(pairs)
        dt = time.perf_counter() - t0
        print(
            f"LLM reranker {model}: {len(pairs)} pairs ({len(qids)} queries x 5 BM25 candidates, passages "
            f"<= {reranker.max_passage_tokens} tokens) in {dt:.1f}s = {len(pairs) / dt:.2f} pairs/s"
        )
        reranker.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["bm25", "dense", "llm"], action="append")
    parser.add_argument("--corpus-limit", type=int, default=None, help="dense: first N docs (+ all positives)")
    parser.add_argument("--batch-size", type=int, default=32, help="dense: encoding batch size of both tools")
    parser.add_argument(
        "--dense-runs",
        nargs="+",
        choices=DENSE_RUNS,
        default=list(DENSE_RUNS),
        help="dense: which synthneg runs beside mine_hard_negatives (default: all)",
    )
    parser.add_argument("--llm-pairs", type=int, default=40)
    parser.add_argument("--llm-models", nargs="+", default=["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"])
    args = parser.parse_args()
    which = args.only or ["bm25", "dense", "llm"]
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f} (other work on the machine skews timings)")
    if "bm25" in which:
        bench_bm25()
    if "dense" in which:
        bench_dense(args.corpus_limit, args.batch_size, args.dense_runs)
    if "llm" in which:
        bench_llm(args.llm_pairs, args.llm_models)


if __name__ == "__main__":
    main()
