"""``synthneg queries`` and ``synthneg negatives llm``: the LLM generation stages."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import typer

from synthneg.cli.options import LLMOptions, RunOptions, llm_options, option_groups, run_options
from synthneg.console import log_to_folder, stderr_console
from synthneg.locking import exclusive_folder

logger = logging.getLogger(__name__)


def _near_miss(
    records: Any,
    rewriter: Any,
    writer: Any,
    out: Path,
    verify: Verify,
    candidates: int,
    run: RunOptions,
    max_tokens: int,
    rewrite: str,
) -> Any:
    """``negatives llm --strategy near-miss``: with ``--judge``, the judge and MiniLM's hardness verify the candidates
    (``verify``: the judge, its margin, the encoder's relative margin and the drift's floor and ceiling)."""
    from synthneg.generate.near_miss import REWRITE_SAMPLING, DriftRules, generate_near_miss_negatives

    judge, judge_margin, relative_margin, drift_floor, drift_ceiling = verify
    scorer, encode = None, None
    if judge is not None:
        from synthneg.mine.cross_encoder import load_scorer
        from synthneg.search.dense import DenseEncoder

        scorer = load_scorer(judge, show_progress=run.progress, cache=out / "judge.scores.jsonl")
        encode = DenseEncoder("minilm", show_progress=False).encode
    try:
        return generate_near_miss_negatives(
            records,
            rewriter,
            writer,
            out,
            candidates=candidates,
            drift=DriftRules(min_similarity=drift_floor, max_similarity=drift_ceiling),
            judge=scorer,
            judge_margin=judge_margin,
            relative_margin=relative_margin,
            encode=encode,
            method="llm-query-verified" if judge is not None else "llm-near-miss",
            rewrite=rewrite,
            rewrite_sampling=run.sampling(REWRITE_SAMPLING.max_tokens),
            passage_sampling=run.sampling(max_tokens),
            max_attempts=run.max_attempts,
            seed=run.seed,
            force=run.force,
            show_progress=run.progress,
        )
    finally:
        close = getattr(scorer, "close", None)
        if callable(close):
            close()


REWRITE_HELP = (
    "near-miss step 1: free (the LLM rewrites the query, replacing a gene, drug, disease ... term), neutral (the "
    "same for any field: a related term from the query's own field) or swap (it names 'term => sibling' and the "
    "term is replaced in the query, the rest kept word for word)."
)
JUDGE_HELP = (
    "near-miss: verify with this judge ('llm', 'llm:<name>' or a CrossEncoder): a candidate it finds answering the "
    "original query is refused, and the hardest accepted one (MiniLM) is kept."
)
RELATIVE_MARGIN_HELP = (
    "With --judge: also refuse a negative whose MiniLM cosine to the query exceeds positive - r * |positive| "
    "(NV-Retriever: 0.05)."
)


DRIFT_FLOOR_HELP = (
    "With --judge: also refuse a rewrite whose MiniLM cosine to the query is below this floor (about something else "
    "altogether, not a near miss; 0.35 refuses 0.6% of the committed runs' rewrites, docs/generation.md)."
)
DRIFT_CEILING_HELP = (
    "With --judge: also refuse a rewrite whose MiniLM cosine to the query is above this ceiling (a synonym, a broader "
    "or a narrower term: the same question; 0.90, docs/generation.md)."
)
#: the verification options: the judge, its margin, the encoder's relative margin, the drift's similarity bounds
Verify = tuple[str | None, float, float | None, float | None, float | None]


def _check_strategy(strategy: str, mode: str, rewrite: str, verify: Verify) -> None:
    from synthneg.errors import SynthnegError
    from synthneg.generate.near_miss_rewrite import REWRITES

    if rewrite not in REWRITES:
        raise SynthnegError(f"--rewrite must be {' or '.join(map(repr, REWRITES))}, got {rewrite!r}")

    if strategy not in ("direct", "near-miss"):
        raise SynthnegError(f"--strategy must be 'direct' or 'near-miss', got {strategy!r}")
    if strategy == "near-miss" and mode != "query":
        raise SynthnegError("--strategy near-miss writes from the query alone: use it with --mode query")
    judge, _, *encoder_checks = verify
    for option, value in zip(("--relative-margin", "--drift-floor", "--drift-ceiling"), encoder_checks, strict=True):
        if value is not None and judge is None:
            raise SynthnegError(f"{option} verifies with MiniLM beside the judge: give --judge too")


def _summary(res: Any) -> None:
    d = res.ledger.to_dict()
    stderr_console().print(
        f"{d['stage']}: {d['accepted']}/{d['tasks']} accepted, {d['gave_up']} gave up; "
        f"{d['calls']} paid calls ({d['cached_calls']} reused), {d['prompt_tokens']} prompt + "
        f"{d['completion_tokens']} completion tokens in {d['wall_seconds']:.1f}s; failures {d['failures'] or 'none'}"
    )
    typer.echo(res.output)


@option_groups(llm=llm_options, run=run_options)
def queries(
    passages: Path = typer.Argument(..., help="Passages: .jsonl[.gz], .csv or .parquet."),
    out: Path = typer.Option(..., "--out", help="Output folder (queries.jsonl, rejects, cost ledger, call store)."),
    k: int = typer.Option(1, "--k", help="Queries per passage."),
    style: list[str] = typer.Option(
        ["question"], "--style", help="keyword, question, claim, title, or auto (from --examples); repeat to cycle."
    ),
    examples: Path | None = typer.Option(
        None, "--examples", help="Up to 8 example queries (.txt a line each, or .jsonl with query[, passage])."
    ),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N passages."),
    text_field: str | None = typer.Option(None, "--text-field"),
    id_field: str | None = typer.Option(None, "--id-field"),
    template: str | None = typer.Option(None, "--template", help="Prompt template file (default: built-in)."),
    max_tokens: int = typer.Option(64, "--max-tokens"),
    *,
    llm: LLMOptions,
    run: RunOptions,
) -> None:
    """Write LLM queries for passages (each passage is the positive of its queries)."""
    from synthneg.data import read_passages
    from synthneg.generate import generate_queries
    from synthneg.generate.examples import read_examples

    shown = read_examples(examples) if examples is not None else []
    corpus = read_passages(passages, text_field=text_field, id_field=id_field, limit=limit)
    with exclusive_folder(out), log_to_folder(out), llm.generator() as gen:
        res = generate_queries(
            list(corpus.documents),
            gen,
            out,
            k=k,
            styles=style,
            examples=shown,
            template=template,
            **run.stage_kwargs(max_tokens),
        )
    _summary(res)


@option_groups(llm=llm_options, run=run_options)
def negatives_llm(
    queries: Path = typer.Option(..., "--queries", help="Query records (queries.jsonl from `synthneg queries`)."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    mode: str = typer.Option("query", "--mode", help="query (from the query alone) or query+positive."),
    strategy: str = typer.Option(
        "direct",
        "--strategy",
        help="direct (one call: a negative for the query) or near-miss (two calls: a query about something "
        "different, then a passage answering it; --mode query only).",
    ),
    rewrite_model: str | None = typer.Option(
        None, "--rewrite-model", help="near-miss: the model of step 1 (the rewrite); default: --model."
    ),
    rewrite: str = typer.Option("free", "--rewrite", help=REWRITE_HELP),
    judge: str | None = typer.Option(None, "--judge", help=JUDGE_HELP),
    judge_margin: float = typer.Option(
        0.0, "--judge-margin", help="Refuse if judge(negative) >= judge(positive) - margin."
    ),
    relative_margin: float | None = typer.Option(
        None, "--relative-margin", min=0.0, max=1.0, help=RELATIVE_MARGIN_HELP
    ),
    drift_floor: float | None = typer.Option(None, "--drift-floor", min=-1.0, max=1.0, help=DRIFT_FLOOR_HELP),
    drift_ceiling: float | None = typer.Option(None, "--drift-ceiling", min=-1.0, max=1.0, help=DRIFT_CEILING_HELP),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N queries."),
    template: str | None = typer.Option(None, "--template", help="Prompt template file (default: built-in)."),
    max_tokens: int = typer.Option(256, "--max-tokens"),
    candidates: int = typer.Option(
        1, "--candidates", min=1, help="Candidates per query (each its own call); the first accepted is kept."
    ),
    *,
    llm: LLMOptions,
    run: RunOptions,
) -> None:
    """Write one LLM hard negative per query: no corpus, no BM25, no cross-encoder."""
    from contextlib import nullcontext

    from synthneg.data.triples import read_query_records
    from synthneg.generate import generate_negatives

    verify = (judge, judge_margin, relative_margin, drift_floor, drift_ceiling)
    _check_strategy(strategy, mode, rewrite, verify)
    records = read_query_records(queries)[:limit]
    with exclusive_folder(out), log_to_folder(out), llm.generator() as gen:
        if strategy == "near-miss":
            second = llm.generator(rewrite_model) if rewrite_model else nullcontext(gen)
            with second as rewriter:
                res = _near_miss(records, rewriter, gen, out, verify, candidates, run, max_tokens, rewrite)
            _summary(res)
            return
        res = generate_negatives(
            records, gen, out, mode=mode, template=template, candidates=candidates, **run.stage_kwargs(max_tokens)
        )
    _summary(res)


def register(app: typer.Typer) -> None:
    app.command("queries")(queries)
    neg_app = typer.Typer(help="Hard negatives for query records.", no_args_is_help=True)
    app.add_typer(neg_app, name="negatives")
    neg_app.command("llm")(negatives_llm)
