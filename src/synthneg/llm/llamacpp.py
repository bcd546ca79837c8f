"""The embedded back-end: llama-cpp-python over a local GGUF (an embedded model name or a path).

``parallel=1`` runs each request through ``Llama.create_chat_completion`` (exactly what a bare
llama-cpp-python user would call, so single-stream speed is the library's own). ``parallel>1``
decodes several sequences together with llama.cpp's batch API (see :mod:`synthneg.llm.llamacpp_batch`):
one ``llama_decode`` per step for all active sequences, which raises aggregate tokens/s on CPU.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from synthneg.errors import ModelError
from synthneg.llm.base import Generator, ResultCallback
from synthneg.llm.llamacpp_chat import chat_formatter
from synthneg.llm.llamacpp_load import available_cpus, load_llama
from synthneg.llm.registry import DEFAULT_LLM, EMBEDDED_LLMS, resolve_gguf
from synthneg.llm.types import ChatRequest, GenerationResult

logger = logging.getLogger(__name__)


def gguf_identity(name_or_path: str | None) -> str:
    """A stable model identity: the registry sha256 for embedded models, else size + sampled content hash."""
    name = name_or_path or DEFAULT_LLM
    if name in EMBEDDED_LLMS:
        return f"gguf:{EMBEDDED_LLMS[name].sha256}"
    path = Path(name).expanduser()
    size = path.stat().st_size
    h = hashlib.sha256()
    with path.open("rb") as fh:
        h.update(fh.read(1 << 23))
        fh.seek(max(0, size - (1 << 23)))
        h.update(fh.read(1 << 23))
    return f"gguf:{size}:{h.hexdigest()}"


def _import_llama() -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise ModelError(
            "the llamacpp back-end needs llama-cpp-python: pip install 'synthneg[llm]' "
            "(or use --backend openai with any OpenAI-compatible server)"
        ) from None
    return llama_cpp


class LlamaCppGenerator(Generator):
    """Generate with llama-cpp-python.

    Args:
        model: embedded model name or ``.gguf`` path (default ``qwen2.5-coder-0.5b``).
        parallel: sequences decoded together (1 = the plain high-level API).
        n_ctx: context per sequence (prompt + answer); 4096 holds 8 few-shot demonstrations and a passage.
        n_threads: CPU threads (default: the CPUs this process may run on, :func:`available_cpus`).
        reuse_prefix: how a single-stream call reuses earlier work. ``"fixed"`` (default): the
            part of the prompt before the last user message (system prompt + chat markup) is
            evaluated once on its own, snapshotted, and restored before every call that shares it;
            the state a call starts from is then always bit-identical, so a seeded call gives the
            same text whatever ran before it (a resumed run equals an uninterrupted one), and the
            shared prefix is not recomputed. ``"none"``: recompute every prompt. ``"any"``:
            llama-cpp-python's own longest-common-prefix reuse with the previous prompt (fastest
            for prompts that share more, but results may depend on call order).
        share_prefix: batched decoding (``parallel>1``) prefills a prompt prefix that several
            sequences share once and copies its KV cells to the others (the template's fixed
            text; the whole prompt for K samples of one request). ``False`` prefills every prompt
            in full (for comparison).
        verbose: llama.cpp's own logging.
        lazy: load the model on the first call that needs it, not here: a run whose every call is already
            in its store (a committed run replayed on a fresh clone) then never needs the model's packages.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        parallel: int = 1,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_batch: int = 512,
        reuse_prefix: Literal["fixed", "none", "any"] = "fixed",
        share_prefix: bool = True,
        verbose: bool = False,
        lazy: bool = False,
    ) -> None:
        if not lazy:  # a lazy generator needs llama-cpp-python only for a call its store lacks
            _import_llama()
        self.model_name = model or DEFAULT_LLM
        self.model_id = gguf_identity(self.model_name)
        self.parallel = max(1, int(parallel))
        self.n_ctx = n_ctx
        self.n_threads = n_threads or available_cpus()
        self.reuse_prefix = reuse_prefix
        self.share_prefix = share_prefix
        self.n_batch = n_batch
        self.verbose = verbose
        self._path: Path | None = None
        self._llm: Any = None
        self._batcher: Any = None
        self._formatter: Any = None
        self._prefix_states: dict[tuple[int, ...], Any] = {}
        if not lazy:
            self._load()

    @property
    def path(self) -> Path:
        """The GGUF file (an embedded model is assembled from its packages on first use)."""
        if self._path is None:
            self._path = resolve_gguf(self.model_name)
        return self._path

    @property
    def llm(self) -> Any:
        """The llama.cpp model, loaded on first use (at construction unless ``lazy``)."""
        return self._load()

    def _load(self) -> Any:
        if self._llm is None:
            _import_llama()
            logger.info("loading %s (%s), parallel=%d", self.model_name, self.path, self.parallel)
            try:
                self._llm = load_llama(
                    self.path,
                    n_ctx=self.n_ctx,
                    n_batch=self.n_batch,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads,
                    verbose=self.verbose,
                )
            except ValueError as exc:
                raise ModelError(f"llama.cpp could not load {self.path}: {exc}") from None
        return self._llm

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "llamacpp",
            "model": self.model_name if self.model_name in EMBEDDED_LLMS else self.path.name,
            "model_id": self.model_id,
            "parallel": self.parallel,
        }

    def _fixed_prefix(self, req: ChatRequest) -> tuple[int, ...]:
        """Tokens of the rendered prompt before the last message's content (empty if not a clean prefix)."""
        if self._formatter is None:
            self._formatter = chat_formatter(self.llm)
        fmt = self._formatter(messages=req.messages_as_dicts())
        pos = fmt.prompt.rfind(req.messages[-1].content) if req.messages[-1].content else -1
        if pos <= 0:
            return ()
        add_bos = not fmt.added_special
        full = self.llm.tokenize(fmt.prompt.encode("utf-8"), add_bos=add_bos, special=True)
        pre = self.llm.tokenize(fmt.prompt[:pos].encode("utf-8"), add_bos=add_bos, special=True)
        while pre and full[: len(pre)] != pre:  # a token merged across the boundary: back off
            pre = pre[:-1]
        return tuple(pre[: len(full) - 1])

    def _restore_prefix(self, req: ChatRequest) -> None:
        prefix = self._fixed_prefix(req)
        self.llm.reset()
        if len(prefix) < 2:
            return
        state = self._prefix_states.get(prefix)
        if state is None:
            self.llm.eval(list(prefix))
            state = self.llm.save_state()
            if len(self._prefix_states) >= 8:
                self._prefix_states.pop(next(iter(self._prefix_states)))
            self._prefix_states[prefix] = state
        else:
            self.llm.load_state(state)

    def _one(self, req: ChatRequest) -> GenerationResult:
        s = req.sampling
        t0 = time.perf_counter()
        if self.reuse_prefix == "fixed":
            self._restore_prefix(req)
        elif self.reuse_prefix == "none":
            self.llm.reset()
        # every sampling field by its llama-cpp-python name (min_p 0 explicitly: it would add its own 0.05)
        resp = self.llm.create_chat_completion(messages=req.messages_as_dicts(), **s.to_dict())
        latency = time.perf_counter() - t0
        choice = resp["choices"][0]
        usage = resp.get("usage") or {}
        return GenerationResult(
            text=choice["message"]["content"] or "",
            finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            latency_s=latency,
            raw=dict(resp),
        )

    def generate(
        self, requests: Sequence[ChatRequest], on_result: ResultCallback | None = None
    ) -> list[GenerationResult]:
        if self.parallel > 1 and len(requests) > 1:
            if self._batcher is None:
                from synthneg.llm.llamacpp_batch import BatchedDecoder

                self._batcher = BatchedDecoder(
                    self.llm,
                    self.parallel,
                    self.n_ctx,
                    self.n_threads,
                    n_batch=self.n_batch,
                    share_prefix=self.share_prefix,
                )
            return self._batcher.run(requests, on_result)
        out: list[GenerationResult] = []
        for i, req in enumerate(requests):
            res = self._one(req)
            out.append(res)
            if on_result is not None:
                on_result(i, res)
        return out

    @property
    def prompt_tokens_batched(self) -> tuple[int, int]:
        """Prompt tokens the batched path has prefilled, and taken from a shared prefix instead (0, 0 before it ran)."""
        if self._batcher is None:
            return 0, 0
        return self._batcher.prefilled_tokens, self._batcher.shared_tokens

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
            self._batcher = None
        if self._llm is not None:
            self._llm.close()
            self._llm = None
