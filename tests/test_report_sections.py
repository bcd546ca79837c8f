"""The report's verified-negatives sections render what results.json holds (a committed run's summary, extended)."""

from __future__ import annotations

import json
from pathlib import Path

from synthneg.experiment import load_config
from synthneg.experiment.report_markdown import render_markdown

ROOT = Path(__file__).parents[1]


def test_verified_sections_render_the_paired_test_and_the_verifiers_rates() -> None:
    config = load_config(ROOT / "experiments" / "scifact-indomain-500.yaml")
    summary = json.loads((config.output_dir / "results.json").read_text(encoding="utf-8"))
    plain = render_markdown(summary, config, None)
    assert "llm-query-verified` against `llm-query`" not in plain and "what the verifiers kept" not in plain
    summary["verified_vs_query"] = {"scifact": {"diff": 0.0123, "ci_low": 0.001, "ci_high": 0.0236, "p_value": 0.03}}
    rates = {"queries": 499, "candidates": 998, "rewrites_accepted": 900, "passages_accepted": 850, "judged": 850}
    rates |= {"judge_answers_query": 0.4, "kept": 420, "acceptance_rate": 420 / 499}
    summary["diagnostics"] = {"llm-query-verified": {"closer_than_positive": 0.8, "near_miss": rates}, "bm25": {}}
    text = render_markdown(summary, config, None)
    assert "| scifact | +0.0123 [+0.0010, +0.0236] | 0.030 |" in text
    assert "| llm-query-verified | 499 | 998 | 900 | 850 | 40.0% of 850 | 420 (84.2%) |" in text
