"""Peak memory and time per step of a MiniLM fine-tune, per loss and precision, against the default recipe
(``mnrl``, batch 32, fp32) measured in the same run: what a machine with little RAM should pick.

Rows: SciFact train claims with their judged abstract as the positive and another train claim's abstract as the
negative (three texts per row, as the experiment arms' triples), ``--max-seq-length`` 256 as in the experiment
configs. Each setting trains ``--steps`` optimizer steps in a fresh process and reports that process's peak
resident memory (``ru_maxrss``: model, optimizer, activations, allocator) and its seconds per step.

    PYTHONPATH=src .venv/bin/python benchmarks/train_memory.py --steps 3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = {
    "mnrl": {},
    "cached-mnrl-8": {"loss": "cached-mnrl", "mini_batch_size": 8},
    "mnrl-bf16": {"precision": "bf16"},
}


def _rows(dataset: str, n: int) -> list[object]:
    from synthneg.data import load_beir, resolve_dataset
    from synthneg.data.triples import Triple

    ds = load_beir(resolve_dataset(dataset), "train")
    pairs = [(q, d) for q, rels in ds.qrels.items() for d, g in rels.items() if g > 0 and d in ds.corpus][:n]
    docs = ds.corpus.documents  # negatives from the corpus's tail, none of them a positive here
    return [
        Triple(q, ds.queries[q], d, ds.corpus[d].full_text(), docs[-1 - i].full_text(), method="bench")
        for i, (q, d) in enumerate(pairs)
    ]


def _child(name: str, steps: int, batch_size: int, max_seq_length: int, dataset: str) -> None:
    """One setting, in this process: train, then print one JSON line with the peak RSS and the time per step."""
    from synthneg.train import TrainConfig, train

    rows = _rows(dataset, 2 * steps * batch_size)  # NO_DUPLICATES defers repeated claims: enough for every step
    config = TrainConfig(batch_size=batch_size, max_seq_length=max_seq_length, max_steps=steps, **SETTINGS[name])
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        train(rows, model="minilm", out=Path(out), config=config)
        seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"setting": name, "peak_gb": round(peak_kb / 1e6, 2), "s_per_step": round(seconds / steps, 1)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-seq-length", type=int, default=256)
    ap.add_argument("--dataset", default="scifact")
    ap.add_argument("--setting", action="append", choices=sorted(SETTINGS), help="default: every setting")
    ap.add_argument("--child", choices=sorted(SETTINGS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.steps, args.batch_size, args.max_seq_length, args.dataset)
        return
    results = []
    for name in args.setting or list(SETTINGS):
        command = [sys.executable, __file__, "--child", name, "--steps", str(args.steps)]
        command += ["--batch-size", str(args.batch_size), "--max-seq-length", str(args.max_seq_length)]
        command += ["--dataset", args.dataset]
        # a benchmark child is the first the kernel stops if memory runs out, not a long job beside it
        done = subprocess.run(command, capture_output=True, text=True, check=False, preexec_fn=_oom_first)
        line = next((x for x in reversed(done.stdout.splitlines()) if x.startswith("{")), None)
        if done.returncode or line is None:
            print(f"{name}: failed (exit {done.returncode}): {done.stderr.strip()[-400:]}", file=sys.stderr)
            continue
        results.append(json.loads(line))
        print(line, flush=True)
    base = next((r for r in results if r["setting"] == "mnrl"), None)
    for r in results:
        if base is not None and r is not base:
            print(
                f"{r['setting']}: {r['peak_gb'] / base['peak_gb']:.2f}x the default's peak memory, "
                f"{r['s_per_step'] / base['s_per_step']:.2f}x its time per step"
            )


def _oom_first() -> None:
    with contextlib.suppress(OSError):
        Path(f"/proc/{os.getpid()}/oom_score_adj").write_text("1000")


if __name__ == "__main__":
    main()
