"""``synthneg experiment CONFIG.yaml``: the whole comparison, cached and resumable."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from synthneg.console import stderr_console, stdout_console

if TYPE_CHECKING:
    from synthneg.experiment.config import ExperimentConfig


def experiment(
    config: Path = typer.Argument(..., help="Experiment YAML (see docs/experiment.md)."),
    report_only: bool = typer.Option(False, "--report-only", help="Only rebuild the report from finished stages."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
    arm: list[str] = typer.Option(
        [], "--arm", help="Run only this arm of the config now (repeatable); the report lists the rest as pending."
    ),
    seed: list[int] = typer.Option([], "--seed", help="Run only this seed of the config now (repeatable)."),
    status: bool = typer.Option(
        False, "--status", help="Show every stage, done or pending, and run nothing (no model is loaded)."
    ),
) -> None:
    """Generate queries and negatives per arm, fine-tune per seed, evaluate on BEIR, write the report.

    Every stage is cached: rerunning after a crash, or with one more arm or seed, redoes nothing finished.
    """
    from synthneg.errors import SynthnegError
    from synthneg.experiment import load_config, run_experiment, write_report
    from synthneg.experiment.curve import started_points

    cfg = load_config(config)
    if status:
        if report_only or arm or seed:
            raise SynthnegError("--status shows the whole run; it takes no --report-only, --arm or --seed")
        points = started_points(cfg)
        if points and not cfg.output_dir.joinpath("stages.json").is_file():  # not a run: a curve's points
            stderr_console().print(
                f"{cfg.output_dir} holds the points of a learning curve ({', '.join(f'n{n}' for n in points)}), "
                f"not a run: `synthneg curve {config} --status` shows theirs",
                highlight=False,
                soft_wrap=True,
            )
            return
        _print_status(cfg)
        return
    if report_only:
        if arm or seed:
            raise SynthnegError("--report-only rebuilds the whole report; it takes no --arm or --seed")
        path = write_report(cfg.output_dir, cfg)
    else:
        path = run_experiment(cfg, show_progress=not no_progress, only_arms=arm, only_seeds=seed) / "report.md"
    from synthneg.experiment.terminal import print_results

    print_results(path.parent)
    stderr_console().print(f"full report (every metric, 95% CIs, costs, diagnostics): {path}")


def curve(
    config: Path = typer.Argument(..., help="Experiment YAML; its passages are sampled at each size."),
    sizes: list[int] = typer.Option(
        [],
        "--sizes",
        help="Passage counts, one point each (repeat: --sizes 500 ...); with --status, the points already started.",
    ),
    report_only: bool = typer.Option(False, "--report-only", help="Only redraw curve.md/curve.png from the points."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
    calls_from: list[Path] = typer.Option(
        [],
        "--calls-from",
        help="A generation/ folder of an earlier run on the same corpus whose finished LLM calls the points "
        "reuse (repeatable); the points always share theirs.",
    ),
    arm: list[str] = typer.Option(
        [], "--arm", help="Run only this arm at each point now (repeatable); the reports list the rest as pending."
    ),
    seed: list[int] = typer.Option([], "--seed", help="Run only this seed at each point now (repeatable)."),
    own_references: bool = typer.Option(
        False, "--own-references", help="Redo zero-shot and labeled at every point instead of copying another point's."
    ),
    status: bool = typer.Option(
        False, "--status", help="Show every stage of each point, done or pending, and run nothing."
    ),
) -> None:
    """The learning curve: the experiment at several passage counts, nDCG@10 against passages (curve.md, .png).

    Each point is a cached run in <output_dir>/n<N>/ with every arm, its gains over its own references (zero-shot,
    labeled; copied from another point that made them under the same keys, machine and software)."""
    from synthneg.errors import SynthnegError
    from synthneg.experiment import load_config
    from synthneg.experiment.curve import run_curve, started_points, write_curve
    from synthneg.locking import exclusive_folder

    cfg = load_config(config)
    if status:
        if report_only or arm or seed or calls_from:
            raise SynthnegError("--status shows every point; it takes no --report-only, --arm, --seed or --calls-from")
        _print_curve_status(cfg, sizes, not own_references)
        return
    if not sizes:
        raise SynthnegError("name the curve's points: --sizes 500 --sizes 2000 ...")
    with exclusive_folder(cfg.output_dir, what="curve folder"):
        path = (
            write_curve(cfg, sorted({*sizes, *started_points(cfg)}))
            if report_only
            else run_curve(
                cfg,
                sizes,
                show_progress=not no_progress,
                calls_from=calls_from,
                only_arms=arm,
                only_seeds=seed,
                share_refs=not own_references,
            )
        )
    stderr_console().print(f"learning curve: {path} and {path.with_suffix('.png')}")


def _print_curve_status(cfg: ExperimentConfig, sizes: list[int], share_refs: bool) -> None:
    """``curve --status``: each named point's stages, or each point started under the config's folder; with
    ``share_refs``, the references another point made here are shown as to be copied."""
    from synthneg.errors import SynthnegError
    from synthneg.experiment.curve import point_config, started_points
    from synthneg.experiment.references import share_references

    points = sizes or started_points(cfg)
    if not points:
        raise SynthnegError(f"no curve point under {cfg.output_dir} yet: name the points with --sizes")
    siblings = [cfg.output_dir / f"n{n}" for n in started_points(cfg)]
    for size in points:
        point = point_config(cfg, size)
        _print_status(point, share_references(point, siblings, dry_run=True) if share_refs else [], siblings)


def register(app: typer.Typer) -> None:
    app.command("experiment")(experiment)
    app.command("curve")(curve)


def _print_status(cfg: ExperimentConfig, copied: Sequence[str] = (), siblings: Sequence[Path] = ()) -> None:
    """The stages table and the pending work's estimate (a curve point without finished stages of its own: from
    the other points' fine-tunes on this machine, ``siblings``)."""
    from rich.table import Table

    from synthneg.experiment.runner import ExperimentRunner
    from synthneg.experiment.status import run_status, sibling_estimate

    st = run_status(ExperimentRunner(cfg, show_progress=False), copied)
    table = Table(title=f"{cfg.name}: {st.done} of {len(st.stages)} stages done")
    table.add_column("stage", no_wrap=True)
    table.add_column("state")
    table.add_column("detail")
    for s in st.stages:
        table.add_row(s.stage, "[green]done[/]" if s.done else "[yellow]pending[/]", s.detail)
    console = stdout_console()
    console.print(table)
    if st.pending_eval:
        eta = (
            f"about {st.estimate_s / 60:.0f} min (medians of this run's finished stages)"
            if st.estimate_s is not None
            else "no estimate yet (no finished stage of this kind in this run)"
        )
        guess = sibling_estimate(cfg, siblings, st.pending_arms) if st.estimate_s is None and siblings else None
        if guess is not None:
            eta = f"about {guess / 3600:.1f} h (estimated from other points' fine-tunes here, scaled by passages)"
        console.print(
            f"Pending: {st.pending_train} fine-tune(s) and {st.pending_eval} evaluation(s) over "
            f"{len(cfg.eval.datasets)} dataset(s): {eta}; data stages are not estimated."
        )
