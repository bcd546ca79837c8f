"""``synthneg experiment CONFIG.yaml``: the whole comparison, cached and resumable."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markdown import Markdown


def register(app: typer.Typer) -> None:
    @app.command("experiment")
    def experiment(
        config: Path = typer.Argument(..., help="Experiment YAML (see docs/experiment.md)."),
        report_only: bool = typer.Option(False, "--report-only", help="Only rebuild the report from finished stages."),
        no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
        arm: list[str] = typer.Option(
            [], "--arm", help="Run only this arm of the config now (repeatable); the report lists the rest as pending."
        ),
        seed: list[int] = typer.Option([], "--seed", help="Run only this seed of the config now (repeatable)."),
    ) -> None:
        """Generate queries and negatives per arm, fine-tune per seed, evaluate on BEIR, write the report.

        Every stage is cached: rerunning after a crash, or with one more arm or seed, redoes nothing finished.
        """
        from synthneg.errors import SynthnegError
        from synthneg.experiment import load_config, run_experiment, write_report

        cfg = load_config(config)
        if report_only:
            if arm or seed:
                raise SynthnegError("--report-only rebuilds the whole report; it takes no --arm or --seed")
            path = write_report(cfg.output_dir, cfg)
        else:
            path = run_experiment(cfg, show_progress=not no_progress, only_arms=arm, only_seeds=seed) / "report.md"
        Console().print(Markdown(path.read_text(encoding="utf-8").split("## Diagnostics")[0]))
        Console(stderr=True).print(f"report: {path}")
