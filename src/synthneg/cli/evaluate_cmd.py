"""``synthneg evaluate``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from synthneg.evaluate import DEFAULT_METRICS, EvaluationResult


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


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate_command(
        model: str = typer.Option(
            "minilm",
            "--model",
            "-m",
            help="'bm25', 'minilm' (embedded) or a sentence-transformers name/path.",
        ),
        dataset: list[str] = typer.Option(
            ["scifact"], "--dataset", "-d", help="BEIR name or folder; repeat for several."
        ),
        split: str = typer.Option("test", help="qrels split."),
        data_dir: Path | None = typer.Option(
            None, help="Folder holding BEIR datasets (else $SYNTHNEG_DATA, ../shared/data, download)."
        ),
        run: Path | None = typer.Option(None, help="Evaluate this TREC run file instead of a model."),
        query_prefix: str = typer.Option("", help="Prepended to queries (E5: 'query: ')."),
        passage_prefix: str = typer.Option("", help="Prepended to passages (E5: 'passage: ')."),
        normalize: bool = typer.Option(True, help="L2-normalise embeddings (cosine)."),
        batch_size: int = typer.Option(64, help="Encoding batch size."),
        max_seq_length: int | None = typer.Option(None, help="Truncate inputs to this many tokens."),
        k: int = typer.Option(100, help="Retrieval depth."),
        backend: str = typer.Option("exact", help="'exact' (chunked matrix product) or 'faiss'."),
        precision: str = typer.Option(
            "fp32", help="'fp32' or 'bf16' (bfloat16 autocast: faster on CPUs with AVX512-BF16/AMX)."
        ),
        encoder: str = typer.Option(
            "torch",
            "--encoder",
            help="'torch' (sentence-transformers) or 'openvino' (the same weights without torch: about half "
            "the memory; converted once and cached; pip install 'synthneg[openvino]').",
        ),
        no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the corpus embedding cache."),
        output: Path | None = typer.Option(
            None, "--output", "-o", help="Write results JSON here (one dataset) or a list (several)."
        ),
        save_run: Path | None = typer.Option(None, help="Write the TREC run here (one dataset only)."),
    ) -> None:
        """Evaluate a retriever on BEIR: nDCG@10, P@10, R@100, MAP@100, MRR@10 (trec_eval semantics)."""

        from synthneg.errors import SynthnegError
        from synthneg.evaluate import evaluate
        from synthneg.search.dense import ENCODER_BACKENDS, PRECISIONS

        if backend not in ("exact", "faiss"):
            raise SynthnegError(f"--backend must be 'exact' or 'faiss', got {backend!r}")
        if precision not in PRECISIONS:
            raise SynthnegError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if encoder not in ENCODER_BACKENDS:
            raise SynthnegError(f"--encoder must be one of {', '.join(ENCODER_BACKENDS)}, got {encoder!r}")
        if len(dataset) > 1 and (save_run or run):
            raise SynthnegError("--save-run and --run take a single --dataset")
        from synthneg.atomic import check_writable, write_json

        check_writable(output, save_run)
        results = []
        for ds in dataset:
            results.append(
                evaluate(
                    model,
                    ds,
                    split=split,
                    data_dir=data_dir,
                    run=run,
                    k=k,
                    query_prefix=query_prefix,
                    passage_prefix=passage_prefix,
                    normalize=normalize,
                    batch_size=batch_size,
                    max_seq_length=max_seq_length,
                    backend=backend,  # type: ignore[arg-type]
                    precision=precision,  # type: ignore[arg-type]
                    encoder=encoder,  # type: ignore[arg-type]
                    cache=not no_cache,
                    save_run=save_run,
                )
            )
        Console().print(results_table(results))
        if output is not None:
            payload = results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results]
            write_json(output, payload, sort_keys=False)
