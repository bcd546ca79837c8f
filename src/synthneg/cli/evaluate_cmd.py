"""``synthneg evaluate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from synthneg.cli.options import EncoderOptions, encoder_options, option_groups
from synthneg.console import stdout_console
from synthneg.evaluate import DEFAULT_METRICS, EvaluationResult

_DEFAULT_DATASETS = ["scifact"]  # typer copies it for each call


def results_table(results: list[EvaluationResult], title: str = "Retrieval quality") -> Table:
    """A rich table: one row per (dataset, model), one column per metric."""
    metrics = list(results[0].metrics) if results else list(DEFAULT_METRICS)
    table = Table(title=title)
    table.add_column("dataset")
    table.add_column("split")
    table.add_column("model")
    for m in metrics:
        table.add_column(m, justify="right")
    table.add_column("time (s)", justify="right")
    for r in results:
        table.add_row(
            r.dataset,
            r.split,
            r.model,
            *(f"{r.metrics[m]:.4f}" for m in metrics),
            f"{r.timing['total_s']:.1f}",
        )
    return table


@option_groups(enc=encoder_options)
def evaluate_command(
    enc: EncoderOptions,
    model: Annotated[
        str, typer.Option("--model", "-m", help="'bm25', 'minilm' (embedded) or a sentence-transformers name/path.")
    ] = "minilm",
    dataset: Annotated[
        list[str], typer.Option("--dataset", "-d", help="BEIR name or folder; repeat for several.")
    ] = _DEFAULT_DATASETS,
    split: Annotated[str, typer.Option(help="qrels split.")] = "test",
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder holding BEIR datasets (else $SYNTHNEG_DATA, ../shared/data, download).")
    ] = None,
    run: Annotated[Path | None, typer.Option(help="Evaluate this TREC run file instead of a model.")] = None,
    normalize: Annotated[bool, typer.Option(help="L2-normalise embeddings (cosine).")] = True,
    max_seq_length: Annotated[int | None, typer.Option(help="Truncate inputs to this many tokens.")] = None,
    k: Annotated[int, typer.Option(help="Retrieval depth.")] = 100,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write results JSON here (one dataset) or a list (several).")
    ] = None,
    save_run: Annotated[Path | None, typer.Option(help="Write the TREC run here (one dataset only).")] = None,
) -> None:
    """Evaluate a retriever on BEIR: nDCG@10, P@10, R@100, MAP@100, MRR@10 (trec_eval semantics)."""
    from synthneg.atomic import check_writable, write_json
    from synthneg.errors import SynthnegError
    from synthneg.evaluate import evaluate

    if len(dataset) > 1 and (save_run or run):
        raise SynthnegError("--save-run and --run take a single --dataset")
    check_writable(output, save_run)
    results = [
        evaluate(
            model,
            ds,
            split=split,
            data_dir=data_dir,
            run=run,
            k=k,
            query_prefix=enc.query_prefix,
            passage_prefix=enc.passage_prefix,
            normalize=normalize,
            batch_size=enc.batch_size,
            max_seq_length=max_seq_length,
            backend=enc.backend,  # type: ignore[arg-type]  # checked by encoder_options
            precision=enc.precision,  # type: ignore[arg-type]
            encoder=enc.encoder,  # type: ignore[arg-type]
            cache=enc.cache,
            save_run=save_run,
        )
        for ds in dataset
    ]
    stdout_console().print(results_table(results))
    if output is not None:
        payload = results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results]
        write_json(output, payload, sort_keys=False)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_command)
