"""Compare one arm across two experiment runs, paired by query (seed-averaged nDCG@10 per query).

For runs that differ in one setting, such as the NFCorpus labeled ceiling with and without its judged
in-batch candidates masked:

    python scripts/compare_runs.py experiments/nfcorpus-labeled-masked.yaml labeled \
        experiments/nfcorpus-indomain-500.yaml labeled

Prints each side's mean ± sd over seeds, and the paired difference with its 95% bootstrap CI and
randomization-test p-value (synthneg.evaluate.significance.compare), per evaluated dataset.

``--gain-over zero-shot`` compares each arm's per-query *gain over its own run's zero-shot* instead of its
score (a difference in differences). Use it when the two runs were evaluated on different machines: bf16
evaluation differs slightly between CPUs (SciFact zero-shot MiniLM scored 0.6457 on one and 0.6472 on
another), and that offset cancels out of the gains.

A learning curve's point is ``CONFIG@N`` (its N-passage run), e.g.

    python scripts/compare_runs.py experiments/scifact-indomain-curve-cpu-lead.yaml@2000 in-batch \
        experiments/scifact-indomain-curve-cpu.yaml@2000 in-batch-unfiltered

``--base-a CONFIG`` (or ``--base-b``) takes that side's ``--gain-over`` arm from another run evaluated on
the same machine as the arm: for an arm added to a run whose other arms were evaluated elsewhere, e.g.

    python scripts/compare_runs.py experiments/scifact-indomain-500.yaml llm-query-verified \
        experiments/scifact-indomain-500.yaml llm-query --gain-over zero-shot \
        --base-a experiments/scifact-indomain-500-fewshot.yaml
"""

from __future__ import annotations

import argparse
import statistics

from synthneg.evaluate.significance import compare, format_p
from synthneg.experiment import load_config
from synthneg.experiment.report import HEADLINE, collect, mean_per_query


def _found(config_path: str) -> dict:
    """The evaluations of a run; ``CONFIG@N`` is the N-passage point of a learning curve (``synthneg curve``)."""
    path, _, point = config_path.partition("@")
    config = load_config(path)
    if point:
        from synthneg.experiment.curve import point_config

        config = point_config(config, int(point))
    return collect(config.output_dir, config)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config_a")
    ap.add_argument("arm_a")
    ap.add_argument("config_b")
    ap.add_argument("arm_b")
    ap.add_argument("--resamples", type=int, default=10_000)
    ap.add_argument("--gain-over", metavar="ARM", help="compare gains over this arm of each run (e.g. zero-shot)")
    ap.add_argument("--base-a", metavar="CONFIG", help="with --gain-over: take A's base arm from this run instead")
    ap.add_argument("--base-b", metavar="CONFIG", help="with --gain-over: take B's base arm from this run instead")
    args = ap.parse_args()
    if (args.base_a or args.base_b) and not args.gain_over:
        raise SystemExit("--base-a/--base-b choose the run of the --gain-over arm: give --gain-over too")
    found_a, found_b = _found(args.config_a), _found(args.config_b)
    bases_a = _found(args.base_a) if args.base_a else found_a
    bases_b = _found(args.base_b) if args.base_b else found_b
    a_runs, b_runs = found_a.get(args.arm_a, {}), found_b.get(args.arm_b, {})
    for ds in sorted(set(a_runs) & set(b_runs)):
        a, b = a_runs[ds], b_runs[ds]
        for label, runs in ((f"A {args.arm_a}", a), (f"B {args.arm_b}", b)):
            vals = [r["metrics"][HEADLINE] for r in runs]
            sd = f" ± {statistics.stdev(vals):.4f}" if len(vals) > 1 else ""
            print(f"{ds} {label}: {HEADLINE} {statistics.fmean(vals):.4f}{sd} ({len(vals)} seed(s))")
        per_a, per_b = mean_per_query(a, HEADLINE), mean_per_query(b, HEADLINE)
        what = "A - B"
        if args.gain_over:
            base_a, base_b = bases_a.get(args.gain_over, {}).get(ds), bases_b.get(args.gain_over, {}).get(ds)
            if not base_a or not base_b:
                raise SystemExit(f"{ds}: --gain-over {args.gain_over} needs that arm evaluated in both runs")
            za, zb = mean_per_query(base_a, HEADLINE), mean_per_query(base_b, HEADLINE)
            gain_a = statistics.fmean(per_a.values()) - statistics.fmean(za.values())
            gain_b = statistics.fmean(per_b.values()) - statistics.fmean(zb.values())
            print(f"{ds} gains over {args.gain_over}: A {gain_a:+.4f}, B {gain_b:+.4f}")
            per_a = {q: v - za.get(q, 0.0) for q, v in per_a.items()}
            per_b = {q: v - zb.get(q, 0.0) for q, v in per_b.items()}
            what = f"gain A - gain B (over each run's {args.gain_over})"
        c = compare(per_a, per_b, n_resamples=args.resamples, on_missing="zero")
        print(
            f"{ds} {what}: {c.mean_diff:+.4f} [{c.ci_low:+.4f}, {c.ci_high:+.4f}], p = {format_p(c.p_value)}, "
            f"{c.n} queries"
        )
    if not set(a_runs) & set(b_runs):
        raise SystemExit("no dataset evaluated for both arms yet")


if __name__ == "__main__":
    main()
