"""``synthneg inspect``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from synthneg.data.triples import Triple


def inspect_command(
    triples: Annotated[list[Path], typer.Argument(help="Triples files (.jsonl[.gz] / .parquet); several merge.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for report.md and histograms.png.")] = Path(
        "inspect"
    ),
    model: Annotated[
        str, typer.Option("--model", "-m", help="Bi-encoder for dense hardness ('none' to skip).")
    ] = "minilm",
    reranker: Annotated[
        str,
        typer.Option(help="Scorer for the false-negative estimate: 'llm', a CrossEncoder name/path, or 'none'."),
    ] = "llm",
    scores: Annotated[
        Path | None,
        typer.Option(
            help="LLM reranker score store to read and extend (SQLite, or the .jsonl an experiment's CE arm "
            "writes); default: the user cache."
        ),
    ] = None,
    fn_sample: Annotated[int, typer.Option(help="Triples per method judged by the reranker.")] = 30,
    fn_margin: Annotated[float, typer.Option(help="Negative counts as false if score >= positive - margin.")] = 0.0,
    dense_sample: Annotated[int, typer.Option(help="Triples per method encoded for hardness.")] = 1000,
    first_queries: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Keep only the first N query ids of the first file, in every file (the same queries per method).",
        ),
    ] = None,
    examples: Annotated[int, typer.Option(help="Examples per method in the report.")] = 2,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
) -> None:
    """Diagnose negatives per method: lengths, overlap, hardness, duplicates, false-negative rate; markdown + PNG."""
    from synthneg.diagnostics import inspect_triples, plot_histograms, render_markdown

    rows = _read(triples, first_queries)
    encoder, scorer = _models(model, reranker, scores)
    reports = inspect_triples(
        rows,
        encoder=encoder,
        reranker=scorer,
        fn_sample=fn_sample,
        fn_margin=fn_margin,
        dense_sample=dense_sample,
        n_examples=examples,
        seed=seed,
    )
    out.mkdir(parents=True, exist_ok=True)
    png = plot_histograms(reports, out / "histograms.png")
    md = render_markdown(reports, plot_name=png.name)
    (out / "report.md").write_text(md, encoding="utf-8")
    typer.echo(md.split("\n## Examples")[0])
    typer.echo(f"wrote {out / 'report.md'} and {png}")


def _models(model: str, reranker: str, scores: Path | None) -> tuple[Any, Any]:
    """The bi-encoder for dense hardness and the scorer for the false-negative estimate ('none': skipped)."""
    from synthneg.errors import SynthnegError

    encoder = scorer = None
    if model != "none":
        from synthneg.search.dense import DenseEncoder

        encoder = DenseEncoder(model, show_progress=False)
    if reranker != "none":
        from synthneg.mine.cross_encoder import is_llm_scorer, load_scorer

        if scores is not None and not is_llm_scorer(reranker):
            raise SynthnegError("--scores is the LLM reranker's score store; a CrossEncoder runs uncached")
        scorer = load_scorer(reranker, show_progress=True, cache=scores if scores is not None else True)
    return encoder, scorer


def _read(paths: list[Path], first_queries: int | None) -> list[Triple]:
    """Every file's triples, merged; with ``first_queries``, only the first N query ids of the first file."""
    from synthneg.data.triples import read_triples

    per_file = [read_triples(path, skip_pairs=True) for path in paths]  # a mixed file: its triples
    if first_queries is not None:
        chosen = set(list(dict.fromkeys(t.query_id for t in per_file[0]))[:first_queries])
        per_file = [[t for t in rows if t.query_id in chosen] for rows in per_file]
    return [t for rows in per_file for t in rows]


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect_command)
