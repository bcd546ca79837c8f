"""The report's verified-negatives sections render what results.json holds (a committed run's summary, extended)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synthneg.experiment import load_config
from synthneg.experiment.report_markdown import render_markdown

ROOT = Path(__file__).parents[1]


def _committed_summary(config: Any) -> dict[str, Any]:
    """A committed run's results.json without the parts the tests add themselves (the run may have them by now)."""
    summary = json.loads((config.output_dir / "results.json").read_text(encoding="utf-8"))
    for key in ("verified_vs_query", "eval_machines", "filter_gain"):
        summary.pop(key, None)
    summary.get("diagnostics", {}).pop("llm-query-verified", None)
    return summary


def test_verified_sections_render_the_paired_test_and_the_verifiers_rates() -> None:
    config = load_config(ROOT / "experiments" / "scifact-indomain-500.yaml")
    summary = _committed_summary(config)
    plain = render_markdown(summary, config, None)
    assert "llm-query-verified` against `llm-query`" not in plain and "what the verifiers kept" not in plain
    summary["verified_vs_query"] = {"scifact": {"diff": 0.0123, "ci_low": 0.001, "ci_high": 0.0236, "p_value": 0.03}}
    rates = {"queries": 499, "candidates": 998, "rewrites_accepted": 900, "passages_accepted": 850, "judged": 850}
    rates |= {"judge_answers_query": 0.4, "kept": 420, "acceptance_rate": 420 / 499}
    summary["diagnostics"] = {"llm-query-verified": {"closer_than_positive": 0.8, "near_miss": rates}, "bm25": {}}
    text = render_markdown(summary, config, None)
    assert "| scifact | +0.0123 [+0.0010, +0.0236] | 0.030 |" in text
    assert "| llm-query-verified | 499 | 998 | 900 | 850 | 40.0% of 850 | 420 (84.2%) |" in text


def test_the_filter_gain_is_the_paired_test_of_the_filtered_against_the_unfiltered_in_batch_arm() -> None:
    """The committed curve point has both arms: the summary's filter_gain is their paired per-query comparison."""
    from synthneg.evaluate.significance import compare
    from synthneg.experiment.curve import point_config
    from synthneg.experiment.report import summarize

    config = point_config(load_config(ROOT / "experiments" / "scifact-indomain-curve.yaml"), 500)
    summary = summarize(config.output_dir, config)
    gain = summary["filter_gain"]["scifact"]

    def seed_mean(arm: str) -> dict[str, float]:
        runs = [
            json.loads((config.output_dir / "eval" / arm / f"seed{s}" / "scifact.json").read_text()) for s in range(3)
        ]
        return {q: sum(r["per_query"][q]["nDCG@10"] for r in runs) / 3 for q in runs[0]["per_query"]}

    expected = compare(seed_mean("in-batch"), seed_mean("in-batch-unfiltered"), n_resamples=1000)
    assert abs(gain["diff"] - expected.mean_diff) < 1e-9
    text = render_markdown(summary, config, None)
    assert "The query filter's gain" in text and f"| scifact | {gain['diff']:+.4f} [" in text


def test_evaluations_from_two_machines_are_flagged_and_one_machine_is_not() -> None:
    from synthneg.experiment.report import eval_machines

    def res(label: str, cpu: str | None) -> dict:
        timing = {"precision": "bf16"} | ({"cpu": cpu} if cpu else {})
        return {"label": label, "model": "m", "timing": timing}

    amx, other = "Xeon (amx)", "EPYC (avx512_bf16)"
    one = {"zero-shot": {"scifact": [res("zero-shot", amx)]}, "bm25": {"scifact": [res("bm25/seed0", amx)]}}
    assert eval_machines(one) == {}
    old = {"zero-shot": {"scifact": [res("zero-shot", None)]}, "bm25": {"scifact": [res("bm25/seed0", None)]}}
    assert eval_machines(old) == {}  # a run from before machines were recorded: nothing to say
    mixed = {
        "zero-shot": {"scifact": [res("zero-shot", None)], "nfcorpus": [res("zero-shot", other)]},
        "llm-query-verified": {"scifact": [res("llm-query-verified/seed0", amx)], "nfcorpus": [res("x/seed0", other)]},
    }
    assert eval_machines(mixed) == {"scifact": {"zero-shot": None, "llm-query-verified/seed0": amx}}
    # an evaluation that ran on a GPU is that GPU's, whatever CPU hosted it
    gpu = {"zero-shot": {"scifact": [res("zero-shot", amx)]}, "bm25": {"scifact": [res("bm25/seed0", amx)]}}
    gpu["bm25"]["scifact"][0]["timing"]["gpu"] = "NVIDIA H200 (cuda)"
    assert eval_machines(gpu) == {"scifact": {"zero-shot": amx, "bm25/seed0": "NVIDIA H200 (cuda)"}}

    config = load_config(ROOT / "experiments" / "scifact-indomain-500.yaml")
    summary = _committed_summary(config)
    assert "more than one machine" not in render_markdown(summary, config, None)
    summary["eval_machines"] = eval_machines(mixed)
    text = render_markdown(summary, config, None)
    assert (
        "- **scifact: evaluations possibly from more than one machine** (1 recorded machine, 1 evaluation(s) made"
        in text
    )
    assert "bf16 scores of one model differ across machines" in text
    assert "--gain-over zero-shot" in text


def test_a_dense_evaluation_records_its_cpu(tiny_beir: Path, tmp_path: Path) -> None:
    from synthneg.evaluate import evaluate
    from synthneg.search.dense import cpu_signature

    from conftest import tiny_sentence_transformer

    model = tiny_sentence_transformer(tmp_path / "enc", ["plants", "glucose", "black", "hole", "bread", "yeast"])
    res = evaluate(str(model), tiny_beir, show_progress=False, cache=False)
    assert res.timing["cpu"] == cpu_signature()
    if res.timing["cpu"] is not None:  # None off Linux
        assert res.timing["cpu"].endswith(("(amx)", "(avx512_bf16)", "(no-bf16)"))
    assert "cpu" not in evaluate("bm25", tiny_beir, show_progress=False).timing  # BM25 is exact on any machine


def test_the_machine_is_the_gpu_when_torch_has_one_else_the_cpu(monkeypatch) -> None:
    """Fine-tunes record ``machine_signature()``; an encoder on the CPU names no accelerator."""
    import torch

    from synthneg.search.dense import DenseEncoder, cpu_signature, machine_signature

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert machine_signature() == cpu_signature()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "NVIDIA H200")
    assert machine_signature() == "NVIDIA H200 (cuda)"
    encoder = DenseEncoder(show_progress=False, device="cpu")
    assert encoder.accelerator is None  # not loaded yet
    encoder.encode(["a short text"])
    assert encoder.accelerator is None  # loaded on the CPU


def test_the_training_line_names_the_runs_loss() -> None:
    """The committed symmetric-loss run states its loss; a run with the default states MNRL."""
    from synthneg.experiment.curve import point_config

    line = "- Training: 1.0 epoch(s), batch 32, lr 2e-05, max_seq_length 256, {}, NO_DUPLICATES; seeds [0, 1, 2]."
    for name, loss in (
        ("k2-symmetric", "MultipleNegativesSymmetricRankingLoss"),
        ("k2", "MultipleNegativesRankingLoss"),
    ):
        config = point_config(load_config(ROOT / "experiments" / f"scifact-indomain-curve-cpu-{name}.yaml"), 500)
        text = render_markdown(_committed_summary(config), config, None)
        assert line.format(loss) in text.splitlines()
    # a step cap (train.max_steps) is stated beside the epochs
    capped = config.model_copy(update={"train": config.train.model_copy(update={"max_steps": 30})})
    text = render_markdown(_committed_summary(capped), capped, None)
    assert "- Training: 1.0 epoch(s), at most 30 steps, batch 32, lr 2e-05," in text


def test_the_cost_table_gives_llm_calls_and_tokens_per_triple_from_the_committed_stages() -> None:
    """The margin run: the verified arm's 2,968 calls (queries, rewrites, passages) over its 166 triples, beside its
    BM25 control's 533 query calls over the same 166 queries; in-batch has no triple, so no figure."""
    from synthneg.experiment.report import costs

    config = load_config(ROOT / "experiments" / "scifact-indomain-500-verified-margin.yaml")
    stages = json.loads((config.output_dir / "stages.json").read_text(encoding="utf-8"))
    summary = _committed_summary(config)
    summary["costs"] = costs(stages, config)
    verified, control = summary["costs"]["llm-query-verified"], summary["costs"]["bm25-matched-verified"]
    assert verified["triples"] == control["triples"] == stages["negatives:llm-query-verified"]["triples"] == 166
    text = render_markdown(summary, config, None)
    per = f"{verified['llm_calls'] / 166:.1f} / {verified['llm_tokens'] / 166:,.0f}"
    assert f"| llm-query-verified | {verified['llm_calls']} | {verified['llm_tokens']} | {per} |" in text
    assert f"| bm25-matched-verified | 533 | {control['llm_tokens']} | {533 / 166:.1f} / " in text
    assert f"| in-batch | 533 | {control['llm_tokens']} | - |" in text
