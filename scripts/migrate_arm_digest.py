"""Re-key a committed arm whose rebuilt training data differs from its recorded digest only in machine noise.

    python scripts/migrate_arm_digest.py experiments/scifact-indomain-500.yaml llm-query-verified [--dry-run]

Rebuilds the arm's triples from the run's tracked stores (no LLM call), checks them against the diagnostics
recorded when the run was made (synthneg.experiment.migrate), and moves the committed evaluations' markers to the new
digest, so that a fresh clone finds them instead of training again; the arms built on it (a matched BM25 control)
are re-keyed where their own rebuilt data is unchanged. Prints the old and new digests and the stages.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from synthneg.experiment import load_config
from synthneg.experiment.migrate import migrate_arm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("arm")
    parser.add_argument("--dry-run", action="store_true", help="Check and print; change nothing.")
    args = parser.parse_args()
    m = migrate_arm(load_config(args.config), args.arm, dry_run=args.dry_run)
    done = "dry run, nothing changed" if args.dry_run else "moved"
    if m.old == m.new:
        print(f"{m.arm}: the rebuilt data has the recorded digest {m.old}")
    else:
        print(f"{m.arm}: data digest {m.old} -> {m.new} ({done})")
    for stage in m.rekeyed:
        print(f"  {stage}")
    for stage in m.dependents:
        print(f"  {stage}: keyed by the new digest ({done}; its data has the recorded bytes)")
    if m.old == m.new and not m.dependents:
        print("nothing to do")


if __name__ == "__main__":
    main()
