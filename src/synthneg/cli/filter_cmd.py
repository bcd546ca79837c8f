"""``synthneg filter-queries``: keep the generated queries that their own passage answers best (no labels read)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from synthneg.generate.query_filters import QueryFilter


def _share_option(flag: str, help: str) -> Any:
    """An optional share in [0, 1] (0 or unset: the rule is off)."""
    return typer.Option(flag, min=0.0, max=1.0, help=f"{help} (0 or unset: off).")


MaxLeadOverlap = Annotated[
    float | None,
    _share_option(
        "--max-lead-overlap",
        "Reject a query that takes at least this share of its terms from its passage's title or first sentence "
        "(e.g. 0.7)",
    ),
]
MaxSiblingOverlap = Annotated[
    float | None,
    _share_option(
        "--max-sibling-overlap",
        "With k > 1 queries per passage: reject a query whose terms overlap a kept query of the same passage by at "
        "least this Jaccard share (e.g. 0.8)",
    ),
]
EasyDenseK = Annotated[
    int,
    typer.Option(
        "--easy-dense-k",
        min=0,
        help="Reject a query whose passage the zero-shot encoder (--model) already ranks in its top k: the base "
        "model answers it, so it teaches in-batch training little (0: off).",
    ),
]
JudgeMinScore = Annotated[
    float | None,
    typer.Option(
        "--judge-min-score",
        help="Reject a query that the judge (--judge) scores under this against its own passage (the LLM "
        "reranker's logit(yes) - logit(no): 0 is an even yes/no; unset: off). Runs on the queries the other rules "
        "keep; scores are cached.",
    ),
]
JudgeModel = Annotated[
    str, typer.Option("--judge", help="The judge: llm, llm:<embedded name or .gguf>, or a CrossEncoder name or path.")
]


def register(app: typer.Typer) -> None:
    @app.command("filter-queries")
    def filter_queries_command(
        queries: Path = typer.Option(
            ..., "--queries", "-q", help="Query records (queries.jsonl of `synthneg queries`)."
        ),
        passages: str = typer.Option(
            ..., "--passages", "-c", help="The passage collection: a passage file, BEIR folder or BEIR name."
        ),
        out: Path = typer.Option(
            ..., "--out", "-o", help="The kept query records (JSONL); scores in <out>.filter.jsonl."
        ),
        round_trip_k: int = typer.Option(
            1, "--round-trip-k", min=0, help="Keep a query whose passage ranks in the top k for it (0: no round trip)."
        ),
        retriever: str = typer.Option("bm25", "--retriever", help="Ranker of the round trip: bm25 or dense."),
        model: str = typer.Option("minilm", "--model", "-m", help="dense: the zero-shot encoder."),
        content_word: bool = typer.Option(
            True, "--content-word/--no-content-word", help="Reject a query with no content word of its passage."
        ),
        min_passage_words: int = typer.Option(0, "--min-passage-words", min=0, help="Skip shorter passages."),
        max_lead_overlap: MaxLeadOverlap = None,
        max_sibling_overlap: MaxSiblingOverlap = None,
        easy_dense_k: EasyDenseK = 0,
        judge_min_score: JudgeMinScore = None,
        judge_model: JudgeModel = "llm",
        id_field: str | None = typer.Option(None, "--id-field", help="Id field of the passage file (default: auto)."),
        text_field: str | None = typer.Option(None, "--text-field", help="Text field of the passage file."),
    ) -> None:
        """Round-trip, generic-query, lead-copy, sibling-copy, easy-query and judge filters for generated queries; every
        query's scores and verdict are kept."""
        from synthneg.errors import SynthnegError
        from synthneg.generate.query_filters import QueryFilter

        if retriever not in ("bm25", "dense"):
            raise SynthnegError(f"--retriever must be 'bm25' or 'dense', got {retriever!r}")
        config = QueryFilter(
            round_trip_k=round_trip_k or None,
            retriever=retriever,  # type: ignore[arg-type]
            require_content_word=content_word,
            min_passage_words=min_passage_words,
            max_lead_overlap=max_lead_overlap or None,
            max_sibling_overlap=max_sibling_overlap or None,
            easy_dense_k=easy_dense_k or None,
            judge_min_score=judge_min_score,
            judge_model=judge_model,
        )
        _filter(queries, (passages, id_field, text_field), out, config, model)


def _filter(
    queries: Path, passages: tuple[str, str | None, str | None], out: Path, config: QueryFilter, model: str
) -> None:
    """Filter the records of ``queries`` against the collection ``passages`` (spec, id field, text field); write
    the kept ones to ``out`` and every query's scores and verdict beside it."""
    from dataclasses import asdict

    from synthneg.atomic import check_writable, write_jsonl
    from synthneg.cli.options import load_corpus_spec
    from synthneg.data.triples import read_query_records
    from synthneg.generate.query_filters import filter_queries, judge_for

    records = read_query_records(queries)
    check_writable(out)
    corpus = load_corpus_spec(*passages)
    encoder = None
    if config.needs_encoder:
        from synthneg.search.dense import DenseEncoder

        encoder = DenseEncoder(model)
    with judge_for(config, show_progress=True) as judge:
        result = filter_queries(records, corpus, config, encoder=encoder, judge=judge)
    write_jsonl(result.rows, out.with_name(out.name + ".filter.jsonl"))
    write_jsonl((asdict(r) for r in result.kept), out)
    counts = result.counts()
    rejected = ", ".join(f"{k} {v}" for k, v in counts.items() if k != "kept") or "none"
    Console(stderr=True).print(f"kept {counts['kept']} of {len(records)} queries; rejected: {rejected}")
    typer.echo(out)
