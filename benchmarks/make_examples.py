"""Generate the example rows of docs/examples.md: passage, query, negative (query only), negative (query + positive).

    .venv/bin/python benchmarks/make_examples.py --n 20 --model qwen2.5-coder-0.5b --out /tmp/ex05 > ex05.md
    .venv/bin/python benchmarks/make_examples.py --n 5 --model qwen2.5-coder-1.5b --out /tmp/ex15 > ex15.md

Runs the real pipeline (same API as the CLI, default prompts and sampling, seed 0) on the first N
arXiv records of ../shared/data and prints a markdown section with the outputs unedited.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

from synthneg.data.beir import Document
from synthneg.data.triples import read_query_records, read_triples
from synthneg.generate import generate_negatives, generate_queries
from synthneg.llm import make_generator

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "arxiv" / "arxiv_kaggle_first2000.jsonl.gz"


def docs(path: Path, n: int) -> list[Document]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            out.append(Document(r["id"], " ".join(r["title"].split()), " ".join(r["abstract"].split())))
            if len(out) == n:
                break
    return out


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    passages = docs(args.data, args.n)
    with make_generator("llamacpp", args.model, parallel=args.parallel) as gen:
        q = generate_queries(passages, gen, args.out, show_progress=False)
        records = read_query_records(q.output)
        neg = {
            mode: {
                t.query_id: t.negative
                for t in read_triples(generate_negatives(records, gen, args.out, mode=mode, show_progress=False).output)
            }
            for mode in ("query", "query+positive")
        }
    print(f"### {args.model} ({len(records)} of {len(passages)} passages got a query)\n")
    for i, rec in enumerate(records, 1):
        print(f"**{i}. arXiv {rec.positive_id}**\n")
        print(f"- passage: {cell(rec.positive)}")
        print(f"- query: {cell(rec.query)}")
        for mode in ("query", "query+positive"):
            print(
                f"- negative ({mode}): {cell(neg[mode].get(rec.query_id, '(none: every attempt rejected, see rejects)'))}"
            )
        print()
    for stage in ("queries", "negatives-llm-query", "negatives-llm-query-positive"):
        cost = json.loads((args.out / f"{stage}.cost.json").read_text())
        print(
            f"- `{stage}` cost: {json.dumps({k: cost[k] for k in ('calls', 'accepted', 'gave_up', 'completion_tokens', 'wall_seconds', 'failures')})}"
        )
    print()


if __name__ == "__main__":
    main()
