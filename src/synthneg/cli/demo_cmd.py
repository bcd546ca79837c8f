"""``synthneg demo``: the README's main job. The whole pipeline on a small slice with the embedded
defaults: LLM queries and negatives, BM25 mining, MiniLM fine-tuning, BEIR evaluation and the report."""

from __future__ import annotations

from pathlib import Path

import typer

from synthneg.console import stderr_console

DEMO_ARMS = ["zero-shot", "in-batch", "bm25", "llm-query", "llm-query-positive"]


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        passages: int = typer.Option(20, help="How many of the packaged arXiv passages to use (max 60)."),
        out: Path = typer.Option(Path("demo-output"), help="Output folder (reruns resume and reuse LLM calls)."),
        dataset: str = typer.Option("scifact", help="BEIR dataset to evaluate on."),
        corpus_sample: int = typer.Option(
            1500, help="Evaluate on the judged documents plus a sample up to this many (0 = the full corpus)."
        ),
        llm: str = typer.Option("qwen2.5-coder-0.5b", help="Embedded LLM name or a .gguf path."),
        parallel: int = typer.Option(4, help="Sequences the LLM decodes together."),
    ) -> None:
        """Run the whole pipeline on a small slice and print the report (about 10 minutes on 2 cores).

        Arms: zero-shot MiniLM, in-batch negatives only, BM25 negatives, and LLM negatives written from
        the query alone (the paper's method) or from the query and its positive. One seed, one epoch.
        A demo shows the machinery end to end: with 20 training queries the differences are noise.
        """
        from synthneg.demo import DEMO_PASSAGES
        from synthneg.experiment import run_experiment
        from synthneg.experiment.config import (
            EvalConfig,
            ExperimentConfig,
            LLMConfig,
            PassagesConfig,
            TrainSettings,
        )

        config = ExperimentConfig(
            name="synthneg demo",
            output_dir=out,
            passages=PassagesConfig(path=DEMO_PASSAGES, text_field="abstract", limit=min(passages, 60)),
            llm=LLMConfig(model=llm, parallel=parallel),
            train=TrainSettings(batch_size=8, max_seq_length=128),
            eval=EvalConfig(datasets=[dataset], corpus_sample=corpus_sample or None),
            seeds=[0],
            arms=DEMO_ARMS,  # type: ignore[arg-type]
            significance_resamples=2000,
        )
        report = run_experiment(config) / "report.md"
        from synthneg.experiment.terminal import print_results

        print_results(report.parent)
        stderr_console().print(f"full report (every metric, 95% CIs, costs, diagnostics): {report}")
