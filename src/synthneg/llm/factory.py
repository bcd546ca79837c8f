"""The factory that picks an LLM back-end by name: local GGUF (llama.cpp), an OpenAI-compatible server, or
Hugging Face transformers. Back-ends are imported on first use, so a missing optional dependency only matters
to the back-end that needs it."""

from __future__ import annotations

from typing import Any

from synthneg.errors import SynthnegError
from synthneg.llm.base import Backend, Generator


def make_generator(
    backend: Backend = "llamacpp",
    model: str | None = None,
    **options: Any,
) -> Generator:
    """Create a generator.

    - ``llamacpp``: ``model`` is an embedded name (``qwen2.5-coder-0.5b`` default, ``qwen2.5-coder-1.5b``)
      or a ``.gguf`` path; options: ``parallel`` (sequences decoded together), ``n_ctx``, ``n_threads``.
    - ``openai``: ``model`` is the server's model name; options: ``base_url``, ``api_key_env``,
      ``concurrency``, ``timeout``, ``max_retries``.
    - ``transformers``: ``model`` is a Hugging Face name or local folder; options: ``device``, ``batch_size``.
    """
    if backend == "llamacpp":
        from synthneg.llm.llamacpp import LlamaCppGenerator

        return LlamaCppGenerator(model, **options)
    if backend == "openai":
        from synthneg.llm.openai_compat import OpenAIGenerator

        if not model:
            raise SynthnegError("the openai back-end needs a model name (--model), as the server knows it")
        return OpenAIGenerator(model, **options)
    if backend == "transformers":
        from synthneg.llm.hf import TransformersGenerator

        if not model:
            raise SynthnegError("the transformers back-end needs a model name or folder (--model)")
        return TransformersGenerator(model, **options)
    raise SynthnegError(f"unknown back-end {backend!r}: use llamacpp, openai or transformers")
