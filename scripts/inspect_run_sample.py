"""Inspect the negatives of every method of an experiment run on its first N queries, CE included,
with the LLM reranker's false-negative estimate.

    .venv/bin/python scripts/inspect_run_sample.py experiments/arxiv-500.yaml --n 100

The CE negatives of those N queries are mined with the `ce` arm's settings (same passages, first
stage, candidates and reranker), and every reranker score goes to the run's committed score store
(`generation/negatives-ce.scores.jsonl`): a rerun of this script pays for nothing, and the `ce` arm
reuses every pair it shares (with one positive per query, all of them; its cost table then scales
the CE stage by the reused share). Writes `<output_dir>/inspect-<N>/report.md` and `histograms.png`.
Needs the run's query records and triples (a rerun of the experiment rebuilds them at no LLM cost).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from synthneg.data.triples import read_query_records, read_triples
from synthneg.diagnostics import inspect_triples, plot_histograms, render_markdown
from synthneg.experiment import load_config
from synthneg.experiment.runner import ExperimentRunner
from synthneg.mine.cross_encoder import load_scorer, mine_ce
from synthneg.search.dense import DenseEncoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path)
    parser.add_argument("--n", type=int, default=100, help="first N queries (passage order)")
    parser.add_argument("--arms", nargs="+", default=["bm25", "llm-query", "llm-query-positive", "random"])
    args = parser.parse_args()

    cfg = load_config(args.config)
    runner = ExperimentRunner(cfg, show_progress=True)
    out = runner.out
    records = read_query_records(out / "generation" / "queries.jsonl")[: args.n]
    chosen = {r.query_id for r in records}
    rows = []
    for arm in args.arms:
        path = out / "triples" / f"{arm}.jsonl"
        if path.is_file():
            rows += [t for t in read_triples(path) if t.query_id in chosen]
        else:
            print(f"{arm}: no triples yet ({path}), skipped")

    scorer = load_scorer(
        cfg.mining.ce_scorer, show_progress=True, cache=out / "generation" / "negatives-ce.scores.jsonl"
    )
    t0 = time.perf_counter()
    ce = mine_ce(
        records,
        runner.passages,
        scorer,
        first_stage=cfg.mining.ce_first_stage,
        candidates=cfg.mining.ce_candidates,
        show_progress=True,
    )
    print(f"ce: {len(ce)} triples for {len(records)} queries in {time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    reports = inspect_triples(
        rows + ce,
        encoder=DenseEncoder(
            cfg.base_model,
            query_prefix=cfg.train.query_prefix,
            passage_prefix=cfg.train.passage_prefix,
            show_progress=False,
        ),
        reranker=scorer,
        fn_sample=args.n,
        n_examples=2,
    )
    print(f"inspect: {time.perf_counter() - t0:.0f} s")
    folder = out / f"inspect-{args.n}"
    folder.mkdir(parents=True, exist_ok=True)
    png = plot_histograms(reports, folder / "histograms.png")
    md = render_markdown(reports, plot_name=png.name)
    header = (
        f"<!-- scripts/inspect_run_sample.py {args.config} --n {args.n}: the first {args.n} queries of the run, "
        f"every method's negatives for them; FN rate = share judged by the LLM reranker "
        f"({cfg.mining.ce_scorer}) at least as relevant as the positive -->\n"
    )
    (folder / "report.md").write_text(header + md, encoding="utf-8")
    print(md.split("\n## Examples")[0])
    close = getattr(scorer, "close", None)
    if callable(close):
        close()


if __name__ == "__main__":
    main()
