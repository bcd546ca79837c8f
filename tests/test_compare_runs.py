"""scripts/compare_runs.py: a paired comparison across runs agrees with a run's own report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _compare(*args: str) -> subprocess.CompletedProcess[str]:
    script = ROOT / "scripts" / "compare_runs.py"
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, check=False, cwd=ROOT)


def test_compare_runs_reproduces_the_reports_paired_difference() -> None:
    """Within one committed run, labeled vs zero-shot must match results.json's significance entry."""
    config = str(ROOT / "experiments" / "nfcorpus-indomain-500.yaml")
    results = json.loads((ROOT / "docs" / "results" / "nfcorpus-indomain-500" / "results.json").read_text())
    expected = results["significance"]["labeled"]["nfcorpus"]["zero-shot"]
    proc = _compare(config, "labeled", config, "zero-shot")
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith(f"nfcorpus A - B: {expected['diff']:+.4f} [{expected['ci_low']:+.4f}, ")
    assert f"p = {expected['p_value']:.3f}" in last
    bad = _compare(config, "labeled", config, "nothing")
    assert bad.returncode != 0 and "no dataset evaluated for both arms yet" in bad.stderr


def test_gain_over_cancels_a_per_run_offset() -> None:
    """--gain-over zero-shot: within one run, labeled's gain minus zero-shot's own gain (zero) is labeled - zero-shot."""
    config = str(ROOT / "experiments" / "nfcorpus-indomain-500.yaml")
    results = json.loads((ROOT / "docs" / "results" / "nfcorpus-indomain-500" / "results.json").read_text())
    expected = results["significance"]["labeled"]["nfcorpus"]["zero-shot"]
    proc = _compare(config, "labeled", config, "zero-shot", "--gain-over", "zero-shot")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-2] == f"nfcorpus gains over zero-shot: A {expected['diff']:+.4f}, B +0.0000"
    assert lines[-1].startswith(f"nfcorpus gain A - gain B (over each run's zero-shot): {expected['diff']:+.4f} [")
    bad = _compare(config, "labeled", config, "zero-shot", "--gain-over", "bm25-nothing")
    assert bad.returncode != 0 and "needs that arm evaluated in both runs" in bad.stderr


def test_base_a_takes_the_base_arm_from_another_run() -> None:
    """--base-a: A's gain is over the other run's zero-shot, so labeled against itself differs by the zero-shots'
    difference (two committed NFCorpus runs whose zero-shots differ), and --base-a needs --gain-over."""
    config = str(ROOT / "experiments" / "nfcorpus-indomain-500.yaml")
    other = str(ROOT / "experiments" / "nfcorpus-indomain-500-fewshot.yaml")

    def zero_shot(run: str) -> float:
        results = json.loads((ROOT / "docs" / "results" / run / "results.json").read_text())
        return results["arms"]["zero-shot"]["nfcorpus"]["nDCG@10"]["mean"]

    offset = zero_shot("nfcorpus-indomain-500") - zero_shot("nfcorpus-indomain-500-fewshot")
    assert offset != 0.0  # the two runs' zero-shots differ, or this test proves nothing
    proc = _compare(config, "labeled", config, "labeled", "--gain-over", "zero-shot", "--base-a", other)
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith(f"nfcorpus gain A - gain B (over each run's zero-shot): {offset:+.4f} [")
    bad = _compare(config, "labeled", config, "labeled", "--base-a", other)
    assert bad.returncode != 0 and "give --gain-over too" in bad.stderr


def test_a_curve_point_is_config_at_size() -> None:
    """``CONFIG@N`` reads the N-passage point of a learning curve: the filter's row of the committed 2,000 point."""
    config = str(ROOT / "experiments" / "scifact-indomain-curve.yaml")
    results = json.loads((ROOT / "docs/results/scifact-indomain-curve/n2000/results.json").read_text())
    expected = results["filter_gain"]["scifact"]  # the report's paired test of the two arms
    proc = _compare(f"{config}@2000", "in-batch", f"{config}@2000", "in-batch-unfiltered")
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith(f"scifact A - B: {expected['diff']:+.4f} [{expected['ci_low']:+.4f}, ")
