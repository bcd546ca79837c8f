"""The experiment's result as the terminal shows it: one compact table that reads at 80 columns.

The markdown report (``report.md``) keeps everything (every metric, the 95% CIs, costs, diagnostics);
the terminal gets nDCG@10 per arm and dataset with the change against the baseline arm and its
Holm-adjusted p-value, in short cells that rich never wraps.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from synthneg.console import stdout_console
from synthneg.experiment.arms import ARMS

SHORT_NAMES = {name: spec.short for name, spec in ARMS.items()}  # the registry's order: the table's


def _p(p: float) -> str:
    return "<.001" if p < 0.0005 else f"{p:.3f}".lstrip("0")


def baseline_arm(summary: dict[str, Any]) -> str:
    """The arm the terminal compares with: BM25 negatives when the run has them, else zero-shot."""
    return "bm25" if "bm25" in summary["arms"] else "zero-shot"


def results_table(summary: dict[str, Any]) -> Table:
    """nDCG@10 (mean over seeds), the change against the baseline arm and its Holm p, per dataset."""
    base = baseline_arm(summary)
    datasets = sorted({ds for by_ds in summary["arms"].values() for ds in by_ds})
    table = Table(
        title=f"{summary['metric']}, mean over seeds; Δ, Holm p vs {SHORT_NAMES.get(base, base)}",
        box=box.SIMPLE_HEAD,
        title_justify="left",
        pad_edge=False,
    )
    table.add_column("arm", no_wrap=True, overflow="ellipsis", max_width=22)
    for ds in datasets:
        table.add_column(ds, justify="right", no_wrap=True)
        table.add_column("Δ", justify="right", no_wrap=True)
        table.add_column("p", justify="right", no_wrap=True)
    sig = summary.get("significance", {})
    order = {a: i for i, a in enumerate(SHORT_NAMES)}
    for arm, by_ds in sorted(summary["arms"].items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])):
        row = [SHORT_NAMES.get(arm, arm)]
        for ds in datasets:
            entry = by_ds.get(ds)
            if entry is None:
                row += ["-", "", ""]
                continue
            row.append(f"{entry[summary['metric']]['mean']:.4f}")
            test = sig.get(arm, {}).get(ds, {}).get(base)
            if arm == base or test is None:
                row += ["", ""]
            else:
                row += [f"{test['diff']:+.4f}", _p(test.get("p_holm", test["p_value"]))]
        table.add_row(*row)
    return table


def print_results(run_dir: Path, console: Console | None = None) -> None:
    """Print the run's results table from its ``results.json`` (to stdout by default)."""
    summary = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    (console or stdout_console()).print(results_table(summary))
