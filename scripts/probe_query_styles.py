"""Probe a query style cheaply: the first N passages of a curve point, with the point's own few-shot examples.

Writes ``OUT/<style>/queries.jsonl`` (and its call store) for each style given, then measure how hard the rows are
for the base encoder with ``scripts/inbatch_difficulty.py`` and read them by eye. Besides the built-in styles
(``synthneg.llm.prompts.QUERY_STYLES``) two trial styles are defined here: ``detail`` (a secondary result of the
passage, not its main conclusion) and ``contradict`` (a claim the passage's results contradict; SciFact counts such
claims relevant). A built-in style (``claim``) reuses the point's stored calls when ``--calls`` gives its store.

    .venv/bin/python scripts/probe_query_styles.py experiments/scifact-indomain-curve-cpu.yaml --size 500 --n 40 \\
        --calls docs/results/scifact-indomain-curve-cpu/n500/generation/queries.calls.jsonl \\
        --out /tmp/probe claim detail contradict
    .venv/bin/python scripts/inbatch_difficulty.py --dataset scifact --batch 8 /tmp/probe/*/queries.jsonl
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

TRIAL_STYLES = {
    "detail": "one short factual claim (8 to 20 words, a declarative sentence) stating one specific result of this "
    "passage other than its main conclusion (a number, a subgroup, a comparison or a secondary outcome), as someone "
    "checking a fact would type it.",
    "contradict": "one short factual claim (8 to 20 words, a declarative sentence) that this passage's results "
    "contradict: the opposite of one of its findings, as someone checking a fact would type it.",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path, help="an experiment config with queries.examples")
    parser.add_argument("styles", nargs="+", help="styles to write (built-in or detail, contradict)")
    parser.add_argument("--size", type=int, help="the curve point whose passages are drawn (default: the config's)")
    parser.add_argument("--n", type=int, default=40, help="the first N passages")
    parser.add_argument("--calls", type=Path, help="a call store to start each style's store from (reused calls)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args()

    from synthneg.experiment import load_config
    from synthneg.experiment.curve import point_config
    from synthneg.experiment.runner import ExperimentRunner
    from synthneg.generate import generate_queries
    from synthneg.llm.factory import make_generator
    from synthneg.llm.prompts import QUERY_STYLES

    QUERY_STYLES.update(TRIAL_STYLES)
    cfg = load_config(args.config)
    if args.size:
        cfg = point_config(cfg, args.size)
    runner = ExperimentRunner(cfg, show_progress=False)
    docs = runner.passages.documents[: args.n]
    examples = runner.examples()
    with make_generator("llamacpp", args.model, parallel=args.parallel, lazy=True) as gen:
        for style in args.styles:
            out = args.out / style
            out.mkdir(parents=True, exist_ok=True)
            # only a built-in style can find its calls in a run's store (a trial style's prompts are new)
            if args.calls and style not in TRIAL_STYLES and not (out / "queries.calls.jsonl").exists():
                shutil.copy(args.calls, out / "queries.calls.jsonl")
            res = generate_queries(docs, gen, out, styles=[style], examples=examples, show_progress=False)
            print(f"{style}: {res.ledger.calls} calls paid, {res.ledger.cached_calls} reused -> {res.output}")


if __name__ == "__main__":
    main()
