"""Generation throughput: bare llama-cpp-python vs synthneg single stream vs synthneg batched.

Four workloads, each over the first N arXiv records of ../shared/data (read in place, never copied),
each with the built-in prompts and sampling (temperature 0.6, top-p 0.95, top-k 20, min-p 0, one seed
per request) and the same thread count:

- ``negatives``: a negative from the query alone (the title used as the query): short prompt, long output;
- ``queries``: a query from the passage (title + abstract): long prompt, short output (max 64 tokens);
- ``k4``: K candidates (default 4) of the negative prompt for N/K queries, seeds derived per candidate,
  the K requests of a query side by side (what ``candidate_tasks`` sends): the batched decoder
  prefills each prompt once and decodes its K sequences from it.
- ``fewshot``: a SciFact-claim query from a SciFact corpus passage (the first N by id), with 8 SciFact
  *train* claims and their abstracts (seed 0) as chat-turn demonstrations: the prompt of the learning
  curve's config (about 2,000 tokens, of which the demonstrations are the same for every request).
  Needs ``--n-ctx 4096`` (set automatically).

Tokens/s = completion tokens / wall seconds of the whole workload (prompt processing included), so
the figures are end to end. Bare llama-cpp-python (``Llama.create_chat_completion``, one request at a
time) is the baseline of every workload; synthneg single stream is interleaved with it prompt by prompt
so that a load change on a shared machine hits both alike; each batched run then takes the N requests
as one batch, with and without shared-prefix prefill.

    .venv/bin/python benchmarks/generation_speed.py                          # all three, parallel 8 and 16
    .venv/bin/python benchmarks/generation_speed.py --workload k4 --parallel 16
    .venv/bin/python benchmarks/generation_speed.py --model qwen2.5-coder-1.5b --n 16
    .venv/bin/python benchmarks/generation_speed.py --workload fewshot --n 16 --parallel 8 --compare-share
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from synthneg.generate.engine import derive_seed
from synthneg.llm import ChatRequest, SamplingParams, load_template
from synthneg.llm.llamacpp import LlamaCppGenerator
from synthneg.llm.llamacpp_load import available_cpus, load_llama
from synthneg.llm.prompts import QUERY_STYLES
from synthneg.llm.registry import resolve_gguf

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_DATA = SHARED / "arxiv" / "arxiv_kaggle_first2000.jsonl.gz"
WORKLOADS = ("negatives", "queries", "k4", "fewshot")
FEWSHOT_CTX = 4096  # the curve config's prompts: 8 demonstrations with their abstracts and the passage


def records(path: Path, n: int) -> list[dict[str, str]]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i == n:
                break
            rec = json.loads(line)
            out.append({"title": " ".join(rec["title"].split()), "abstract": " ".join(rec["abstract"].split())})
    return out


def workload_requests(name: str, recs: list[dict[str, str]], max_tokens: int, k: int) -> list[ChatRequest]:
    if name == "negatives":
        tpl = load_template("negative-query")
        return [
            ChatRequest(tpl.render(query=r["title"]), SamplingParams(max_tokens=max_tokens, seed=1000 + i))
            for i, r in enumerate(recs)
        ]
    if name == "queries":
        tpl = load_template("query")
        style = QUERY_STYLES["question"]
        return [
            ChatRequest(
                tpl.render(
                    passage=f"{r['title']}. {r['abstract']}",
                    title=r["title"],
                    style="question",
                    style_instruction=style,
                ),
                SamplingParams(max_tokens=64, seed=1000 + i),
            )
            for i, r in enumerate(recs)
        ]
    if name == "k4":
        tpl = load_template("negative-query")
        out = []
        for i, r in enumerate(recs[: max(1, len(recs) // k)]):
            for c in range(k):
                task = f"q{i}" if c == 0 else f"q{i}#c{c}"
                seed = derive_seed(0, task, 0)
                out.append(ChatRequest(tpl.render(query=r["title"]), SamplingParams(max_tokens=max_tokens, seed=seed)))
        return out
    if name == "fewshot":
        return fewshot_requests(len(recs))
    raise SystemExit(f"unknown workload {name!r}: choose from {', '.join(WORKLOADS)}")


def fewshot_requests(n: int) -> list[ChatRequest]:
    """The learning curve's query prompts, built by synthneg's own query stage (same template, turns and sampling)."""
    from synthneg.data.beir import load_beir
    from synthneg.generate.examples import infer_style, sample_beir_examples
    from synthneg.generate.queries import QUERY_SAMPLING, _query_tasks
    from synthneg.llm.parse import QueryRules

    folder = SHARED / "beir" / "scifact"
    examples = sample_beir_examples(folder, split="train", n=8, seed=0, with_passages=True)
    corpus = load_beir(folder, "test").corpus
    docs = [corpus[d] for d in sorted(corpus)[:n]]
    style = infer_style([e.query for e in examples])
    tasks, _ = _query_tasks(docs, 1, [style], load_template("query"), examples, QueryRules())
    return [ChatRequest(t.messages, QUERY_SAMPLING.with_seed(1000 + i)) for i, t in enumerate(tasks)]


def bare_and_single(
    model: Path, reqs: list[ChatRequest], threads: int, n_ctx: int, single: bool
) -> tuple[tuple[int, float], tuple[int, float]]:
    """Bare llama-cpp-python and synthneg single stream, interleaved prompt by prompt (alternating which
    goes first) so that a load change on a shared machine hits both alike."""
    llm = load_llama(model, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False)
    gen = LlamaCppGenerator(str(model), parallel=1, n_ctx=n_ctx, n_threads=threads) if single else None
    tok_b = tok_s = 0
    wall_b = wall_s = 0.0

    def run_bare(r: ChatRequest) -> None:
        nonlocal tok_b, wall_b
        s = r.sampling
        t0 = time.perf_counter()
        resp = llm.create_chat_completion(
            messages=r.messages_as_dicts(),
            temperature=s.temperature,
            top_p=s.top_p,
            top_k=s.top_k,
            min_p=s.min_p,
            max_tokens=s.max_tokens,
            seed=s.seed,
        )
        wall_b += time.perf_counter() - t0
        tok_b += resp["usage"]["completion_tokens"]

    def run_ours(r: ChatRequest) -> None:
        nonlocal tok_s, wall_s
        assert gen is not None
        t0 = time.perf_counter()
        res = gen.generate([r])[0]
        wall_s += time.perf_counter() - t0
        assert res.ok, res.error
        tok_s += res.completion_tokens

    for i, r in enumerate(reqs):
        steps: list[Callable[[ChatRequest], None]] = [run_bare, run_ours] if gen else [run_bare]
        for step in steps if i % 2 == 0 else steps[::-1]:
            step(r)
    if gen is not None:
        gen.close()
    llm.close()
    return (tok_b, wall_b), (tok_s, wall_s)


def batched(
    model: Path, reqs: list[ChatRequest], threads: int, n_ctx: int, parallel: int, share: bool
) -> tuple[int, float, int, int]:
    gen = LlamaCppGenerator(str(model), parallel=parallel, n_ctx=n_ctx, n_threads=threads, share_prefix=share)
    t0 = time.perf_counter()
    res = gen.generate(reqs)
    wall = time.perf_counter() - t0
    dec = gen._batcher
    shared, prefilled = dec.shared_tokens, dec.prefilled_tokens
    gen.close()
    assert all(r.ok for r in res), [r.error for r in res if not r.ok]
    return sum(r.completion_tokens for r in res), wall, shared, prefilled


def run_workload(name: str, args: argparse.Namespace, model: Path, recs: list[dict[str, str]]) -> None:
    reqs = workload_requests(name, recs, args.max_tokens, args.k)
    n_ctx = max(args.n_ctx, FEWSHOT_CTX) if name == "fewshot" else args.n_ctx
    print(f"\n## workload {name}: {len(reqs)} requests, load average {os.getloadavg()[0]:.2f}", flush=True)
    rows: list[tuple[str, int, float, str]] = []
    (tok, wall), (tok1, wall1) = bare_and_single(model, reqs, args.threads, n_ctx, not args.no_single)
    rows.append(("bare llama-cpp-python", tok, wall, ""))
    if not args.no_single:
        rows.append(("synthneg single stream", tok1, wall1, ""))
    print(f"  bare: {tok} tokens in {wall:.1f}s; synthneg single: {tok1} tokens in {wall1:.1f}s", flush=True)
    for p in args.parallel:
        for share in (True, False) if args.compare_share else (True,):
            tok, wall, shared, prefilled = batched(model, reqs, args.threads, n_ctx, p, share)
            label = f"synthneg batched parallel={p}" + ("" if share else ", no prefix sharing")
            note = f"{prefilled} prefilled, {shared} shared"
            rows.append((label, tok, wall, note))
            print(f"  {label}: {tok} tokens in {wall:.1f}s ({note} prompt tokens)", flush=True)
    base = rows[0][1] / rows[0][2]
    print(f"\n| {name}: run | completion tokens | wall s | tok/s | vs bare | prompt tokens |")
    print("|---|---:|---:|---:|---:|---|")
    for label, tok, wall, note in rows:
        print(f"| {label} | {tok} | {wall:.1f} | {tok / wall:.1f} | {tok / wall / base:.2f}x | {note} |")
    print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--workload", choices=WORKLOADS, nargs="+", default=list(WORKLOADS))
    ap.add_argument("--n", type=int, default=32, help="requests per workload")
    ap.add_argument("--k", type=int, default=4, help="candidates per query in the k4 workload")
    ap.add_argument("--max-tokens", type=int, default=128, help="max new tokens of the negatives workloads")
    ap.add_argument("--threads", type=int, default=available_cpus())
    ap.add_argument("--n-ctx", type=int, default=1024)
    ap.add_argument("--parallel", type=int, nargs="+", default=[8, 16])
    ap.add_argument("--no-single", action="store_true", help="skip synthneg single stream")
    ap.add_argument("--compare-share", action="store_true", help="also run each batched setting without sharing")
    args = ap.parse_args()

    model = resolve_gguf(args.model)
    recs = records(args.data, args.n)
    print(f"model {args.model}, {args.threads} threads, max_tokens {args.max_tokens}", flush=True)
    for name in args.workload:
        run_workload(name, args, model, recs)


if __name__ == "__main__":
    main()
