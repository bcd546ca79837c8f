"""The embedded back-end: llama-cpp-python over a local GGUF (an embedded model name or a path).

``parallel=1`` runs each request through ``Llama.create_chat_completion`` (exactly what a bare
llama-cpp-python user would call, so single-stream speed is the library's own). ``parallel>1``
decodes several sequences together with llama.cpp's batch API (see :mod:`synthneg.llm.llamacpp_batch`):
one ``llama_decode`` per step for all active sequences, which raises aggregate tokens/s on CPU.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from synthneg.errors import ModelError
from synthneg.llm.base import Generator, ResultCallback
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
        n_ctx: context per sequence (prompt + answer).
        n_threads: CPU threads (default: all cores ``os.cpu_count()``).
        reuse_prefix: keep the KV cache of the previous prompt's common prefix (llama-cpp-python's
            default). Off by default: recomputing the whole prompt makes a seeded call give the same
            text whatever ran before it, so a resumed run equals an uninterrupted one.
        verbose: llama.cpp's own logging.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        parallel: int = 1,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        n_batch: int = 512,
        reuse_prefix: bool = False,
        verbose: bool = False,
    ) -> None:
        llama_cpp = _import_llama()
        self.model_name = model or DEFAULT_LLM
        self.path = resolve_gguf(self.model_name)
        self.model_id = gguf_identity(self.model_name)
        self.parallel = max(1, int(parallel))
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.reuse_prefix = reuse_prefix
        logger.info("loading %s (%s), parallel=%d", self.model_name, self.path, self.parallel)
        try:
            self.llm = llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=n_ctx,
                n_batch=n_batch,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                verbose=verbose,
            )
        except ValueError as exc:
            raise ModelError(f"llama.cpp could not load {self.path}: {exc}") from None
        self._batcher: Any = None

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "llamacpp",
            "model": self.model_name if self.model_name in EMBEDDED_LLMS else self.path.name,
            "model_id": self.model_id,
            "parallel": self.parallel,
        }

    def _one(self, req: ChatRequest) -> GenerationResult:
        s = req.sampling
        t0 = time.perf_counter()
        if not self.reuse_prefix:
            self.llm.reset()
        resp = self.llm.create_chat_completion(
            messages=req.messages_as_dicts(),
            temperature=s.temperature,
            top_p=s.top_p,
            top_k=s.top_k,
            min_p=s.min_p,
            max_tokens=s.max_tokens,
            seed=s.seed,
        )
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

                self._batcher = BatchedDecoder(self.llm, self.parallel, self.n_ctx, self.n_threads)
            return self._batcher.run(requests, on_result)
        out: list[GenerationResult] = []
        for i, req in enumerate(requests):
            res = self._one(req)
            out.append(res)
            if on_result is not None:
                on_result(i, res)
        return out

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
            self._batcher = None
        llm = getattr(self, "llm", None)
        if llm is not None:
            llm.close()
            self.llm = None
