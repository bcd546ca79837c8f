"""``synthneg mine bm25|dense|ce`` and ``synthneg mine beir-pairs``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from synthneg.atomic import check_writable
from synthneg.cli.options import (
    CorpusOpt,
    EncoderOptions,
    IdField,
    Out,
    Queries,
    TextField,
    encoder_options,
    load_corpus_spec,
    option_groups,
    selection_options,
)

if TYPE_CHECKING:
    from synthneg.data.triples import Triple
    from synthneg.mine.filters import SelectionConfig

logger = logging.getLogger(__name__)


def _done(triples: list[Triple], out: Path) -> None:
    from synthneg.data.triples import write_triples

    write_triples(triples, out)
    typer.echo(f"wrote {len(triples)} triples to {out}")


@option_groups(selection=selection_options)
def bm25_command(
    queries: Queries,
    corpus: CorpusOpt,
    out: Out,
    selection: SelectionConfig,
    id_field: IdField = None,
    text_field: TextField = None,
) -> None:
    """BM25 hard negatives (default: the top non-positive hit, the paper's BM25 HN)."""
    from synthneg.data.triples import read_query_records
    from synthneg.mine.bm25 import mine_bm25

    check_writable(out)
    corp = load_corpus_spec(corpus, id_field, text_field)
    _done(mine_bm25(read_query_records(queries), corp, selection, show_progress=True), out)


@option_groups(selection=selection_options, enc=encoder_options)
def dense_command(
    queries: Queries,
    corpus: CorpusOpt,
    out: Out,
    selection: SelectionConfig,
    enc: EncoderOptions,
    model: Annotated[
        str, typer.Option("--model", "-m", help="'minilm' (embedded) or a sentence-transformers name/path.")
    ] = "minilm",
    rankings: Annotated[
        Path | None,
        typer.Option(
            metavar="JSONL",
            help="Keep each query's ranking (ids and scores, no text) in this store: a rerun, on any machine, "
            "encodes nothing and picks the same negatives.",
        ),
    ] = None,
    id_field: IdField = None,
    text_field: TextField = None,
) -> None:
    """Dense hard negatives with a bi-encoder, reusing the evaluator's embedding cache."""
    from synthneg.data.triples import read_query_records
    from synthneg.mine.dense import mine_dense
    from synthneg.search.dense import DenseEncoder

    encoder = DenseEncoder(
        model,
        enc.query_prefix,
        enc.passage_prefix,
        batch_size=enc.batch_size,
        cache=enc.cache,
        precision=enc.precision,  # type: ignore[arg-type]  # checked by encoder_options
        backend=enc.encoder,  # type: ignore[arg-type]
    )
    check_writable(out)
    corp = load_corpus_spec(corpus, id_field, text_field)
    triples = mine_dense(
        read_query_records(queries),
        corp,
        selection,
        encoder=encoder,
        backend=enc.backend,
        show_progress=True,
        store=rankings,
    )
    _done(triples, out)


@option_groups({"absolute_margin": 0.0}, selection=selection_options)
def ce_command(
    queries: Queries,
    corpus: CorpusOpt,
    out: Out,
    selection: SelectionConfig,
    scorer: Annotated[
        str,
        typer.Option(help="'llm' (embedded Qwen 0.5B reranker), 'llm:<name or .gguf>', or a CrossEncoder name/path."),
    ] = "llm",
    first_stage: Annotated[str, typer.Option(help="Candidate source: 'bm25' or 'dense' (embedded MiniLM).")] = "bm25",
    candidates: Annotated[int, typer.Option(help="First-stage candidates re-scored per query.")] = 30,
    id_field: IdField = None,
    text_field: TextField = None,
) -> None:
    """Cross-encoder hard negatives: the best re-scored candidate below the positive's score minus a margin."""
    from synthneg.data.triples import read_query_records
    from synthneg.errors import SynthnegError
    from synthneg.mine.cross_encoder import load_scorer, mine_ce

    if first_stage not in ("bm25", "dense"):
        raise SynthnegError(f"--first-stage must be 'bm25' or 'dense', got {first_stage!r}")
    check_writable(out)
    corp = load_corpus_spec(corpus, id_field, text_field)
    triples = mine_ce(
        read_query_records(queries),
        corp,
        load_scorer(scorer, show_progress=True),
        selection,
        first_stage=first_stage,
        candidates=candidates,
        show_progress=True,
    )
    _done(triples, out)


def beir_pairs_command(
    dataset: Annotated[str, typer.Argument(help="BEIR name or folder.")],
    out: Out,
    split: Annotated[str, typer.Option(help="qrels split.")] = "train",
    limit: Annotated[int | None, typer.Option(help="Keep the first N pairs.")] = None,
) -> None:
    """Write a BEIR split's labeled (query, positive) pairs as query records (stand-in queries)."""
    import json
    from dataclasses import asdict

    from synthneg.data import load_beir, resolve_dataset
    from synthneg.mine.common import records_from_beir

    path = Path(dataset)
    ds = load_beir(path if path.is_dir() else resolve_dataset(dataset), split)
    records = records_from_beir(ds.corpus, ds.queries, ds.qrels)[:limit]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(asdict(r), ensure_ascii=False) + "\n")
    typer.echo(f"wrote {len(records)} query records to {out}")


def register(app: typer.Typer) -> None:
    mine_app = typer.Typer(help="Mine hard negatives from a corpus: BM25, dense, cross-encoder.", no_args_is_help=True)
    app.add_typer(mine_app, name="mine")
    mine_app.command("bm25")(bm25_command)
    mine_app.command("dense")(dense_command)
    mine_app.command("ce")(ce_command)
    mine_app.command("beir-pairs")(beir_pairs_command)
