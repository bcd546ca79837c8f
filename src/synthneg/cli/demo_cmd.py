"""``synthneg demo``: the README's main job on embedded defaults."""

from __future__ import annotations

import typer
from rich.console import Console


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        dataset: str = typer.Option("scifact", help="BEIR dataset to evaluate on."),
    ) -> None:
        """Evaluate the embedded MiniLM and BM25 on a BEIR test split and print the table."""
        from synthneg.cli.evaluate_cmd import results_table
        from synthneg.evaluate import evaluate

        results = [evaluate(m, dataset) for m in ("bm25", "minilm")]
        Console().print(results_table(results, title=f"synthneg demo: zero-shot retrieval on {dataset} test"))
