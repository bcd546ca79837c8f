"""Option groups shared by the commands: the LLM back-end, the generation run, the mining selection, the passages.

A group is a function whose parameters are the group's options (one declaration and one help text each, so that
``--parallel`` or ``--relative-margin`` mean the same thing everywhere) and whose result is the library object
they configure. A command names the groups it takes with :func:`option_groups` and receives that object:

>>> @app.command("bm25")                                                        # doctest: +SKIP
... @option_groups(selection=selection_options)
... def bm25_command(queries: Queries, corpus: CorpusOpt, out: Out, selection: SelectionConfig) -> None: ...

The command line then shows the group's options after the command's own (``--num-negatives``, ``--range-max``, ...).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from synthneg.data.beir import Corpus
    from synthneg.llm.base import Generator
    from synthneg.llm.types import SamplingParams
    from synthneg.mine.filters import SelectionConfig

F = TypeVar("F", bound=Callable[..., Any])


def option_groups(defaults: dict[str, Any] | None = None, **groups: Callable[..., Any]) -> Callable[[F], F]:
    """Give a command the options of each group; the command's parameter named like the group receives the
    group function's result. ``defaults`` overrides a group option's default for this command."""
    defaults = defaults or {}

    def decorate(func: F) -> F:
        sig = inspect.signature(func)
        own = _parameters(func, skip=set(groups))  # a group's own type may exist only for type checkers
        members: dict[str, list[str]] = {}
        extra: list[inspect.Parameter] = []
        for arg, build in groups.items():
            params = _parameters(build)
            members[arg] = [p.name for p in params]
            extra += [
                p.replace(kind=inspect.Parameter.KEYWORD_ONLY, default=defaults.get(p.name, p.default)) for p in params
            ]
        names = [p.name for p in own + extra]
        clash = sorted({n for n in names if names.count(n) > 1})
        if clash:
            raise TypeError(f"option_groups: option(s) {', '.join(clash)} declared twice")
        unknown = set(defaults) - {p.name for p in extra}
        if unknown:
            raise TypeError(f"option_groups: no group option named {', '.join(sorted(unknown))}")

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            for arg, build in groups.items():
                kwargs[arg] = build(**{name: kwargs.pop(name) for name in members[arg]})
            return func(**kwargs)

        params = own + extra
        command.__signature__ = sig.replace(parameters=params, return_annotation=None)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
        return command  # type: ignore[return-value]

    return decorate


def _parameters(func: Callable[..., Any], skip: frozenset[str] | set[str] = frozenset()) -> list[inspect.Parameter]:
    """``func``'s parameters but ``skip``, their annotations evaluated (typer reads ``Annotated`` options from them);
    the skipped ones and the return type may name classes imported for type checkers only."""
    return [
        p.replace(annotation=eval(p.annotation, func.__globals__) if isinstance(p.annotation, str) else p.annotation)
        for name, p in inspect.signature(func).parameters.items()
        if name not in skip
    ]


# -- the LLM back-end (queries, negatives llm) ------------------------------------------------------------------


@dataclass(frozen=True)
class LLMOptions:
    """Which LLM writes, and how to reach it (``--backend``, ``--model`` and the back-end's own options)."""

    backend: str
    model: str | None
    base_url: str
    api_key_env: str
    concurrency: int
    timeout: float
    parallel: int

    def generator(self, model: str | None = None) -> Generator:
        """Open the back-end on ``model`` (default: ``--model``)."""
        from synthneg.llm import make_generator

        name = model if model is not None else self.model
        if self.backend == "llamacpp":
            return make_generator("llamacpp", name, parallel=self.parallel)
        if self.backend == "openai":
            return make_generator(
                "openai",
                name,
                base_url=self.base_url,
                api_key_env=self.api_key_env,
                concurrency=self.concurrency,
                timeout=self.timeout,
            )
        return make_generator(self.backend, name)  # type: ignore[arg-type]  # make_generator names the valid ones


def llm_options(
    backend: Annotated[
        str, typer.Option("--backend", help="llamacpp (embedded GGUF), openai (any compatible server), transformers.")
    ] = "llamacpp",
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Embedded name (qwen2.5-coder-0.5b, qwen2.5-coder-1.5b), .gguf path, or server/HF model name.",
        ),
    ] = None,
    base_url: Annotated[
        str, typer.Option("--base-url", help="openai back-end: server URL.")
    ] = "http://127.0.0.1:8000/v1",
    api_key_env: Annotated[
        str, typer.Option("--api-key-env", help="openai back-end: env var holding the key (never logged).")
    ] = "OPENAI_API_KEY",
    concurrency: Annotated[int, typer.Option("--concurrency", help="openai back-end: requests in flight.")] = 8,
    timeout: Annotated[float, typer.Option("--timeout", help="openai back-end: seconds per attempt.")] = 120.0,
    parallel: Annotated[
        int,
        typer.Option(
            "--parallel",
            help="llamacpp: sequences decoded together (shared prompt prefixes prefilled once); "
            "1 = the single stream, for byte-identical replay after a crash.",
        ),
    ] = 8,
) -> LLMOptions:
    """The LLM back-end group."""
    return LLMOptions(backend, model, base_url, api_key_env, concurrency, timeout, parallel)


@dataclass(frozen=True)
class RunOptions:
    """How a generation stage samples, retries and reports (``--seed``, ``--temperature``, ``--force``, ...)."""

    seed: int
    max_attempts: int
    force: bool
    temperature: float
    top_p: float
    top_k: int
    progress: bool

    def sampling(self, max_tokens: int) -> SamplingParams:
        from synthneg.llm import SamplingParams

        return SamplingParams(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k, max_tokens=max_tokens)

    def stage_kwargs(self, max_tokens: int) -> dict[str, Any]:
        """The keyword arguments every generation stage takes (``generate_queries``, ``generate_negatives``)."""
        return {
            "sampling": self.sampling(max_tokens),
            "max_attempts": self.max_attempts,
            "seed": self.seed,
            "force": self.force,
            "show_progress": self.progress,
        }


def run_options(
    seed: Annotated[
        int, typer.Option("--seed", help="Base seed; each call's seed derives from it, the item and the attempt.")
    ] = 0,
    max_attempts: Annotated[
        int, typer.Option("--max-attempts", help="Tries per item (a new seed each) before giving up.")
    ] = 3,
    force: Annotated[
        bool, typer.Option("--force", help="Regenerate every call instead of reusing the call store.")
    ] = False,
    temperature: Annotated[float, typer.Option("--temperature")] = 0.6,
    top_p: Annotated[float, typer.Option("--top-p")] = 0.95,
    top_k: Annotated[int, typer.Option("--top-k")] = 20,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show the progress bar.")] = True,
) -> RunOptions:
    """The generation run group."""
    return RunOptions(seed, max_attempts, force, temperature, top_p, top_k, progress)


# -- the bi-encoder (evaluate, mine dense) ------------------------------------------------------------------------


@dataclass(frozen=True)
class EncoderOptions:
    """How a bi-encoder encodes and searches (prefixes, batch, precision, torch or OpenVINO, cache, exact or FAISS)."""

    query_prefix: str
    passage_prefix: str
    batch_size: int
    precision: str
    encoder: str
    cache: bool
    backend: str


def encoder_options(
    query_prefix: Annotated[str, typer.Option(help="Prepended to queries (E5: 'query: ').")] = "",
    passage_prefix: Annotated[str, typer.Option(help="Prepended to passages (E5: 'passage: ').")] = "",
    batch_size: Annotated[int, typer.Option(help="Encoding batch size.")] = 64,
    precision: Annotated[
        str, typer.Option(help="'fp32' or 'bf16' (bfloat16 autocast: faster on CPUs with AVX512-BF16/AMX).")
    ] = "fp32",
    encoder: Annotated[
        str,
        typer.Option(
            "--encoder",
            help="'torch' (sentence-transformers) or 'openvino' (the same weights without torch: about half "
            "the memory; converted once and cached; pip install 'synthneg[openvino]').",
        ),
    ] = "torch",
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not read or write the corpus embedding cache.")
    ] = False,
    backend: Annotated[str, typer.Option(help="Search: 'exact' (chunked matrix product) or 'faiss'.")] = "exact",
) -> EncoderOptions:
    """The bi-encoder group."""
    from synthneg.errors import SynthnegError
    from synthneg.search.dense import ENCODER_BACKENDS, PRECISIONS

    if backend not in ("exact", "faiss"):
        raise SynthnegError(f"--backend must be 'exact' or 'faiss', got {backend!r}")
    if precision not in PRECISIONS:
        raise SynthnegError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if encoder not in ENCODER_BACKENDS:
        raise SynthnegError(f"--encoder must be one of {', '.join(ENCODER_BACKENDS)}, got {encoder!r}")
    return EncoderOptions(query_prefix, passage_prefix, batch_size, precision, encoder, not no_cache, backend)


# -- mining: query records, the collection, the output, the selection window and margins -----------------------

Queries = Annotated[Path, typer.Option("--queries", "-q", help="JSONL of query_id, query, positive_id, positive.")]
CorpusOpt = Annotated[
    str, typer.Option("--corpus", "-c", help="Passage file (JSONL/CSV/Parquet), BEIR folder, or BEIR dataset name.")
]
Out = Annotated[Path, typer.Option("--out", "-o", help="Triples file (.jsonl[.gz] or .parquet).")]
TextField = Annotated[str | None, typer.Option(help="Text field of the passage file (default: auto).")]
IdField = Annotated[str | None, typer.Option(help="Id field of the passage file (default: auto).")]


def selection_options(
    num_negatives: Annotated[int, typer.Option("--num-negatives", "-n", help="Negatives per query record.")] = 1,
    range_min: Annotated[int, typer.Option(help="Skip the first RANGE_MIN non-positive candidates.")] = 0,
    range_max: Annotated[
        int | None, typer.Option(help="Consider candidates with rank < RANGE_MAX (default: 30).")
    ] = None,
    absolute_margin: Annotated[
        float | None, typer.Option(help="Keep a candidate only if score <= positive score - margin.")
    ] = None,
    relative_margin: Annotated[
        float | None,
        typer.Option(help="Keep a candidate only if score <= positive score - margin * |positive score|."),
    ] = None,
    max_score: Annotated[float | None, typer.Option(help="Drop candidates scoring above this.")] = None,
    min_score: Annotated[float | None, typer.Option(help="Drop candidates scoring below this.")] = None,
    sampling: Annotated[str, typer.Option(help="'top' (best first) or 'random' (uniform within the window).")] = "top",
    seed: Annotated[int, typer.Option(help="Seed for random sampling (per query: seed + query id).")] = 0,
) -> SelectionConfig:
    """The mining selection group: which candidates may become negatives (synthneg.mine.filters)."""
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
    from synthneg.data import read_passages, resolve_dataset
    from synthneg.data.beir import load_folder_corpus

    path = Path(spec)
    if path.is_file():
        return read_passages(path, id_field=id_field, text_field=text_field)
    return load_folder_corpus(path if path.is_dir() else resolve_dataset(spec))
