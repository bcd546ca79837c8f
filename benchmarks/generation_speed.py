"""Generation throughput: bare llama-cpp-python vs synthneg single stream vs synthneg batched.

All run the same chat requests (the built-in negative-from-query prompt over the titles of the
first N arXiv records, used as queries), the same sampling (temperature 0.6, top-p 0.95, top-k 20,
min-p 0, one seed per request) and the same thread count. Tokens/s = completion tokens / wall seconds
of the whole batch (prompt processing included), so the figures are end-to-end. Bare and single
stream are interleaved prompt by prompt; each batched run then takes the 32 prompts as one batch.

    .venv/bin/python benchmarks/generation_speed.py                      # 32 prompts, parallel 4 and 8
    .venv/bin/python benchmarks/generation_speed.py --parallel 2 4 8 16  # where the gain stops

The arXiv sample is read in place from ../shared/data (never copied).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from pathlib import Path

from synthneg.llm import ChatRequest, SamplingParams, load_template
from synthneg.llm.llamacpp import LlamaCppGenerator
from synthneg.llm.registry import resolve_gguf

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "arxiv" / "arxiv_kaggle_first2000.jsonl.gz"


def requests(path: Path, n: int, max_tokens: int) -> list[ChatRequest]:
    tpl = load_template("negative-query")
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i == n:
                break
            title = " ".join(json.loads(line)["title"].split())
            out.append(ChatRequest(tpl.render(query=title), SamplingParams(max_tokens=max_tokens, seed=1000 + i)))
    return out


def bare_and_single(
    model: Path, reqs: list[ChatRequest], threads: int, n_ctx: int
) -> tuple[tuple[int, float], tuple[int, float]]:
    """Bare llama-cpp-python and synthneg single stream, interleaved prompt by prompt (alternating which
    goes first) so that a load change on a shared machine hits both alike."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(model), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False)
    gen = LlamaCppGenerator(str(model), parallel=1, n_ctx=n_ctx, n_threads=threads)
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
        t0 = time.perf_counter()
        res = gen.generate([r])[0]
        wall_s += time.perf_counter() - t0
        assert res.ok, res.error
        tok_s += res.completion_tokens

    for i, r in enumerate(reqs):
        first, second = (run_bare, run_ours) if i % 2 == 0 else (run_ours, run_bare)
        first(r)
        second(r)
    gen.close()
    llm.close()
    return (tok_b, wall_b), (tok_s, wall_s)


def batched(model: Path, reqs: list[ChatRequest], threads: int, n_ctx: int, parallel: int) -> tuple[int, float]:
    gen = LlamaCppGenerator(str(model), parallel=parallel, n_ctx=n_ctx, n_threads=threads)
    t0 = time.perf_counter()
    res = gen.generate(reqs)
    wall = time.perf_counter() - t0
    gen.close()
    assert all(r.ok for r in res), [r.error for r in res if not r.ok]
    return sum(r.completion_tokens for r in res), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--n-ctx", type=int, default=1024)
    ap.add_argument("--parallel", type=int, nargs="+", default=[4, 8])
    args = ap.parse_args()

    model = resolve_gguf(args.model)
    reqs = requests(args.data, args.n, args.max_tokens)
    print(
        f"model {args.model}, {len(reqs)} prompts, max_tokens {args.max_tokens}, {args.threads} threads, "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    rows: list[tuple[str, int, float]] = []
    (tok, wall), (tok1, wall1) = bare_and_single(model, reqs, args.threads, args.n_ctx)
    rows.append(("bare llama-cpp-python", tok, wall))
    rows.append(("synthneg single stream", tok1, wall1))
    print(f"  bare: {tok} tokens in {wall:.1f}s; synthneg single: {tok1} tokens in {wall1:.1f}s", flush=True)
    for p in args.parallel:
        tok, wall = batched(model, reqs, args.threads, args.n_ctx, p)
        rows.append((f"synthneg batched parallel={p}", tok, wall))
        print(f"  parallel={p}: {tok} tokens in {wall:.1f}s", flush=True)
    base = rows[0][1] / rows[0][2]
    print("\n| run | completion tokens | wall s | tok/s | vs bare |\n|---|---:|---:|---:|---:|")
    for name, tok, wall in rows:
        print(f"| {name} | {tok} | {wall:.1f} | {tok / wall:.1f} | {tok / wall / base:.2f}x |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
