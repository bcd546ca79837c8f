"""Option groups shared by the commands: the LLM back-end, the mining selection, the passage collection.

A command declares its parameters with these (so that ``--parallel`` or ``--relative-margin`` mean the same thing
everywhere, with one help text), and builds the library's objects from them with the functions here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from synthneg.data.beir import Corpus
    from synthneg.mine.filters import SelectionConfig

# -- the LLM back-end (queries, negatives llm) ------------------------------------------------------------------

OPT_BACKEND = typer.Option(
    "llamacpp", "--backend", help="llamacpp (embedded GGUF), openai (any compatible server), transformers."
)
OPT_MODEL = typer.Option(
    None, "--model", help="Embedded name (qwen2.5-coder-0.5b, qwen2.5-coder-1.5b), .gguf path, or server/HF model name."
)
OPT_BASE_URL = typer.Option("http://127.0.0.1:8000/v1", "--base-url", help="openai back-end: server URL.")
OPT_KEY_ENV = typer.Option(
    "OPENAI_API_KEY", "--api-key-env", help="openai back-end: env var holding the key (never logged)."
)
OPT_CONC = typer.Option(8, "--concurrency", help="openai back-end: requests in flight.")
OPT_TIMEOUT = typer.Option(120.0, "--timeout", help="openai back-end: seconds per attempt.")
OPT_PARALLEL = typer.Option(
    8,
    "--parallel",
    help="llamacpp: sequences decoded together (shared prompt prefixes prefilled once); "
    "1 = the single stream, for byte-identical replay after a crash.",
)
OPT_SEED = typer.Option(0, "--seed", help="Base seed; each call's seed derives from it, the item and the attempt.")
OPT_ATTEMPTS = typer.Option(3, "--max-attempts", help="Tries per item (a new seed each) before giving up.")
OPT_FORCE = typer.Option(False, "--force", help="Regenerate every call instead of reusing the call store.")
OPT_TEMP = typer.Option(0.6, "--temperature")
OPT_TOP_P = typer.Option(0.95, "--top-p")
OPT_TOP_K = typer.Option(20, "--top-k")
OPT_PROGRESS = typer.Option(True, "--progress/--no-progress", help="Show the progress bar.")


def make_cli_generator(backend: str, model: str | None, **opts: Any) -> Any:
    from synthneg.llm import make_generator

    if backend == "llamacpp":
        return make_generator("llamacpp", model, parallel=opts["parallel"])
    if backend == "openai":
        return make_generator(
            "openai",
            model,
            base_url=opts["base_url"],
            api_key_env=opts["api_key_env"],
            concurrency=opts["concurrency"],
            timeout=opts["timeout"],
        )
    return make_generator(backend, model)  # type: ignore[arg-type]


# -- mining: query records, the collection, the output, the selection window and margins -----------------------

Queries = Annotated[Path, typer.Option("--queries", "-q", help="JSONL of query_id, query, positive_id, positive.")]
CorpusOpt = Annotated[
    str, typer.Option("--corpus", "-c", help="Passage file (JSONL/CSV/Parquet), BEIR folder, or BEIR dataset name.")
]
Out = Annotated[Path, typer.Option("--out", "-o", help="Triples file (.jsonl[.gz] or .parquet).")]
TextField = Annotated[str | None, typer.Option(help="Text field of the passage file (default: auto).")]
IdField = Annotated[str | None, typer.Option(help="Id field of the passage file (default: auto).")]
NumNeg = Annotated[int, typer.Option("--num-negatives", "-n", help="Negatives per query record.")]
RangeMin = Annotated[int, typer.Option(help="Skip the first RANGE_MIN non-positive candidates.")]
RangeMax = Annotated[int | None, typer.Option(help="Consider candidates with rank < RANGE_MAX (default: 30).")]
AbsMargin = Annotated[float | None, typer.Option(help="Keep a candidate only if score <= positive score - margin.")]
RelMargin = Annotated[
    float | None, typer.Option(help="Keep a candidate only if score <= positive score - margin * |positive score|.")
]
MaxScore = Annotated[float | None, typer.Option(help="Drop candidates scoring above this.")]
MinScore = Annotated[float | None, typer.Option(help="Drop candidates scoring below this.")]
Sampling = Annotated[str, typer.Option(help="'top' (best first) or 'random' (uniform within the window).")]
Seed = Annotated[int, typer.Option(help="Seed for random sampling (per query: seed + query id).")]


def selection_config(
    num_negatives: int,
    range_min: int,
    range_max: int | None,
    absolute_margin: float | None,
    relative_margin: float | None,
    max_score: float | None,
    min_score: float | None,
    sampling: str,
    seed: int,
) -> SelectionConfig:
    from synthneg.mine.filters import SelectionConfig

    return SelectionConfig(
        num_negatives=num_negatives,
        range_min=range_min,
        range_max=range_max,
        absolute_margin=absolute_margin,
        relative_margin=relative_margin,
        max_score=max_score,
        min_score=min_score,
        sampling=sampling,  # type: ignore[arg-type]  # validated by SelectionConfig
        seed=seed,
    )


def load_corpus_spec(spec: str, id_field: str | None = None, text_field: str | None = None) -> Corpus:
    """A passage file, a BEIR folder (``corpus.jsonl[.gz]`` inside) or a BEIR dataset name."""
    from synthneg.data import load_corpus, read_passages, resolve_dataset

    path = Path(spec)
    if path.is_file():
        return read_passages(path, id_field=id_field, text_field=text_field)
    folder = path if path.is_dir() else resolve_dataset(spec)
    for name in ("corpus.jsonl", "corpus.jsonl.gz"):
        if (folder / name).is_file():
            return load_corpus(folder / name)
    from synthneg.errors import DataError

    raise DataError("no corpus.jsonl[.gz] in this folder", path=folder)
