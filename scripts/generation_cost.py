"""What a run's LLM calls would cost on a GPU, estimated from its stored tokens and a measured GPU rate.

Reads call stores (``generation/*.calls.jsonl``: one record per finished call, with its prompt and completion
tokens), sums the tokens of every call (paid in any session), and divides them by a prefill and a decode rate:

    time = prompt tokens / prefill rate + completion tokens / decode rate

The default rates are llama.cpp's measured on an RTX 4090 for TinyLlama 1.1B Q4_K_M (llama-bench pp4096
18,709 t/s and tg128 762 t/s; geerlingguy/ai-benchmarks issue 43, 2025-12-09): a model twice the size of the
0.5B on a consumer GPU, decoding one sequence at a time, so the estimate is an upper bound for the 0.5B on a
data-centre GPU (no batching of the decode, no reuse of the shared few-shot prefix). It is not a measurement of
synthneg on a GPU. Pass ``--prefill-tps`` and ``--decode-tps`` measured on your own card for a better one.

    python3 scripts/generation_cost.py docs/results/scifact-indomain-curve/n500/generation/queries.calls.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PREFILL_TPS = 18_709.0
DECODE_TPS = 762.0


def totals(store: Path) -> tuple[int, int, int]:
    """Calls, prompt tokens and completion tokens of one call store (failed calls count as calls only)."""
    calls = prompt = completion = 0
    with store.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            result = json.loads(line).get("result") or {}
            calls += 1
            prompt += int(result.get("prompt_tokens") or 0)
            completion += int(result.get("completion_tokens") or 0)
    return calls, prompt, completion


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stores", nargs="+", type=Path, help="generation/*.calls.jsonl files")
    parser.add_argument("--prefill-tps", type=float, default=PREFILL_TPS, help="prompt tokens a second")
    parser.add_argument("--decode-tps", type=float, default=DECODE_TPS, help="completion tokens a second")
    args = parser.parse_args()

    print("| store | calls | prompt tokens | completion tokens | GPU estimate |")
    print("| --- | ---: | ---: | ---: | ---: |")
    total_s = 0.0
    for store in args.stores:
        calls, prompt, completion = totals(store)
        seconds = prompt / args.prefill_tps + completion / args.decode_tps
        total_s += seconds
        print(f"| {store} | {calls:,} | {prompt:,} | {completion:,} | {seconds / 60:.1f} min |")
    print(
        f"\nAll stores: {total_s / 60:.1f} min at {args.prefill_tps:,.0f} prompt and {args.decode_tps:,.0f} "
        "completion tokens a second (an estimate from measured rates, not a measurement of synthneg)."
    )


if __name__ == "__main__":
    main()
