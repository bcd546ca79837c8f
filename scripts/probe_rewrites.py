"""Probe a near-miss step-1 template on a seeded draw of a run's queries, beside the rewrites that run stored.

Reads ``<run>/generation/queries.jsonl`` and ``negatives-near-miss-rewrite.jsonl``, draws ``--n`` queries with
``random.Random(--seed)``, asks the model once per query (call seeds 0..n-1) with the template, applies the drift
check, and prints one JSON line per query: the query, the new rewrite, its verdict and the stored ones. For reading by
eye before paying for a whole run, e.g. (docs/generation.md, "Any field")::

    python scripts/probe_rewrites.py docs/results/arxiv-500-verified near-miss-query-neutral --n 24 --seed 7

The calls run as one batch of ``--parallel`` sequences, and llama.cpp's batched decode makes a call's text depend on
the batch it ran in: another ``--n`` or ``--parallel`` gives other rewrites for the same queries (``--n 2`` above
rewrites the first query "compact Hermitian manifold" where ``--n 24`` wrote "compact complex manifold").
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from synthneg.generate.near_miss import REWRITE_SAMPLING
from synthneg.generate.near_miss_rewrite import DriftRules, validate_rewrite
from synthneg.llm.llamacpp import LlamaCppGenerator
from synthneg.llm.prompts import load_template
from synthneg.llm.registry import resolve_gguf
from synthneg.llm.types import ChatRequest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a run folder with generation/queries.jsonl")
    ap.add_argument("template", help="a built-in template (near-miss-query, near-miss-query-neutral) or a file")
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--parallel", type=int, default=8)
    args = ap.parse_args()
    gen_dir = args.run / "generation"
    queries = [json.loads(line) for line in (gen_dir / "queries.jsonl").open(encoding="utf-8")]
    stored: dict[str, list[str]] = {}
    rewrites = gen_dir / "negatives-near-miss-rewrite.jsonl"
    if rewrites.is_file():
        for line in rewrites.open(encoding="utf-8"):
            row = json.loads(line)
            stored.setdefault(row["task_id"].split("#")[0], []).append(row["rewrite"])
    random.Random(args.seed).shuffle(queries)
    queries = queries[: args.n]
    tpl = load_template(args.template)
    requests = [
        ChatRequest(tuple(tpl.render(query=q["query"])), REWRITE_SAMPLING.with_seed(i)) for i, q in enumerate(queries)
    ]
    with LlamaCppGenerator(str(resolve_gguf(args.model)), parallel=args.parallel, n_ctx=4096) as gen:
        results = gen.generate(requests)
    for q, res in zip(queries, results, strict=True):
        verdict = validate_rewrite(res.text, q["query"], DriftRules(), truncated=res.finish_reason == "length")
        row = {"query": q["query"], "rewrite": res.text, "ok": verdict.ok, "reason": verdict.reason}
        print(json.dumps({**row, "stored": stored.get(q["query_id"], [])}, ensure_ascii=False))


if __name__ == "__main__":
    main()
